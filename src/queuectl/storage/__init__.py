"""Stores: pick one by URL. The PostgreSQL driver is imported only when used."""

from __future__ import annotations

from queuectl.settings import is_postgres, redact_url, sqlite_path
from queuectl.storage.base import Storage


def open_store(url: str, *, durable: bool = True) -> Storage:
    """Open the store named by ``url`` (a path, sqlite:///path or postgresql://...)."""
    if is_postgres(url):
        try:
            from queuectl.storage.postgres import PostgresStorage
        except ImportError as exc:  # pragma: no cover - only without the optional driver
            from queuectl.errors import StoreUnavailable

            raise StoreUnavailable(f"PostgreSQL support is not available: {exc}") from None
        return PostgresStorage(url, durable=durable)
    from queuectl.storage.sqlite import SQLiteStorage

    return SQLiteStorage(sqlite_path(url), durable=durable)


__all__ = ["Storage", "open_store", "redact_url"]
