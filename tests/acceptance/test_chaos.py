"""Chaos and contention: workers SIGKILLed at random while jobs run, and many CLI processes
enqueueing while workers drain. Afterwards every job is completed exactly as the attempts log
says: none lost, none stuck, no two attempts of one job overlapping, no lock error surfacing."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from queuectl.storage import open_store
from tests.acceptance.process_tools import alive
from tests.helpers import Cli, wait_until

CHAOS_JOBS = 120
CHAOS_SECONDS = 4.0
KILL_EVERY = 0.25  # seconds between SIGKILLs


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


def test_random_worker_kills_lose_nothing(cli: Cli) -> None:
    cli.ok("config", "set", "lease-timeout", "2")
    cli.ok("config", "set", "backoff-base", "1")
    cli.ok("config", "set", "backoff-max", "1")
    cli.ok("config", "set", "max-retries", "100")  # a job may be unlucky many times
    # Each attempt holds a lock on its job's file while it runs: an attempt that finds it
    # taken runs beside an earlier one that outlived its killed worker.
    (cli.cwd / "locks").mkdir()
    script = "exec 9>locks/{id}; flock -n 9 || echo {id} >> overlaps.txt; sleep 0.{s}; echo {n}"
    lines = "".join(
        json.dumps({"id": f"chaos-{n:03d}",
                    "command": script.format(id=f"chaos-{n:03d}", s=n % 3 + 1, n=n)}) + "\n"
        for n in range(CHAOS_JOBS)
    )  # fmt: skip
    cli.ok("enqueue", "--file", "-", input=lines)
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

    def all_done() -> bool:
        return bool(cli.json("status")["counts"]["completed"] == CHAOS_JOBS)

    wait_until(all_done, timeout=90, interval=0.3, what="every chaos job to complete")
    status = cli.json("status")["counts"]
    assert status == {**dict.fromkeys(status, 0), "completed": CHAOS_JOBS}
    jobs = cli.json("list", "--limit", "0")
    assert sorted(j["id"] for j in jobs) == [f"chaos-{n:03d}" for n in range(CHAOS_JOBS)]
    lost = 0
    store = open_store(cli.db_url)  # read back directly: 240 CLI round trips would be slow
    try:
        for job in jobs:
            log = [a.to_dict() for a in store.attempts(job["id"])]
            assert_attempts_sound({**job, "attempts_log": log})
            lost += len(log) - 1
            out = store.read_output(job["id"])
            assert out is not None and out.data == f"{int(job['id'][6:])}\n".encode()
    finally:
        store.close()
    assert lost >= 1  # the chaos did hit running jobs
    worker_log = b"".join(p.read_bytes() for p in cli.cwd.glob("workers-*.log"))
    assert b"Traceback" not in worker_log
    overlaps = cli.cwd / "overlaps.txt"
    assert not overlaps.exists(), f"attempts ran side by side: {overlaps.read_text().split()}"
    after = time.monotonic() - deadline
    print(f"{kills} kills, {lost} attempts lost, all done {after:.1f}s after the chaos")


def test_concurrent_cli_enqueues_while_workers_drain(cli: Cli) -> None:
    threads, per_thread = 4, 25
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
               interval=0.2, what="every job to complete")  # fmt: skip
    cli.ok("worker", "stop", "--timeout", "20")
    pool.wait(timeout=15)
    worker_log = b"".join(p.read_bytes() for p in cli.cwd.glob("workers-*.log"))
    assert b"locked" not in worker_log
    assert b"Traceback" not in worker_log
    assert b"store unavailable" not in worker_log
