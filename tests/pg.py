"""A fresh PostgreSQL database per test, cloned from a template migrated once per process.

The server is the local one (127.0.0.1:5432, user postgres, trust auth). If it is down we
try to start it; if it still cannot be reached, the PostgreSQL tests fail when CI is set
(they must run there) and are skipped otherwise.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from functools import cache
from typing import Any

import psycopg
import pytest

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
ADMIN_URL = f"postgresql://{USER}@{HOST}:{PORT}/postgres"
START_WAIT = 30.0  # seconds to wait for a server we started


def url_for(dbname: str) -> str:
    return f"postgresql://{USER}@{HOST}:{PORT}/{dbname}"


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)


def _ready() -> bool:
    try:
        admin().close()
    except psycopg.Error:
        return False
    return True


def _start_server() -> None:
    """pg_ctlcluster for the installed version (Debian's layout), then wait for it."""
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or not shutil.which("pg_ctlcluster"):
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        capture_output=True, timeout=60, check=False,
    )
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline and not _ready():
        time.sleep(0.5)


@cache
def server_problem() -> str | None:
    """None when the server answers (starting it if needed), else why not."""
    if _ready():
        return None
    _start_server()
    return None if _ready() else f"PostgreSQL is not reachable at {HOST}:{PORT}"


def require_server() -> None:
    problem = server_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set: the PostgreSQL tests must run)", pytrace=False)
    pytest.skip(problem)


@cache
def template() -> str:
    """A database migrated once by this process, to clone per test (CREATE DATABASE is
    far cheaper from a migrated template than migrating each fresh database)."""
    from queuectl.storage.postgres import PostgresStorage

    sweep_leftovers()
    name = f"qtest_{os.getpid()}_tmpl_{uuid.uuid4().hex[:8]}"
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(drop, name)
    PostgresStorage(url_for(name)).close()
    return name


def create(template_name: str | None = None,
           conn: psycopg.Connection[tuple[Any, ...]] | None = None) -> str:
    """A new database (cloned from ``template_name``), through ``conn`` or a connection of
    its own."""
    name = f"qtest_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    source = f' TEMPLATE "{template_name}"' if template_name else ""
    with nullcontext(conn) if conn is not None else admin() as db:
        db.execute(f'CREATE DATABASE "{name}"{source}')
        # A commit returns before its WAL reaches the disk: on a machine whose disk every
        # test process flushes at once, a commit's fsync costs several milliseconds.
        # Nothing a test can observe changes: only a crash of the server itself could lose
        # what was committed, and no test crashes the shared server.
        db.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return name


def sweep_leftovers() -> None:
    """Drop the databases of test processes that died before cleaning up (a killed run).
    Names carry the creating pid; the server is local, so a pid that is gone is gone."""
    with admin() as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database"
                                             " WHERE datname LIKE 'qtest\\_%'")]
    for name in names:
        pid = name.split("_")[1]
        if pid.isdigit() and not _alive(int(pid)):
            drop(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop(name: str, conn: psycopg.Connection[tuple[Any, ...]] | None = None) -> None:
    """Drop ``name`` (cutting what a test left connected), through ``conn`` or a connection
    of its own."""
    try:
        with nullcontext(conn) if conn is not None else admin() as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # the server went away: nothing left to clean that we can reach


class _Spares:
    """Migrated databases made one ahead of need, and finished ones dropped, by one
    background thread of this process: a test neither waits for its CREATE DATABASE
    (~0.15 s on a quiet machine, several times that under a parallel run) nor for the DROP
    of the one before, so that work overlaps the tests' own waiting.

    The thread works through one connection opened here, in the calling thread: opening a
    connection, libpq reads the environment (getenv), and the test's own thread changes the
    environment meanwhile (monkeypatch, the in-process CLI), which glibc does not make safe
    (a CI run crashed with a segmentation fault in the thread's connect). Only when that
    connection is lost does the thread open another."""

    def __init__(self) -> None:
        # The template first: exit handlers run last-registered first, so the spares are
        # dropped (close) before their template is.
        self._source = template()
        self._conn = admin()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-spares")
        self._next: Future[str] | None = None
        atexit.register(self.close)

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn.broken or self._conn.closed:
            self._conn = admin()  # the rare case: the server dropped it
        return self._conn

    def _create(self) -> str:
        return create(self._source, self._connection())

    def _drop(self, name: str) -> None:
        drop(name, self._connection())

    def take(self) -> str:
        """A new migrated database's name, made ahead by the thread when it could be."""
        name = self._next.result() if self._next is not None else create(self._source)
        self._next = self._thread.submit(self._create)
        return name

    def give_back(self, name: str) -> None:
        """Drop ``name`` once the thread is free (WITH FORCE: what a test left connected
        is cut)."""
        self._thread.submit(self._drop, name)

    def close(self) -> None:
        """At exit: finish the queued drops, then drop the spare. (Nothing new can be
        submitted by then: the executor refuses work once the interpreter is exiting.)"""
        self._thread.shutdown(wait=True)
        if self._next is not None and self._next.exception() is None:
            drop(self._next.result())
        self._next = None
        self._conn.close()


@cache
def _spares() -> _Spares:
    return _Spares()


def fresh_url(migrated: bool = True) -> Iterator[str]:
    """A new database's URL for one test; dropped afterwards (migrated ones are made ahead
    and dropped in the background: see _Spares)."""
    require_server()
    if not migrated:
        name = create()
        try:
            yield url_for(name)
        finally:
            drop(name)
        return
    spares = _spares()
    name = spares.take()
    try:
        yield url_for(name)
    finally:
        spares.give_back(name)
