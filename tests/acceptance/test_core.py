"""The core scenarios, driving the installed `queuectl` in subprocesses as a user would."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import Cli, wait_until


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.mark.smoke
def test_a_job_completes_and_its_output_is_kept(cli: Cli) -> None:
    assert cli.ok("enqueue", '{"id":"job1","command":"echo hello; echo oops >&2"}') == "job1\n"
    cli.start_workers(1)
    job = cli.wait_state("job1", "completed")
    assert (job["attempts"], job["exit_code"], job["last_error"]) == (1, 0, None)
    assert len(job["attempts_log"]) == 1 and job["attempts_log"][0]["exit_code"] == 0
    assert cli.inline("logs", "job1") == "hello\noops\n"
    assert cli.json("status")["counts"]["completed"] == 1


def test_many_workers_run_200_jobs_once_each(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    lines = "".join(json.dumps({"id": f"j{i}", "command": f"echo j{i} >> {out}"}) + "\n"
                    for i in range(200))
    assert len(cli.ok("enqueue", "--file", "-", input=lines).split()) == 200
    cli.start_workers(4)
    wait_until(lambda: cli.json("status")["counts"]["completed"] == 200, timeout=90,
               what="200 jobs to complete")
    ran = out.read_text().split()
    assert sorted(ran) == sorted(f"j{i}" for i in range(200))  # each exactly once
    jobs = cli.json("list", "--limit", "0")
    assert all(j["attempts"] == 1 for j in jobs)
    assert len({j["worker"] for j in jobs}) > 1  # the work was shared


def test_a_command_that_does_not_exist_fails_cleanly(cli: Cli) -> None:
    job_id = cli.enqueue("no-such-command-xyz --flag", "--max-retries", "0")
    cli.start_workers(1)
    job = cli.wait_state(job_id, "dead")
    assert (job["exit_code"], job["last_error"]) == (127, "exit code 127")
    assert "not found" in cli.inline("logs", job_id)


def test_a_missing_cwd_is_a_failed_attempt_not_a_crash(cli: Cli) -> None:
    job_id = cli.enqueue("true", "--cwd", "/does/not/exist", "--max-retries", "0")
    ok_id = cli.enqueue("true")
    cli.start_workers(1)
    job = cli.wait_state(job_id, "dead")
    assert job["last_error"].startswith("cannot start in /does/not/exist")
    cli.wait_state(ok_id, "completed")  # the worker lived on


def test_data_survives_a_restart(cli: Cli) -> None:
    first = cli.enqueue("echo one")
    proc = cli.start_workers(1)
    cli.wait_state(first, "completed")
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    second = cli.enqueue("echo two", "--id", "after-restart")
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    assert cli.json("status")["workers"]["active"] == 0
    assert cli.job(first)["state"] == "completed"  # a new process sees the old state
    cli.start_workers(1)
    cli.wait_state(second, "completed")
    cli.wait_state(dead, "dead")
    assert cli.inline("logs", first) == "one\n"


def test_worker_stop_waits_for_the_running_job(cli: Cli) -> None:
    job_id = cli.enqueue("sleep 3; echo finished")
    proc = cli.start_workers(2)
    cli.wait_state(job_id, "processing")
    result = cli.run("worker", "stop", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    assert cli.job(job_id)["state"] == "completed"  # finished before its worker left
    assert proc.wait(timeout=10) == 0
    assert cli.json("worker", "list") == []


def test_sigterm_is_graceful(cli: Cli) -> None:
    job_id = cli.enqueue("sleep 3; echo done")
    proc = cli.start_workers(1)
    cli.wait_state(job_id, "processing")
    os.kill(proc.pid, signal.SIGTERM)  # the supervisor only: it relays the stop
    assert proc.wait(timeout=15) == 0
    assert cli.job(job_id)["state"] == "completed"


@pytest.mark.smoke
def test_detached_workers(cli: Cli) -> None:
    result = cli.run("worker", "start", "--count", "2", "--detach")
    assert result.returncode == 0, result.stderr
    pids = [int(p) for p in result.stdout.split()]
    assert len(pids) == 2
    try:
        listed = {w["pid"] for w in cli.json("worker", "list")}
        assert listed == set(pids)
        job_id = cli.enqueue("echo detached")
        cli.wait_state(job_id, "completed")
    finally:
        assert cli.run("worker", "stop", "--timeout", "20").returncode == 0
    wait_until(lambda: not any(_alive(p) for p in pids), timeout=10, what="workers to exit")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_config_change_reaches_running_workers(cli: Cli) -> None:
    cli.start_workers(1)
    cli.inline("config", "set", "backoff-base", "1")  # 1 ** n = 1 s between attempts
    job_id = cli.enqueue("exit 1", "--max-retries", "2")
    started = time.monotonic()
    cli.wait_state(job_id, "dead", timeout=20)
    assert time.monotonic() - started < 6  # 2 s + 4 s with the old base; ~2 s with the new


def test_idle_workers_pick_up_promptly(cli: Cli) -> None:
    cli.start_workers(1)
    time.sleep(0.5)  # the worker is idle, blocked on its wake-up socket
    job_id = cli.enqueue("true")
    job = cli.wait_state(job_id, "completed", timeout=10)
    assert ts(job["started_at"]) - ts(job["created_at"]) < 0.5


def test_bare_command_prints_its_help(cli: Cli) -> None:
    for args in ([], ["worker"], ["dlq"]):
        result = cli.run(*args)
        assert result.returncode == 2
        assert result.stderr.startswith("Usage: queuectl") and "error" not in result.stderr
