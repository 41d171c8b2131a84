"""The store as the front ends know it: the types they name, and how one is opened.

Front ends import these names from here, never from queuectl.storage, so that which store
backs them stays this layer's business. The store package itself is imported when a store
is first opened (or a schema read), not when a command starts.
"""

from __future__ import annotations

from queuectl.storage.base import AttemptRow, Stats, Storage, change_queue_settings

__all__ = ["AttemptRow", "Stats", "Storage", "change_queue_settings", "open_store",
           "schema_versions", "store_fault"]


def open_store(url: str, *, create: bool = True) -> Storage:
    """The store named by ``url`` (a path, sqlite:///path or postgresql://...). ``create``:
    a missing SQLite file (or PostgreSQL schema) is made; without it a missing store
    raises StoreUnavailable and nothing is created."""
    from queuectl.storage import open_store as open_url

    return open_url(url, create=create)


def schema_versions(url: str) -> tuple[int, int]:
    """(the store's schema version now, 0 when there is no store yet; the version this
    queuectl brings it to), reading only. Raises StoreUnavailable."""
    from queuectl.storage import schema_versions as versions

    return versions(url)


def store_fault(exc: BaseException) -> str | None:
    """What a database driver's error that reached the user unmapped means, in plain words
    (None: not a driver error)."""
    from queuectl.storage.faults import meaning

    return meaning(exc)
