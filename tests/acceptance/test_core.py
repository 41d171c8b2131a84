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
    assert cli.ok("logs", "job1") == "hello\noops\n"
    assert cli.json("status")["counts"]["completed"] == 1


def test_failing_job_backs_off_2s_4s_then_lands_in_dlq(cli: Cli) -> None:
    cli.ok("enqueue", '{"id":"bad","command":"exit 3","max_retries":2}')
    cli.start_workers(1)
    job = cli.wait_state("bad", "dead", timeout=30)
    log = job["attempts_log"]
    assert [a["exit_code"] for a in log] == [3, 3, 3]
    assert job["attempts"] == 3 and job["last_error"] == "exit code 3"
    gaps = [ts(log[i + 1]["started_at"]) - ts(log[i]["finished_at"]) for i in range(2)]
    assert 1.9 <= gaps[0] < 3.5, gaps  # 2 ** 1
    assert 3.9 <= gaps[1] < 5.5, gaps  # 2 ** 2
    assert [j["id"] for j in cli.json("dlq", "list")] == ["bad"]


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
    assert "not found" in cli.ok("logs", job_id)


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
    assert cli.ok("logs", first) == "one\n"


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


@pytest.mark.smoke
def test_bulk_enqueue_is_all_or_nothing(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"command":"true","id":"b1"}\n{"command":"true","id":"b2","priority":3}\n')
    assert cli.ok("enqueue", "--file", str(good)).split() == ["b1", "b2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"command":"true","id":"b3"}\n{"command":"true","max_retries":-1}\n')
    result = cli.run("enqueue", "--file", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("queuectl: error: line 2:") and "max_retries" in result.stderr
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"command":"true","id":"b4"}\n{"command":"true","id":"b1"}\n')
    result = cli.run("enqueue", "--file", str(dup))
    assert result.returncode == 1
    assert result.stderr == "queuectl: error: line 2: job 'b1' already exists\n"
    assert sorted(j["id"] for j in cli.json("list")) == ["b1", "b2"]
    arr = cli.ok("enqueue", "--file", "-", "--json", input='[{"command":"true"}]')
    assert json.loads(arr)[0]["state"] == "pending"


def test_enqueue_forms_and_fields(cli: Cli, tmp_path: Path) -> None:
    cli.ok("config", "set", "max-retries", "5")
    job = json.loads(cli.ok("enqueue", "-c", "echo hi", "--id", "f1", "-p", "7", "--timeout",
                            "90", "--queue", "q1", "--json"))
    assert (job["id"], job["priority"], job["timeout"], job["queue"], job["max_retries"]) == (
        "f1", 7, 90, "q1", 5)
    assert job["cwd"] == str(tmp_path)
    assert job["created_at"].endswith("Z") and len(job["created_at"]) == 24
    delayed = json.loads(cli.ok("enqueue", "-c", "true", "--delay", "1h", "--json"))
    assert ts(delayed["run_at"]) - ts(delayed["created_at"]) > 3590
    assert cli.json("status")["scheduled"] == 1


def test_errors_are_one_line_with_the_right_exit_code(cli: Cli) -> None:
    cli.ok("enqueue", '{"id":"job1","command":"true"}')
    before = cli.json("list")
    cases = [
        (["enqueue", '{"id":"job1","command":"other"}'], 1, "job 'job1' already exists"),
        (["enqueue", "{not json"], 2, "not valid JSON"),
        (["enqueue", "--bogus"], 2, "No such option"),
        (["enqueue", '{"command":"x","priority":"high"}'], 2, "priority must be an integer"),
        (["enqueue", "-c", "x", "--max-retries", "-2"], 1, "max_retries"),
        (["show", "ghost"], 1, "job 'ghost' not found"),
        (["list", "--state", "sleeping"], 2, "pending"),
        (["dlq", "retry", "job1"], 1, "job 'job1' is pending, not dead"),
        (["config", "set", "max-retries", "-1"], 1, "must be an integer >= 0"),
        (["config", "set", "colour", "red"], 1, "valid keys"),
        (["nonsense"], 2, "No such command"),
    ]
    for args, code, text in cases:
        result = cli.run(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stdout == "", args
        assert result.stderr.count("\n") == 1 and text in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert cli.json("list") == before
    assert cli.json("config", "list")["max-retries"] == 3


@pytest.mark.smoke
def test_config_round_trip_and_json(cli: Cli) -> None:
    assert cli.ok("config", "set", "backoff_base", "3") == "backoff-base = 3\n"
    assert cli.ok("config", "get", "BACKOFF-BASE") == "3\n"
    values = cli.json("config", "list")
    assert values == {"max-retries": 3, "backoff-base": 3, "backoff-max": 3600, "job-timeout": 0,
                      "lease-timeout": 30, "max-log-bytes": 1048576, "retention": 0}


def test_config_change_reaches_running_workers(cli: Cli) -> None:
    cli.start_workers(1)
    cli.ok("config", "set", "backoff-base", "1")  # 1 ** n = 1 s between attempts
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


def test_control_characters_in_fields_are_shown_not_obeyed(cli: Cli, tmp_path: Path) -> None:
    """Anyone who can enqueue must not be able to clear or retitle an operator's terminal."""
    esc = "\x1b[2J\x1b]0;owned\x07"
    (tmp_path / f"d{esc}").mkdir()
    job_id = cli.ok("enqueue", "-c", f"echo {esc}", "-e", f"A={esc}", "--cwd", f"d{esc}",
                    "--delay", "1h").strip()
    for args in (["list"], ["show", job_id]):
        shown = cli.ok(*args)
        assert "\x1b" not in shown and "\x07" not in shown, args
        assert "echo \\x1b[2J\\x1b]0;owned\\x07" in shown, args
    assert "A=\\x1b[2J" in cli.ok("show", job_id)
    assert cli.json("show", job_id)["command"] == f"echo {esc}"  # JSON keeps the data exactly


def test_list_says_when_it_stopped_at_the_limit(cli: Cli) -> None:
    for _ in range(3):
        cli.enqueue("true", "--delay", "1h")
    assert "(the newest 2; --limit 0 lists all)" in cli.run("list", "--limit", "2").stderr
    assert cli.run("list", "--limit", "4").stderr == ""
    assert cli.run("list", "--limit", "2", "--json").stderr == ""
