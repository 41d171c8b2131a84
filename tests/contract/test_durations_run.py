"""Duration config keys as the embedded worker reads them (seconds, written `1s`), and the
list's NEXT RUN column for backed-off and scheduled jobs it left waiting."""

from __future__ import annotations

import re

import pytest

from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")

CONTRACT_JOB_FIELDS = {"id", "command", "state", "attempts", "max_retries", "priority",
                       "timeout", "queue", "run_at", "created_at", "updated_at", "started_at",
                       "finished_at", "exit_code", "last_error", "worker", "cwd", "env",
                       "after", "waiting_for", "cron", "unique_key", "rerun_of",
                        "held", "tags", "mutex", "gpus", "gpus_assigned", "success_exit",
                        "no_retry_exit", "deadline",
                        "expires_at", "snoozes", "after_any", "after_failure", "hook",
                        "snapshot"}


def test_workers_read_duration_keys_as_seconds(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("config", "set", "job-timeout", "0.5s")
    cli.ok("config", "set", "backoff-base", "100")
    cli.ok("config", "set", "backoff-max", "5s")  # the retry waits 5 s, not 100
    cli.ok("config", "set", "max-retries", "1")
    job_id = cli.enqueue("sleep 30")
    assert worker.work_until_idle() == 1  # the timeout is real time: the clock runs on
    # A second short of the retry: the real time the steps take on a loaded machine (0.1 s
    # was crossed) must not reach it.
    clock.move(4)
    assert worker.work_until_idle() == 0
    clock.move(2)
    assert worker.work_until_idle() == 1
    job = cli.job(job_id)
    assert job["state"] == "dead"
    assert job["timeout"] == 0.5 and job["last_error"].startswith("timed out")


def test_list_shows_when_scheduled_and_backed_off_jobs_run(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock,
) -> None:
    cli = clocked_cli
    worker = Worker(clocked_store, ("default",), clocks=clock.clocks)
    cli.ok("config", "set", "backoff-base", "100")  # the first retry waits 100 s
    cli.ok("config", "set", "max-retries", "1")
    failing = cli.enqueue("exit 3")
    assert worker.work_until_idle() == 1
    assert cli.job(failing)["state"] == "failed"
    scheduled = cli.enqueue("true", "--delay", "2h")
    cli.enqueue("true", "--run-at", "2000-01-01T00:00:00Z", "--queue", "nobody-serves-it")
    table = cli.ok("list").splitlines()
    assert table[0].split()[:4] == ["ID", "STATE", "NEXT", "RUN"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert re.search(r"^\S+ +failed +in 1m\d+s ", rows[failing]), rows[failing]  # of 1m40s
    assert re.search(r"^\S+ +pending +in 1h59m ", rows[scheduled]), rows[scheduled]
    overdue = [line for line in rows.values() if "nobody-serves-it" in line]
    assert re.search(r"^\S+ +pending +\d+d(\d+h)? ago ", overdue[0]), overdue
    docs = cli.json("list")
    assert all(set(doc) == CONTRACT_JOB_FIELDS for doc in docs)  # --json unchanged
    done = cli.enqueue("true")
    assert worker.work_until_idle() == 1
    assert cli.job(done)["state"] == "completed"
    row = next(line for line in cli.ok("list").splitlines() if line.startswith(done))
    assert re.search(r"^\S+ +completed +1/2 ", row), row  # only waiting jobs have a next run
