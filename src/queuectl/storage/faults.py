"""What a store's error means, in plain words: a bad request, or an outage.

Every driver error a store meets is mapped here, one function per dialect, so that the CLI,
the worker and the dashboard only ever see queuectl's errors:
- a request the store refuses (a value it cannot hold, or one its driver will not send,
  such as a NUL character in a text on PostgreSQL): InvalidValue;
- a constraint the caller checks for (a duplicate id): the driver's error, as it is;
- anything else is an outage, StoreUnavailable: the store cannot be reached, read or
  written right now (disk full, I/O error, read-only, locked past the busy timeout,
  connection lost, server shutting down...). A worker keeps its job through an outage and
  records the job's end when the store writes again; a command says what is wrong.
Nothing here imports a driver: errors are told apart by their codes.
"""

from __future__ import annotations

import os
import sqlite3

from queuectl.errors import InvalidValue, StoreUnavailable

DISK_FULL = "the store's disk is full"
# An I/O error writing to a disk with less free space than this is the disk being full:
# SQLite reports a full disk as an I/O error when it meets it growing its shared memory.
LOW_SPACE = 1 << 20  # bytes

LOCKED = "the store is locked by another process"
SQLITE_OUTAGES = {
    sqlite3.SQLITE_FULL: DISK_FULL,
    sqlite3.SQLITE_IOERR: "the store's file cannot be read or written (I/O error)",
    sqlite3.SQLITE_READONLY: "the store is read-only",
    sqlite3.SQLITE_CANTOPEN: "the store's file cannot be opened",
    sqlite3.SQLITE_PERM: "permission denied on the store's file",
    sqlite3.SQLITE_AUTH: "permission denied on the store's file",
    sqlite3.SQLITE_BUSY: LOCKED,
    sqlite3.SQLITE_LOCKED: LOCKED,
    sqlite3.SQLITE_PROTOCOL: LOCKED,
    sqlite3.SQLITE_NOMEM: "out of memory",
    sqlite3.SQLITE_CORRUPT: "the store's file is damaged",
    sqlite3.SQLITE_NOTADB: "the file is not a database",
    sqlite3.SQLITE_NOLFS: "the store's file system cannot hold a file this big",
    sqlite3.SQLITE_INTERRUPT: "the store's statement was interrupted",
}
SQLITE_BAD_REQUESTS = {
    sqlite3.SQLITE_TOOBIG: "a value is too big for the store",
    sqlite3.SQLITE_MISMATCH: "a value has the wrong type for the store",
    sqlite3.SQLITE_RANGE: "a value is out of the store's range",
}

PG_OUTAGES = {
    "53100": DISK_FULL,
    "25006": "the store is read-only",
    "57P01": "the store's server ended the connection (a shutdown, or an administrator)",
    "57P02": "the store's server ended the connection (it is restarting after a crash)",
    "57P03": "the store's server is not accepting connections yet",
    "57014": "the store's server cancelled the statement",
    "53200": "the store's server is out of memory",
    "53300": "the store's server has too many connections",
    "42501": "the store's database user lacks a permission",
    "42P01": "the store's tables are missing",
    "3D000": "the store's database does not exist",
}
PG_OUTAGE_CLASSES = {  # by the first two characters of the SQLSTATE
    "08": "the connection to the store was lost",
    "40": "the store's server gave up a transaction that met another one",
    "53": "the store's server is out of resources",
    "55": LOCKED,
    "57": "the store's server stopped the statement",
    "58": "the store's server cannot read or write its files (I/O error)",
    "XX": "the store's server failed",
}
CONNECTION_LOST = "the connection to the store was lost"  # no SQLSTATE: the client saw it


def sqlite_fault(exc: sqlite3.Error, path: str) -> Exception:
    """The error that ``exc``, met on the SQLite store at ``path``, stands for."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF  # the extended code's low byte
    if isinstance(exc, sqlite3.IntegrityError) or primary == sqlite3.SQLITE_CONSTRAINT:
        return exc
    if primary in SQLITE_BAD_REQUESTS:
        return InvalidValue(SQLITE_BAD_REQUESTS[primary])
    if isinstance(exc, sqlite3.DataError):
        return InvalidValue(f"a value the store cannot hold ({exc})")
    meaning = SQLITE_OUTAGES.get(primary) if primary is not None else None
    if primary == sqlite3.SQLITE_IOERR and _low_on_space(path):
        meaning = DISK_FULL
    return StoreUnavailable(f"{meaning or f'the store failed ({exc})'} ({path})")


def _low_on_space(path: str) -> bool:
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE


def postgres_fault(exc: Exception, where: str, detail: str) -> Exception:
    """The error that ``exc`` (a psycopg error), met on the store ``where`` (a redacted
    URL), stands for; ``detail`` is the driver's text, passwords already removed."""
    state: str = getattr(exc, "sqlstate", None) or ""
    if state.startswith("23"):
        return exc
    if state.startswith("22") or (not state and _is_data_error(exc)):
        return InvalidValue(detail)
    meaning = PG_OUTAGES.get(state) or PG_OUTAGE_CLASSES.get(state[:2])
    if not state:
        meaning = CONNECTION_LOST
    return StoreUnavailable(f"{meaning or 'the store refused a statement'} ({where}: {detail})")


def _is_data_error(exc: Exception) -> bool:
    """A value the driver itself refused to send (psycopg's DataError: a NUL character in
    a text, a number out of its type's range): bad input that never reached the server,
    so the connection is fine. Told apart by the class's name: no driver import here."""
    return any(cls.__name__ == "DataError" for cls in type(exc).__mro__)


def meaning(exc: BaseException) -> str | None:
    """What a driver error that reached the user unmapped means, in plain words (None: not
    a driver error). Only the words, never the driver's text, which may hold a URL."""
    module = type(exc).__module__
    if module.startswith("sqlite3") and isinstance(exc, sqlite3.Error):
        fault = sqlite_fault(exc, "")
    elif module.startswith("psycopg"):
        fault = postgres_fault(exc, "", "")  # type: ignore[arg-type]
    else:
        return None
    if isinstance(fault, StoreUnavailable):
        return str(fault).split(" (", 1)[0]
    return "the store refused a value"
