"""PostgreSQL plumbing: connecting with one clear error that never shows a password,
migrating exactly once however many processes start together, and the LISTEN connections
that wake idle workers (a worker's own, or its pool's).

Imported only by storage/postgres.py, so psycopg loads only for postgresql:// stores.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from queuectl.errors import StoreUnavailable
from queuectl.storage.base import WakeSource
from queuectl.storage.sql import migrations

CHANNEL = "queuectl"  # one channel; the payload says what happened: work | stop | cancel
CONNECT_TIMEOUT = 5  # seconds: an unreachable server is reported, not waited on forever
# Key of the advisory lock that serialises migrations: any fixed 64-bit number will do;
# this one spells "queuectl" in ASCII.
MIGRATION_LOCK = 0x7175657565_63746C
# A refusal for the server's connection limit: its SQLSTATE (when libpq passes it on; at
# connect it often does not) or the words of the server's message.
TOO_MANY_CONNECTIONS = "53300"
FULL_SIGNS = ("too many clients", "too many connections",
              "remaining connection slots are reserved")
REVIVE_EVERY = 1.0  # seconds between tries to re-open a dropped LISTEN connection
# A worker idles on a LISTEN socket that carries no traffic: without TCP keepalives a
# network cut would go unnoticed for hours. These notice a dead peer in about a minute;
# the URL may set its own.
TCP_DEFAULTS = {
    "keepalives": "1",
    "keepalives_idle": "30",  # seconds of silence before the first probe
    "keepalives_interval": "10",  # seconds between probes
    "keepalives_count": "3",  # unanswered probes before the connection counts as dead
    "tcp_user_timeout": "60000",  # ms unacknowledged data may wait: a query on a cut link
}

Conn = psycopg.Connection[tuple[Any, ...]]


# --- connecting --------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """SQLAlchemy-style ``postgresql+psycopg://`` is accepted too; libpq wants the plain one."""
    # A URL's scheme is case-insensitive; libpq takes only the lower-case one.
    return re.sub(r"^(postgresql\+psycopg|postgresql|postgres)://",
                  lambda m: "postgresql://" if "+" in m[1] else m[0].lower(), url,
                  flags=re.IGNORECASE)


def scrub(text: str, url: str) -> str:
    """Driver error text on one line, with the URL's password (raw or %-encoded) removed:
    libpq may echo the connection string back in its messages."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in {password, unquote(password or "")} - {None, ""}:
        assert secret is not None
        text = text.replace(secret, "***")
    text = re.sub(r"password\s*=\s*\S+", "password=***", text)
    # Any URL with user:password@ left in the text (one urlsplit could not parse).
    text = re.sub(r"(://[^:/@\s\"']*:)[^@\s\"']*@", r"\1***@", text)
    return " ".join(text.split())


def connect(url: str, display_url: str, *, durable: bool = True) -> Conn:
    """An autocommit connection, or StoreUnavailable naming the redacted URL.

    ``durable=False``: commits on this connection do not wait for the WAL flush
    (``synchronous_commit = off``, set in the startup packet: no extra round trip).

    JIT compilation is off (``jit = off``, in the startup packet too, before whatever the
    URL's own ``options`` say): queuectl's statements are short, and a claim whose estimated
    cost passes ``jit_above_cost`` (on tables not analyzed yet) was compiled at each of a
    session's first calls, about 100 ms of server CPU each, against 2-4 ms without."""
    try:
        params = {**TCP_DEFAULTS, "connect_timeout": str(CONNECT_TIMEOUT),
                  "application_name": "queuectl", **conninfo_to_dict(libpq_url(url))}
        params["options"] = f"-c jit=off {params.get('options') or ''}".strip()
        if not durable:
            params["options"] = f"{params['options']} -c synchronous_commit=off"
        return psycopg.connect(make_conninfo(**params), autocommit=True)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        reason = scrub(str(exc), url).removeprefix("connection failed: ")
        full = exc.sqlstate == TOO_MANY_CONNECTIONS or any(
            sign in reason for sign in FULL_SIGNS)
        if full:
            reason += " (the server's connection limit, max_connections, is reached)"
        error = StoreUnavailable(f"cannot connect to {display_url}: {reason}")
        error.server_full = full
        raise error from None


# --- migrations --------------------------------------------------------------------------


def migrate(conn: Conn, display_url: str, *, create: bool = True) -> None:
    """Bring the schema to the latest version; one cheap read when it already is.

    ``create``: a database without queuectl's schema gets it; without it, such a database
    raises StoreUnavailable and is left untouched (a command that only reads, pointed at
    the wrong database, must not install tables there). Older schemas are upgraded."""
    steps = migrations("postgres")
    latest = steps[-1][0]
    found = _version(conn)
    if found == latest:
        return
    if found == 0 and not create:
        raise StoreUnavailable.without_tables(display_url)
    with conn.transaction():
        # Held until commit: of many processes starting at once, one migrates and the
        # others wait here, then find the work done.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS queuectl_schema (version integer NOT NULL)")
        row = conn.execute("SELECT max(version) FROM queuectl_schema").fetchone()
        version = int(row[0]) if row and row[0] is not None else 0
        _check_version(conn, version, latest, display_url)
        for number, sql in steps:
            if number > version:
                conn.execute(sql.encode())  # no parameters: several statements at once
        conn.execute("DELETE FROM queuectl_schema")
        conn.execute("INSERT INTO queuectl_schema (version) VALUES (%s)", (latest,))


def _version(conn: Conn) -> int:
    try:
        row = conn.execute("SELECT max(version) FROM queuectl_schema").fetchone()
    except pg_errors.UndefinedTable:
        return 0  # autocommit: the failed read leaves no transaction behind
    return int(row[0]) if row and row[0] is not None else 0


def schema_version(conn: Conn) -> int:
    """The schema version the database holds now (0: none of queuectl's tables); reads only."""
    return _version(conn)


def _check_version(conn: Conn, version: int, latest: int, display_url: str) -> None:
    if version > latest:
        raise StoreUnavailable(
            f"{display_url} was written by a newer queuectl (schema {version}); upgrade queuectl"
        )
    if version == 0:
        row = conn.execute("SELECT to_regclass('jobs') IS NOT NULL").fetchone()
        if row and row[0]:
            raise StoreUnavailable(
                f"{display_url} has a 'jobs' table that is not queuectl's; use another database"
            )


# --- the LISTEN connection -----------------------------------------------------------------


class Wakeups:
    """One worker's LISTEN connection behind a file descriptor that never changes.

    The worker select()s on ``fd`` for its whole life, but a reconnect brings a new socket;
    so ``fd`` is our own descriptor that dup2() points at whatever should wake the worker:
    the live socket, a pipe holding one byte (wake up: reconnected, re-check), or an empty
    pipe (server down: stay quiet; the worker's store calls retry with backoff meanwhile,
    and the store revives us once it reaches the server again).
    """

    def __init__(self, open_conn: Callable[[], Conn]) -> None:
        self._open = open_conn
        self._conn: Conn | None = self._listen()
        self.fd = os.dup(self._conn.fileno())
        self._pipe_w: int | None = None  # write end of the pipe ``fd`` points at, if any
        self._swap_in = False  # ``fd`` is a signalled pipe; the socket goes in on drain
        self._last_try = 0.0

    @property
    def dropped(self) -> bool:
        """Whether the LISTEN connection is gone (until revive() opens another)."""
        return self._conn is None

    def _listen(self) -> Conn:
        conn = self._open()
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def drain(self) -> set[str]:
        """Every pending payload, without blocking. After a dropped connection: {"work"}, so the
        worker re-checks the store for anything it missed meanwhile."""
        events: set[str] = set()
        if self._swap_in and self._conn is not None:
            self._point_at(self._conn.fileno())
            self._close_pipe()
            self._swap_in = False
            events.add("work")
        if self._conn is None:
            return events | {"work"}
        try:
            events.update(n.payload for n in self._conn.notifies(timeout=0))
        except psycopg.Error:
            self._drop()
            self.revive()
            events.add("work")
        return events

    def revive(self) -> None:
        """Re-open and re-LISTEN (at most once per REVIVE_EVERY); on success the fd reads
        ready so the worker drains and re-checks."""
        if self._conn is not None or time.monotonic() - self._last_try < REVIVE_EVERY:
            return
        self._last_try = time.monotonic()
        try:
            self._conn = self._listen()
        except (StoreUnavailable, psycopg.Error):
            return
        self._park(signalled=True)
        self._swap_in = True

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._park(signalled=False)

    def _park(self, signalled: bool) -> None:
        read_end, write_end = os.pipe()
        if signalled:
            os.write(write_end, b"!")
        self._point_at(read_end)
        os.close(read_end)
        self._close_pipe()
        self._pipe_w = write_end  # kept open: an empty pipe then never reads as EOF

    def _point_at(self, source_fd: int) -> None:
        os.dup2(source_fd, self.fd)  # atomically: select() never sees a closed fd

    def _close_pipe(self) -> None:
        if self._pipe_w is not None:
            os.close(self._pipe_w)
            self._pipe_w = None

    def close(self) -> None:
        if self.fd < 0:
            return
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        os.close(self.fd)
        self.fd = -1
        self._close_pipe()


class PoolWakeups(WakeSource):
    """A pool's one LISTEN connection (WakeSource), opened on first use and re-opened after
    a loss: on PostgreSQL each LISTEN is a connection the server holds, so a pool holds one
    for all its workers (pool/relay.py), not one per worker. Its callers pace their calls
    after a failure: a connect to an unreachable host blocks for up to CONNECT_TIMEOUT."""

    def __init__(self, url: str) -> None:
        from queuectl.settings import redact_url

        self.url = url
        self.display_url = redact_url(url)
        self._wakeups: Wakeups | None = None

    def fds(self) -> list[int]:
        if self._wakeups is None:
            try:
                self._wakeups = Wakeups(
                    lambda: connect(self.url, self.display_url, durable=False))
            except psycopg.Error as exc:  # the LISTEN itself may fail
                raise StoreUnavailable(
                    f"cannot listen on {self.display_url}: {scrub(str(exc), self.url)}"
                ) from None
        if self._wakeups.dropped:
            self._wakeups.revive()  # once back, its fd reads ready: drain says "work"
            if self._wakeups.dropped:
                raise StoreUnavailable(f"cannot listen on {self.display_url} again yet")
        return [self._wakeups.fd]

    def drain(self) -> set[str]:
        return set() if self._wakeups is None else self._wakeups.drain()

    def close(self) -> None:
        if self._wakeups is not None:
            self._wakeups.close()
        self._wakeups = None
