"""Every driver error code maps to a bad request or an outage said in plain words."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors

from queuectl.errors import InvalidValue, StoreUnavailable
from queuectl.storage.faults import meaning, postgres_fault, sqlite_fault


def sqlite_error(kind: type[sqlite3.Error], code: int, text: str = "boom") -> sqlite3.Error:
    exc = kind(text)
    exc.sqlite_errorcode = code  # as the driver sets it (extended codes keep the low byte)
    return exc


@pytest.mark.parametrize(("code", "words"), [
    (sqlite3.SQLITE_FULL, "the store's disk is full"),
    (sqlite3.SQLITE_IOERR_WRITE, "cannot be read or written (I/O error)"),
    (sqlite3.SQLITE_IOERR_FSYNC, "cannot be read or written (I/O error)"),
    (sqlite3.SQLITE_READONLY, "the store is read-only"),
    (sqlite3.SQLITE_READONLY_DBMOVED, "the store is read-only"),
    (sqlite3.SQLITE_CANTOPEN, "cannot be opened"),
    (sqlite3.SQLITE_BUSY, "locked by another process"),
    (sqlite3.SQLITE_BUSY_SNAPSHOT, "locked by another process"),
    (sqlite3.SQLITE_LOCKED, "locked by another process"),
    (sqlite3.SQLITE_CORRUPT, "damaged"),
    (sqlite3.SQLITE_NOTADB, "not a database"),
    (sqlite3.SQLITE_ERROR, "the store failed (boom)"),
])
def test_sqlite_outages(code: int, words: str, tmp_path: Path) -> None:
    fault = sqlite_fault(sqlite_error(sqlite3.OperationalError, code), str(tmp_path / "q.db"))
    assert isinstance(fault, StoreUnavailable)
    assert words in str(fault) and str(fault).endswith(f"({tmp_path / 'q.db'})")


def test_sqlite_io_error_on_a_disk_without_room_is_a_full_disk(tmp_path: Path) -> None:
    shm = sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_IOERR_SHMSIZE)
    assert "disk is full" not in str(sqlite_fault(shm, str(tmp_path / "q.db")))
    assert str(sqlite_fault(shm, "/proc/q.db")).startswith("the store's disk is full")  # no room


def test_sqlite_bad_requests_and_constraints() -> None:
    too_big = sqlite_fault(sqlite_error(sqlite3.DataError, sqlite3.SQLITE_TOOBIG), "q.db")
    assert isinstance(too_big, InvalidValue) and "too big" in str(too_big)
    assert isinstance(sqlite_fault(sqlite3.DataError("too long"), "q.db"), InvalidValue)
    dup = sqlite_error(sqlite3.IntegrityError, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
    assert sqlite_fault(dup, "q.db") is dup  # the caller says which id exists


def test_sqlite_error_without_a_code_is_an_outage() -> None:
    fault = sqlite_fault(sqlite3.ProgrammingError("Cannot operate on a closed database."), "q.db")
    assert isinstance(fault, StoreUnavailable) and "closed database" in str(fault)


@pytest.mark.parametrize(("error", "words"), [
    (pg_errors.DiskFull, "the store's disk is full"),
    (pg_errors.ReadOnlySqlTransaction, "the store is read-only"),
    (pg_errors.AdminShutdown, "ended the connection (a shutdown, or an administrator)"),
    (pg_errors.CrashShutdown, "ended the connection (it is restarting after a crash)"),
    (pg_errors.CannotConnectNow, "not accepting connections"),
    (pg_errors.QueryCanceled, "cancelled the statement"),
    (pg_errors.TooManyConnections, "too many connections"),
    (pg_errors.ConfigurationLimitExceeded, "out of resources"),
    (pg_errors.ConnectionFailure, "connection to the store was lost"),
    (pg_errors.SerializationFailure, "met another one"),
    (pg_errors.DeadlockDetected, "met another one"),
    (pg_errors.LockNotAvailable, "locked"),
    (pg_errors.IoError, "I/O error"),
    (pg_errors.DataCorrupted, "the store's server failed"),
    (pg_errors.InsufficientPrivilege, "lacks a permission"),
    (pg_errors.UndefinedTable, "tables are missing"),
    (pg_errors.SyntaxError, "the store refused a statement"),
])
def test_postgres_outages(error: type[psycopg.Error], words: str) -> None:
    fault = postgres_fault(error("detail"), "postgresql://u:***@h/db", "detail")
    assert isinstance(fault, StoreUnavailable)
    assert str(fault).startswith(words) or words in str(fault)
    assert str(fault).endswith("(postgresql://u:***@h/db: detail)")


def test_postgres_connection_lost_without_sqlstate() -> None:
    for exc in (psycopg.OperationalError("server closed the connection unexpectedly"),
                psycopg.InterfaceError("the connection is closed")):
        fault = postgres_fault(exc, "pg", "x")
        assert isinstance(fault, StoreUnavailable)
        assert str(fault).startswith("the connection to the store was lost")


def test_postgres_bad_requests_and_constraints() -> None:
    nul = postgres_fault(pg_errors.CharacterNotInRepertoire("NUL"), "pg", "invalid byte")
    assert isinstance(nul, InvalidValue) and str(nul) == "invalid byte"
    dup = pg_errors.UniqueViolation("dup")
    assert postgres_fault(dup, "pg", "dup") is dup


def test_a_value_the_postgres_driver_refuses_to_send_is_bad_input_not_an_outage() -> None:
    """psycopg refuses a NUL in a text before anything is sent (a DataError without an
    SQLSTATE): the connection is fine, the value is wrong."""
    refused = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    fault = postgres_fault(refused, "pg", "PostgreSQL text fields cannot contain NUL (0x00) bytes")
    assert isinstance(fault, InvalidValue) and not isinstance(fault, StoreUnavailable)
    assert str(fault) == "PostgreSQL text fields cannot contain NUL (0x00) bytes"
    assert meaning(refused) == "the store refused a value"


@pytest.mark.parametrize("exc", [
    sqlite_error(sqlite3.OperationalError, sqlite3.SQLITE_FULL, "database or disk is full"),
    pg_errors.DiskFull("could not extend file: No space left on device"),
])
def test_a_driver_error_that_reaches_the_cli_is_said_in_plain_words(
    exc: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    from queuectl.cli.entry import failure_code

    assert failure_code(exc) == 1
    assert capsys.readouterr().err == "queuectl: error: the store's disk is full\n"
