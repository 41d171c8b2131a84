"""Throwaway stores: a fresh SQLite file in a temp dir, or a fresh PostgreSQL database."""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

PG_ADMIN_URL = os.environ.get("QUEUECTL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class Unavailable(Exception):
    """This backend cannot be measured here; the message says why."""


def postgres_missing(need_queuectl_store: bool = True) -> str | None:
    """Why the PostgreSQL figures must be skipped, or None when they can run."""
    if need_queuectl_store and importlib.util.find_spec("queuectl.storage.postgres") is None:
        return "PostgreSQL store not available yet (queuectl.storage.postgres is missing)"
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return f"PostgreSQL server unreachable at {PG_ADMIN_URL}: {exc}".splitlines()[0]
    return None


@contextmanager
def throwaway(backend: str, workdir: str, need_queuectl_store: bool = True) -> Iterator[str]:
    """Yield the URL of an empty store of ``backend``; remove it afterwards."""
    if backend == "sqlite":
        path = os.path.join(workdir, f"store-{secrets.token_hex(4)}", "queuectl.db")
        yield path
        return
    if backend != "postgres":
        raise ValueError(backend)
    reason = postgres_missing(need_queuectl_store)
    if reason:
        raise Unavailable(reason)
    import psycopg

    name = f"queuectl_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
