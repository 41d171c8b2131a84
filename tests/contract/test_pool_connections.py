"""A pool's workers share a few server connections (pool/gate.py): a worker's store opens
its connection within the pool's share, closes it when idle, opens it again on demand; a
server that refuses connections (its limit reached) is said once and waited out."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from queuectl.errors import StoreUnavailable
from queuectl.models import JobSpec, State
from queuectl.pool import worker as worker_module
from queuectl.pool.gate import PoolSlots
from queuectl.pool.worker import Worker
from queuectl.storage import open_store
from tests import pg
from tests.helpers import wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def url() -> Iterator[str]:
    yield from pg.fresh_url()


@pytest.fixture
def slots() -> Iterator[PoolSlots]:
    made = PoolSlots(1, 2)  # two workers, one connection: they take turns
    yield made
    made.close()


def backends(url: str) -> int:
    """Sessions of the store's database but the caller's own."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def test_a_gated_store_connects_on_demand_and_gives_its_connection_back(
        url: str, slots: PoolSlots) -> None:
    gate = slots.gate(0)
    store = open_store(url, durable=False, gate=gate)
    try:
        assert gate.held is None and backends(url) == 0  # nothing opened before a call
        store.enqueue([JobSpec(command="true", max_retries=0)])
        assert gate.held == 0 and backends(url) == 1
        store.release_connection()
        assert gate.held is None
        wait_until(lambda: backends(url) == 0, what="the session to end")
        assert store.stats().counts["pending"] == 1  # opened again, the slot taken again
        assert gate.held == 0
    finally:
        store.close()
    assert gate.held is None


def test_an_idle_worker_closes_its_connection_and_opens_one_for_the_next_job(
        url: str, slots: PoolSlots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "IDLE_HOLD", 0.05)
    gate = slots.gate(0)
    store = open_store(url, durable=False, gate=gate)
    wake_r, wake_w = os.pipe()
    try:
        worker = Worker(store, gate=gate)
        assert worker.work_until_idle() == 0
        assert gate.held is not None  # still open: it was idle only a moment
        worker.fds = [wake_r]
        assert worker._wait_idle(0.2) == []  # noqa: SLF001 - the idle wait itself
        assert gate.held is None
        wait_until(lambda: backends(url) == 0, what="the session to end")
        store.enqueue([JobSpec(command="true", max_retries=0)])
        assert worker.work_until_idle() == 1
        assert store.stats().counts["completed"] == 1
    finally:
        os.close(wake_r)
        os.close(wake_w)
        store.close()


def test_a_worker_of_a_pool_with_a_connection_per_worker_keeps_its_own_when_idle(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "IDLE_HOLD", 0.05)
    roomy = PoolSlots(2, 2)
    gate = roomy.gate(0)
    store = open_store(url, durable=False, gate=gate)
    wake_r, wake_w = os.pipe()
    try:
        worker = Worker(store, gate=gate)
        worker.work_until_idle()
        worker.fds = [wake_r]
        worker._wait_idle(0.2)  # noqa: SLF001
        assert gate.held is not None  # as with no gate: nobody could want it
    finally:
        os.close(wake_r)
        os.close(wake_w)
        store.close()
        roomy.close()


def test_an_idle_worker_keeps_its_connection_through_a_short_wait(
        url: str, slots: PoolSlots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "IDLE_HOLD", 5.0)
    gate = slots.gate(0)
    store = open_store(url, durable=False, gate=gate)
    wake_r, wake_w = os.pipe()
    try:
        worker = Worker(store, gate=gate)
        worker.work_until_idle()
        worker.fds = [wake_r]
        worker._wait_idle(0.1)  # noqa: SLF001
        assert gate.held is not None
    finally:
        os.close(wake_r)
        os.close(wake_w)
        store.close()


@pytest.fixture
def limited(url: str) -> Iterator[tuple[str, psycopg.Connection[tuple[Any, ...]]]]:
    """(the store's URL for a role of its own, a superuser's connection to change that
    role's connection limit): a server whose limit is reached, without filling it."""
    role = f"queuectl_limited_{uuid.uuid4().hex[:8]}"
    admin = pg.admin()
    admin.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    admin.execute(f'ALTER ROLE "{role}" NOSUPERUSER')
    dbname = url.rsplit("/", 1)[1]
    admin.execute(f'GRANT ALL ON DATABASE "{dbname}" TO "{role}"')
    with psycopg.connect(url, autocommit=True) as owner:
        owner.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        owner.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
        owner.execute(f'GRANT ALL ON SCHEMA public TO "{role}"')
    try:
        yield url.replace("postgres@", f"{role}@", 1), admin
    finally:
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE usename = %s", (role,))
            owner.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def test_a_refused_connection_is_said_once_and_retried_until_the_job_runs(
        url: str, limited: tuple[str, psycopg.Connection[tuple[Any, ...]]],
        slots: PoolSlots, caplog: pytest.LogCaptureFixture) -> None:
    role_url, admin = limited
    role = role_url.split("//", 1)[1].split("@", 1)[0]
    job = open_store(url)
    try:
        job.enqueue([JobSpec(command="true", id="waits", max_retries=0)])
    finally:
        job.close()
    admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
    gate = slots.gate(0)
    store = open_store(role_url, durable=False, gate=gate)
    ran: list[int] = []
    caplog.set_level(logging.WARNING, logger="queuectl.worker")
    thread = threading.Thread(target=lambda: ran.append(Worker(store, gate=gate)
                                                        .work_until_idle()))
    thread.start()
    try:
        wait_until(lambda: any("max_connections" in r.getMessage() for r in caplog.records),
                   what="the refusal to be said")
        # Several retries later (0.1 s, 0.2 s, 0.4 s...), still the one line.
        threading.Event().wait(1.0)
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1, said
        assert "too many connections" in said[0] and "retrying" in said[0]
        assert "\n" not in said[0]
    finally:
        admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT -1')
        thread.join(30)
    store.close()
    assert ran == [1]  # the job ran once the server took connections again
    check = open_store(url)
    try:
        done = check.get_job("waits")
        assert done is not None and done.state is State.COMPLETED
    finally:
        check.close()


def test_a_refusal_for_the_connection_limit_is_told_apart_from_other_failures(
        url: str, limited: tuple[str, psycopg.Connection[tuple[Any, ...]]]) -> None:
    role_url, admin = limited
    role = role_url.split("//", 1)[1].split("@", 1)[0]
    admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT 0')
    with pytest.raises(StoreUnavailable) as full:
        open_store(role_url).close()
    assert full.value.server_full and "max_connections" in str(full.value)
    with pytest.raises(StoreUnavailable) as other:
        open_store(url.rsplit("/", 1)[0] + "/queuectl_no_such_database").close()
    assert not other.value.server_full
