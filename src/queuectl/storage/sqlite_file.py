"""Opening the SQLite store's file: its permissions, pragmas and migrations, and taking
the write lock. The store itself (storage/sqlite.py) only runs statements."""

from __future__ import annotations

import errno
import os
import sqlite3
import time

from queuectl.errors import StoreUnavailable
from queuectl.settings import make_private_dirs
from queuectl.storage.sql import migrations

BUSY_TIMEOUT = 60.0  # seconds a writer waits for the lock before giving up
LOCK_POLL_MIN = 0.00002  # seconds: first pause when another writer holds the lock
LOCK_POLL_MAX = 0.002  # seconds: longest pause between tries for the lock
BUSY_TIMEOUT_ON = f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}"
BUSY_TIMEOUT_OFF = "PRAGMA busy_timeout = 0"
# Pages in the WAL before the committing connection checkpoints it itself. SQLite's 1,000
# made a worker stall on the checkpoint's fsyncs every hundred or so `true` jobs (a good
# part of the wall time of 2 workers draining a backlog: bench/RESULTS.md). The pool's
# supervisor checkpoints instead, about every 1,000 pages and at most 4 times a second
# (pool/checkpointer.py); this stays as the safety net for a store written with no
# supervisor running, high enough that 2 busy workers do not reach it between two of the
# supervisor's checkpoints (a quarter second's writes).
WAL_AUTOCHECKPOINT = 10_000  # pages (4 KiB: 40 MiB)
# A WAL that grew past this is cut back to it when it restarts after a checkpoint.
WAL_SIZE_LIMIT = 16 << 20  # bytes


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Take the write lock, waiting for another writer in steps of tens of microseconds.

    SQLite's own busy handler sleeps 1 ms, then 2, 5, 10 ms...: with two workers each
    holding the lock a small fraction of a millisecond per transaction, that first
    millisecond cost a good part of a `true` job whenever they met (bench/RESULTS.md). So
    the lock is tried with SQLite's
    wait off (the caller's busy timeout is 0), and reads turn it back on. Raises the
    driver's error (the caller words it) when the lock is still taken after BUSY_TIMEOUT.
    """
    deadline = 0.0
    pause = LOCK_POLL_MIN
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            now = time.monotonic()
            deadline = deadline or now + BUSY_TIMEOUT
            if not _is_busy(exc) or now > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, LOCK_POLL_MAX)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF == sqlite3.SQLITE_BUSY


def open_file(path: str, durable: bool) -> tuple[sqlite3.Connection, bool]:
    """The connection, and whether the file is in WAL mode (it may not be, on a file
    system without shared memory)."""
    try:
        _ensure_private_file(path)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}")
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        # A job cancelled by a trigger fires the triggers of its own dependents in turn
        # (dependencies by outcome: migrations/0021).
        conn.execute("PRAGMA recursive_triggers = ON")
        _migrate(conn, path)
        wal = conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    except sqlite3.Error as exc:
        raise _opening_fault(_fault(exc, path), path) from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            from queuectl.storage.faults import DISK_FULL

            raise StoreUnavailable(f"{DISK_FULL} ({path})") from None
        raise StoreUnavailable(f"cannot open store {path}: {exc.strerror or exc}") from None
    return conn, wal


def _fault(exc: sqlite3.Error, path: str) -> Exception:
    from queuectl.storage.faults import sqlite_fault  # only a failure needs it

    return sqlite_fault(exc, path)


def _opening_fault(fault: Exception, path: str) -> Exception:
    """Opening asks nothing of the user's: whatever fails is the store's."""
    if isinstance(fault, StoreUnavailable):
        return fault
    return StoreUnavailable(f"cannot open store {path}: {fault}")


def _ensure_private_file(path: str) -> None:
    """Create the folders (0700) and the file (0600) ourselves: SQLite would use the umask,
    and commands and their output may hold secrets. WAL/SHM files copy the file's mode."""
    folder = os.path.dirname(path) or "."
    make_private_dirs(folder)
    if os.path.isdir(path):
        raise OSError(21, "is a directory")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Never open and close a file that may be open already: POSIX locks belong to the
        # process, and closing any descriptor of the file drops them all, those of the
        # SQLite connections this process has open on it included.
        if not os.access(path, os.R_OK | os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES)) from None
        return
    os.close(fd)  # a file made just now: no connection can hold a lock on it yet


# Bytes a file: URI path keeps as they are (RFC 3986's unreserved ones, and "/").
_URI_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")


def file_uri(path: str) -> str:
    """``file://`` URI of ``path`` (made absolute, not resolved), every other byte
    percent-encoded: what pathlib's ``as_uri`` gives, without importing pathlib and
    urllib, which would cost every command that opens a store more than this does."""
    absolute = os.fsencode(os.path.join(os.getcwd(), path))
    # As pathlib: empty and "." parts dropped, ".." kept (the file system resolves it).
    absolute = b"/" + b"/".join(p for p in absolute.split(b"/") if p not in (b"", b"."))
    return "file://" + "".join(chr(b) if b in _URI_SAFE else f"%{b:02X}" for b in absolute)


def schema_version(path: str) -> int:
    """The schema version of the file at ``path`` now (0: no file, or no schema yet),
    opened read-only: nothing is created or changed. Raises StoreUnavailable when the
    file cannot be read as a database."""
    if not os.path.exists(path):
        return 0
    try:
        conn = sqlite3.connect(f"{file_uri(path)}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _opening_fault(_fault(exc, path), path) from None


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    steps = migrations("sqlite")
    latest = steps[-1][0]
    if conn.execute("PRAGMA user_version").fetchone()[0] == latest:
        return  # the common case: one cheap read
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]:
            raise StoreUnavailable(f"{path} is an SQLite database, but not a queuectl store")
        if version > latest:
            raise StoreUnavailable(
                f"{path} was written by a newer queuectl (schema {version}); upgrade queuectl"
            )
        for number, sql in steps:
            if number > version:
                for statement in _statements(sql):
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {latest}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    # WAL lets readers run beside the one writer; the mode is stored in the file.
    conn.execute("PRAGMA journal_mode = WAL")


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s and not all(ln.startswith("--") for ln in s.splitlines())]
