"""A fleet within PostgreSQL's connection limit: 12 hosts of 8 workers on a server of
max_connections = 100 (a connection per worker would need 108) all register and drain a
burst of jobs, each run once, while the database never holds more than 40 connections."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.acceptance.pgcluster import cluster
from tests.helpers import QUEUECTL, wait_until

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
        env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": str(tmp_path / "home")}
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
