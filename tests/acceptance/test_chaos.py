"""Chaos and contention: workers SIGKILLed at random while jobs run; workers paused past the
lease and resumed while the store's disk fills up and frees again (SQLite) or its
connections are killed (PostgreSQL); and many CLI processes enqueueing while workers drain.
Afterwards every job is completed exactly as the attempts log says: none lost, none stuck,
no two attempts of one job overlapping, no lock error surfacing."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from queuectl.settings import is_postgres
from queuectl.storage import open_store
from tests import pg
from tests.acceptance import disks
from tests.acceptance.process_tools import alive
from tests.helpers import Cli, wait_until

CHAOS_JOBS = 120
CHAOS_SECONDS = 4.0
KILL_EVERY = 0.25  # seconds between SIGKILLs
PAUSE_JOBS = 24  # enough to keep every worker busy through the pauses, no long drain after
PAUSE_SLEEPS = "{}.2"  # seconds each job sleeps (1.2 to 3.2): some outlast the lease
PAUSE_PAD = 20_000  # bytes each job prints: the store grows, so a full disk stops it
PAUSE_SECONDS = 9.0  # of pauses; the store's outage is in the middle of it
PAUSE_EVERY = 0.8  # seconds between two pauses
PAUSE_FOR = 3.0  # seconds a paused worker stays stopped: past the lease
PAUSE_LEASE = "2"  # seconds


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's live children: the worker processes (jobs run in their own sessions,
    as children of the workers)."""
    try:
        text = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split() if alive(int(p))]


def assert_attempts_sound(job: dict[str, Any]) -> None:
    log = job["attempts_log"]
    assert [a["number"] for a in log] == list(range(1, len(log) + 1)), job["id"]
    assert all(a["finished_at"] is not None for a in log), job["id"]
    assert [a["outcome"] for a in log][-1] == "succeeded", job["id"]
    assert all(a["outcome"] == "worker_lost" for a in log[:-1]), log
    for before, after in zip(log, log[1:], strict=False):
        assert ts(before["finished_at"]) <= ts(after["started_at"]), f"overlap: {log}"
    assert job["attempts"] == len(log)


def enqueue_chaos_jobs(cli: Cli, count: int, lease: str = "2", sleeps: str = "0.{}",
                       pad: int = 0) -> None:
    """``count`` jobs that each hold a lock on their own file while they run: an attempt
    that finds it taken runs beside an earlier one, which outlived its worker. Job n sleeps
    ``sleeps.format(n % 3 + 1)`` seconds and prints ``pad`` dots, then n."""
    cli.inline("config", "set", "lease-timeout", lease)
    cli.inline("config", "set", "backoff-base", "1")
    cli.inline("config", "set", "backoff-max", "1")
    cli.inline("config", "set", "max-retries", "100")  # a job may be unlucky many times
    (cli.cwd / "locks").mkdir()
    script = ("exec 9>locks/{id}; flock -n 9 || echo {id} >> overlaps.txt;"
              " head -c {pad} /dev/zero | tr '\\0' .; sleep {s}; echo {n}")
    lines = "".join(
        json.dumps({"id": f"chaos-{n:03d}",
                    "command": script.format(id=f"chaos-{n:03d}", s=sleeps.format(n % 3 + 1),
                                             n=n, pad=pad)}) + "\n"
        for n in range(count)
    )
    cli.ok("enqueue", "--file", "-", input=lines)


def assert_all_done_once(cli: Cli, count: int, pad: int = 0) -> int:
    """Every chaos job completed, each attempt log sound, nothing ran side by side, no
    traceback: returns how many attempts were lost on the way."""
    wait_until(lambda: cli.json("status")["counts"]["completed"] == count, timeout=120,
               interval=0.3, what="every chaos job to complete")
    status = cli.json("status")["counts"]
    assert status == {**dict.fromkeys(status, 0), "completed": count}
    jobs = cli.json("list", "--limit", "0")
    assert sorted(j["id"] for j in jobs) == [f"chaos-{n:03d}" for n in range(count)]
    lost = 0
    store = open_store(cli.db_url)  # read back directly: 2 CLI calls per job would be slow
    try:
        for job in jobs:
            log = [a.to_dict() for a in store.attempts(job["id"])]
            assert_attempts_sound({**job, "attempts_log": log})
            lost += len(log) - 1
            out = store.read_output(job["id"])
            assert out is not None
            assert out.data == b"." * pad + f"{int(job['id'][6:])}\n".encode()
    finally:
        store.close()
    worker_log = b"".join(p.read_bytes() for p in cli.cwd.glob("workers-*.log"))
    assert b"Traceback" not in worker_log
    overlaps = cli.cwd / "overlaps.txt"
    assert not overlaps.exists(), f"attempts ran side by side: {overlaps.read_text().split()}"
    return lost


@pytest.mark.slow
def test_random_worker_kills_lose_nothing(cli: Cli) -> None:
    enqueue_chaos_jobs(cli, CHAOS_JOBS)
    pool = cli.start_workers(4)
    rng = random.Random(5)
    kills = 0
    deadline = time.monotonic() + CHAOS_SECONDS
    while time.monotonic() < deadline:
        time.sleep(KILL_EVERY)
        pids = worker_pids(pool.pid)
        if pids:
            os.kill(rng.choice(pids), signal.SIGKILL)
            kills += 1
    assert kills >= 8
    assert pool.poll() is None  # the supervisor survived and keeps restarting workers
    lost = assert_all_done_once(cli, CHAOS_JOBS)
    assert lost >= 1  # the chaos did hit running jobs
    after = time.monotonic() - deadline
    print(f"{kills} kills, {lost} attempts lost, all done {after:.1f}s after the chaos")


@pytest.fixture
def chaos_cli(db_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on a store whose outage the test can cause: SQLite on a small disk of its
    own, or a PostgreSQL database (whose connections it kills)."""
    if is_postgres(db_url):
        cli = Cli(db_url, tmp_path / "home", cwd=tmp_path)
        yield cli
        cli.cleanup()
        return
    with disks.small_disk(tmp_path / "small-disk") as disk:
        cli = Cli(str(disk / "queuectl.db"), tmp_path / "home", cwd=tmp_path)
        yield cli
        cli.cleanup()


class Outage:
    """The store cannot write (its disk is full), or its connections keep dying."""

    def __init__(self, cli: Cli) -> None:
        self.url = cli.db_url
        self.filler: Path | None = None
        self.kills = 0

    def on(self) -> None:
        """Begin the outage, or keep it up (each call kills the connections again)."""
        if is_postgres(self.url):
            dbname = self.url.rsplit("/", 1)[1]
            with pg.admin() as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                             " datname = %s AND pid <> pg_backend_pid()", (dbname,))
            self.kills += 1
        elif self.filler is None:
            self.filler = disks.fill(Path(self.url).parent)

    def off(self) -> None:
        if self.filler is not None:
            self.filler.unlink()
            self.filler = None


@pytest.mark.slow
def test_workers_paused_past_the_lease_through_a_store_outage_lose_nothing(
    chaos_cli: Cli,
) -> None:
    """SIGSTOP / SIGCONT of random workers, each paused past the lease (their siblings take
    their jobs over, they come back and rejoin), while in the middle the store cannot write
    for a few seconds. Nothing is lost, stuck, or run twice at once."""
    cli = chaos_cli
    enqueue_chaos_jobs(cli, PAUSE_JOBS, lease=PAUSE_LEASE, sleeps=PAUSE_SLEEPS, pad=PAUSE_PAD)
    pool = cli.start_workers(3)
    rng = random.Random(7)
    outage = Outage(cli)
    paused: dict[int, float] = {}  # pid -> when to resume it
    started = time.monotonic()
    pauses = 0
    try:
        while (now := time.monotonic() - started) < PAUSE_SECONDS:
            if PAUSE_SECONDS / 3 <= now < 2 * PAUSE_SECONDS / 3:  # the middle third
                outage.on()
            else:
                outage.off()
            for pid, when in list(paused.items()):
                if when <= time.monotonic():
                    os.kill(pid, signal.SIGCONT)
                    del paused[pid]
            running = [p for p in worker_pids(pool.pid) if p not in paused]
            if len(running) > 1:  # always one left to take the paused one's job over
                pid = rng.choice(running)
                os.kill(pid, signal.SIGSTOP)
                paused[pid] = time.monotonic() + PAUSE_FOR
                pauses += 1
            time.sleep(PAUSE_EVERY)
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
        outage.off()
    assert pauses >= 4
    assert pool.poll() is None
    lost = assert_all_done_once(cli, PAUSE_JOBS, pad=PAUSE_PAD)
    worker_log = b"".join(p.read_bytes() for p in cli.cwd.glob("workers-*.log"))
    assert b"taken for lost" in worker_log  # the pauses did outlast the lease
    if is_postgres(cli.db_url):
        # Which words depend on what the connection was doing when it was killed (and on
        # the driver's release): "the store's server ended the connection", or "the
        # connection to the store was lost"; every path logs "store unavailable".
        assert outage.kills >= 3 and b"store unavailable" in worker_log
    else:
        assert b"the store's disk is full" in worker_log  # the outage did stop its writes
    print(f"{pauses} pauses, {outage.kills} connection kills, {lost} attempts lost")


@pytest.mark.slow
def test_concurrent_cli_enqueues_while_workers_drain(cli: Cli) -> None:
    threads, per_thread = 4, 12
    pool = cli.start_workers(4)
    failures: list[str] = []

    def producer(n: int) -> None:
        for i in range(per_thread):
            done = cli.run("enqueue", "-c", f"echo {n}-{i}", "--id", f"c-{n}-{i}")
            if done.returncode != 0 or done.stderr:
                failures.append(f"{done.returncode}: {done.stderr}")

    workers = [threading.Thread(target=producer, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert failures == []
    total = threads * per_thread
    wait_until(lambda: cli.json("status")["counts"]["completed"] == total, timeout=60,
               interval=0.2, what="every job to complete")
    cli.ok("worker", "stop", "--timeout", "20")
    pool.wait(timeout=15)
    worker_log = b"".join(p.read_bytes() for p in cli.cwd.glob("workers-*.log"))
    assert b"locked" not in worker_log
    assert b"Traceback" not in worker_log
    assert b"store unavailable" not in worker_log
