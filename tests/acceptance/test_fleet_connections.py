"""A fleet within PostgreSQL's connection limit: 12 hosts of 8 workers on a server of
max_connections = 100 (a connection per worker would need 108) all register and drain a
burst of jobs, each run once, while the database never holds more than 40 connections."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests import pg
from tests.acceptance.pgcluster import cluster
from tests.helpers import QUEUECTL, Cli, wait_until

POOLS, WORKERS, JOBS = 12, 8, 500
MOST_CONNECTIONS = 40


def _count(conn: psycopg.Connection[tuple[Any, ...]], sql: str, *args: object) -> int:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(sql, args).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_twelve_hosts_of_eight_workers_drain_a_burst_within_forty_connections(
        tmp_path: Path) -> None:
    with cluster(max_connections=100) as admin_url, \
            psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE fleet")
        url = admin_url.rsplit("/", 1)[0] + "/fleet"
        # Two connections per pool of 8, as docs/postgresql.md tells a fleet to set.
        env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": str(tmp_path / "home"),
               "QUEUECTL_POOL_CONNECTIONS": "2"}
        subprocess.run([QUEUECTL, "config", "set", "max-retries", "0"], env=env, check=True,
                       capture_output=True)
        # Opened before the pools, so that it is never refused; not counted below.
        watch = psycopg.connect(url, autocommit=True)
        most, stop = [0], threading.Event()

        def sample() -> None:  # from the admin database: not one of the fleet's
            while not stop.wait(0.05):
                held = _count(admin, "SELECT count(*) FROM pg_stat_activity "
                                     "WHERE datname = 'fleet'") - 1
                most[0] = max(most[0], held)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        logs = [tmp_path / f"pool-{n}.log" for n in range(POOLS)]
        pools = []
        for n, log in enumerate(logs):
            with open(log, "wb") as out:
                pools.append(subprocess.Popen(
                    [QUEUECTL, "worker", "start", "--count", str(WORKERS)],
                    env={**env, "QUEUECTL_HOST_ID": f"host-{n}"}, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True))
        try:
            # Every worker registered, each pool's on its own host.
            wait_until(lambda: _count(watch, "SELECT count(*) FROM workers")
                       == POOLS * WORKERS, timeout=180, interval=0.5,
                       what="every worker to register")
            assert _count(watch, "SELECT count(DISTINCT host) FROM workers") == POOLS
            jobs = tmp_path / "jobs.jsonl"
            jobs.write_text('{"command": "true"}\n' * JOBS)
            subprocess.run([QUEUECTL, "enqueue", "--file", str(jobs)], env=env, check=True,
                           capture_output=True, timeout=120)
            wait_until(lambda: _count(watch, "SELECT count(*) FROM jobs WHERE finished_at "
                                             "IS NOT NULL") == JOBS,
                       timeout=400, interval=0.5, what="the burst to drain")
            assert _count(watch, "SELECT count(*) FROM jobs WHERE state = 'completed'") == JOBS
            # Each job ran once: one attempt each, by a worker of the fleet.
            assert _count(watch, "SELECT count(*) FROM attempts") == JOBS
            assert _count(watch, "SELECT count(DISTINCT job_id) FROM attempts") == JOBS
            assert _count(watch, "SELECT count(*) FROM attempts WHERE exit_code <> 0") == 0
            assert all(pool.poll() is None for pool in pools)  # no pool gave up
        finally:
            for pool in pools:
                with suppress(ProcessLookupError):
                    os.killpg(pool.pid, signal.SIGTERM)
            for pool in pools:
                pool.wait(60)
            stop.set()
            sampler.join()
            watch.close()
        assert 0 < most[0] <= MOST_CONNECTIONS, most[0]
        said = "".join(log.read_text(errors="replace") for log in logs)
        assert "Traceback" not in said
        assert "died" not in said  # no worker crashed (or was restarted)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Cli]:
    """The real CLI on a fresh database of the shared server (these pools hold 2
    connections)."""
    for url in pg.fresh_url():
        cli = Cli(url, tmp_path / "home", cwd=tmp_path)
        yield cli
        cli.cleanup()


@pytest.mark.postgres
def test_workers_sharing_one_connection_run_long_jobs_without_being_taken_for_lost(
        shared: Cli) -> None:
    """Three workers, one connection between them, three jobs running 4 leases each: every
    heartbeat and output save waits its turn for the connection, none comes too late, and
    `logs --follow` of a running job streams."""
    cli = shared
    cli.inline("config", "set", "lease-timeout", "2")  # a heartbeat every 2/3 s
    cli.inline("config", "set", "max-retries", "0")
    jobs = [cli.enqueue("for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 1; done")
            for _ in range(3)]
    pool = cli.start_workers(3, env={"QUEUECTL_POOL_CONNECTIONS": "1"})
    follower = subprocess.Popen([QUEUECTL, "logs", jobs[0], "--follow"], env=cli.env,
                                stdout=subprocess.PIPE)
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == b"tick 1\n"  # streamed while it runs
        for job in jobs:
            done = cli.wait_state(job, "completed", "failed", "dead", timeout=60)
            assert done["state"] == "completed", done
            assert done["attempts"] == 1, done  # never handed back meanwhile
        assert follower.wait(timeout=15) == 0
    finally:
        follower.kill()
        follower.wait()
    os.killpg(pool.pid, signal.SIGTERM)
    pool.wait(30)
    said = (cli.cwd / "workers-0.log").read_text(errors="replace")
    assert "taken for lost" not in said
    assert "Traceback" not in said


@pytest.mark.postgres
def test_a_bad_connection_cap_is_one_clear_error_before_any_worker_starts(
        shared: Cli) -> None:
    for bad in ("0", "two"):
        done = subprocess.run([QUEUECTL, "worker", "start", "--count", "2"],
                              env={**shared.env, "QUEUECTL_POOL_CONNECTIONS": bad},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines()[-1] == (
            "queuectl: error: QUEUECTL_POOL_CONNECTIONS must be a whole number of at least "
            f"1, not {bad!r}")
        assert "Traceback" not in done.stderr
    assert shared.json("worker", "list") == []
