"""Stores: pick one by URL. The PostgreSQL driver is imported only when used."""

from __future__ import annotations

import os
from collections.abc import Callable

from queuectl.settings import is_postgres, redact_url, sqlite_path
from queuectl.storage.base import ConnectionGate, Storage


def store_type(url: str) -> type[Storage]:
    """The kind of store ``url`` names, not opened: what a pool asks before it opens one
    (Storage.pool_wakeups, wants_checkpoints, log_identity). Raises StoreUnavailable when
    its driver is missing, InvalidValue for a URL no store has."""
    if is_postgres(url):
        try:
            from queuectl.storage.postgres import PostgresStorage
        except ImportError as exc:  # pragma: no cover - only without the optional driver
            from queuectl.errors import StoreUnavailable

            raise StoreUnavailable(f"PostgreSQL support is not available: {exc}") from None
        return PostgresStorage
    sqlite_path(url)  # (InvalidValue for what is no path)
    from queuectl.storage.sqlite import SQLiteStorage

    return SQLiteStorage


def open_store(
    url: str, *, durable: bool = True, create: bool = True,
    clock: Callable[[], float] | None = None, gate: ConnectionGate | None = None,
) -> Storage:
    """Open the store named by ``url`` (a path, sqlite:///path or postgresql://...).

    ``create``: a SQLite file that does not exist yet is made (with its folders); without
    it, a missing file raises StoreUnavailable and nothing is created; likewise a PostgreSQL
    database without queuectl's tables is refused rather than given them. (A PostgreSQL
    database itself is never created here.)

    ``clock``: the store's "now" (epoch seconds) instead of its own clock (this process's
    for SQLite, the server's for PostgreSQL): tests move it on rather than sleep.

    ``gate``: a pool worker's share of its pool's server connections (ConnectionGate); only
    a store whose ``server_connections`` is True takes one (others ignore it)."""
    if is_postgres(url):
        try:
            from queuectl.storage.postgres import PostgresStorage
        except ImportError as exc:  # pragma: no cover - only without the optional driver
            from queuectl.errors import StoreUnavailable

            raise StoreUnavailable(f"PostgreSQL support is not available: {exc}") from None
        return PostgresStorage(url, durable=durable, create=create, clock=clock, gate=gate)
    from queuectl.storage.sqlite import SQLiteStorage

    path = sqlite_path(url)
    if not create and not os.path.exists(path):
        from queuectl.errors import StoreUnavailable

        raise StoreUnavailable.missing(path)
    if clock is None:
        return SQLiteStorage(path, durable=durable)
    return SQLiteStorage(path, durable=durable, clock=clock)


def schema_versions(url: str) -> tuple[int, int]:
    """(the schema version of the store at ``url`` as it is now, the version this queuectl
    brings it to), reading only: nothing is created or upgraded. The first is 0 when there
    is no store yet: no SQLite file (or an empty one), or a PostgreSQL database without
    queuectl's tables. Raises StoreUnavailable when the store cannot be read."""
    from queuectl.storage.sql import migrations

    if is_postgres(url):
        from queuectl.storage.pgconn import connect, schema_version

        conn = connect(url, redact_url(url))
        try:
            return schema_version(conn), migrations("postgres")[-1][0]
        finally:
            conn.close()
    from queuectl.storage.sqlite_file import schema_version as sqlite_version

    return sqlite_version(sqlite_path(url)), migrations("sqlite")[-1][0]


__all__ = ["Storage", "open_store", "redact_url", "schema_versions", "store_type"]
