"""A mutex held by a job whose whole pool was killed (SIGKILL to its process group) is freed
when that job is recovered, and the job waiting for it then runs on the other pool; the two
holders' attempts never overlap. (Races between claimers, cancels and lost workers of
another host run in-process: tests/contract/test_mutexes.py.)"""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

from tests.acceptance.process_tools import assert_group_gone, read_pid
from tests.helpers import Cli, wait_until


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_killed_pools_mutex_is_freed_when_its_job_is_recovered(
    cli: Cli, tmp_path: Path,
) -> None:
    cli.ok("config", "set", "lease-timeout", "2")
    cli.ok("config", "set", "backoff-base", "1")
    first = cli.enqueue("echo $$ > sh.pid; until [ -e go ]; do sleep 0.05; done",
                        "--mutex", "deploy", "-p", "1")
    pool = cli.start_workers(1)
    first_shell = read_pid(tmp_path / "sh.pid")
    second = cli.enqueue("echo second", "--mutex", "deploy")
    cli.start_workers(1)  # the other pool: it may not take the second job while deploy is held
    wait_until(lambda: len(cli.json("worker", "list")) == 2, what="both pools' workers")
    assert cli.job(second)["state"] == "pending"
    assert "waiting for mutex deploy" in cli.observe("show", second).stdout
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait(timeout=10)
    assert_group_gone(first_shell, timeout=15)  # the recovery kills the orphaned shell
    done = cli.wait_state(second, "completed", timeout=30)
    lost = cli.job(first)["attempts_log"][0]
    assert lost["error"] == "worker lost"
    assert when(done["attempts_log"][0]["started_at"]) >= when(lost["finished_at"])
    (tmp_path / "go").touch()
    again = cli.wait_state(first, "completed", timeout=30)
    assert when(again["attempts_log"][1]["started_at"]) >= when(done["finished_at"]) \
        or when(again["attempts_log"][1]["finished_at"]) <= when(done["started_at"])
