"""Jobs as a user enqueues and reads them through the CLI, run by the embedded worker on
the test's clock: retries back off 2 s then 4 s into the DLQ, `--delay` and `--run-at` are
honoured and counted, each attempt keeps its own output, priorities order the work. Time
is moved past backoffs and schedules, never slept out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from queuectl.pool.worker import Worker
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

JUST_SHORT = 0.1  # seconds: how far short of a due time the clock is moved first


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_failing_job_backs_off_2s_4s_then_lands_in_dlq(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()  # JUST_SHORT must stay short of the due time
    cli.ok("enqueue", '{"id":"bad","command":"exit 3","max_retries":2}')
    assert worker.work_until_idle() == 1
    for wait in (2, 4):  # 2 ** 1, then 2 ** 2 (the default backoff-base)
        clock.move(wait - JUST_SHORT)
        assert worker.work_until_idle() == 0
        assert cli.job("bad")["state"] == "failed"
        clock.move(2 * JUST_SHORT)
        assert worker.work_until_idle() == 1
    job = cli.job("bad")
    log = job["attempts_log"]
    assert job["state"] == "dead"
    assert [a["exit_code"] for a in log] == [3, 3, 3]
    assert job["attempts"] == 3 and job["last_error"] == "exit code 3"
    gaps = [(ts(log[i + 1]["started_at"]) - ts(log[i]["finished_at"])).total_seconds()
            for i in range(2)]
    assert 2 <= gaps[0] < 3 and 4 <= gaps[1] < 5, gaps
    assert [j["id"] for j in cli.json("dlq", "list")] == ["bad"]


def test_delay_and_run_at_are_honoured_and_counted(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()  # JUST_SHORT must stay short of the due time
    run_at = (datetime.fromtimestamp(clock.now(), UTC) + timedelta(seconds=9)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    delayed = cli.json("enqueue", "-c", "true", "--delay", "8s")
    planned = cli.json("enqueue", "-c", "true", "--run-at", run_at)
    now_job = cli.enqueue("true")
    assert ts(delayed["run_at"]) - ts(delayed["created_at"]) >= timedelta(seconds=7.99)
    assert abs(ts(planned["run_at"]) - ts(run_at)) < timedelta(milliseconds=2)
    status = cli.json("status")
    assert status["scheduled"] == 2
    assert status["counts"]["pending"] == 3
    assert worker.work_until_idle() == 1
    assert cli.job(now_job)["state"] == "completed"
    for job in (delayed, planned):  # not started before their time
        clock.move((ts(job["run_at"]).timestamp() - clock.now()) - JUST_SHORT)
        assert worker.work_until_idle() == 0
        assert cli.job(job["id"])["state"] == "pending"
        clock.move(2 * JUST_SHORT)
        assert worker.work_until_idle() == 1
        done = cli.job(job["id"])
        assert done["state"] == "completed"
        assert ts(done["started_at"]) >= ts(job["run_at"])
    assert cli.json("status")["scheduled"] == 0


def test_logs_of_each_attempt(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("config", "set", "backoff-base", "1")  # every retry 1 s later
    job_id = cli.enqueue(
        "if [ -e flag ]; then echo second-run; else touch flag; echo first-run; exit 4; fi"
    )
    assert cli.run("logs", job_id).returncode == 1  # has not run yet
    assert worker.work_until_idle() == 1
    clock.move(1.1)
    assert worker.work_until_idle() == 1
    assert cli.job(job_id)["state"] == "completed"
    assert cli.ok("logs", job_id) == "second-run\n"
    assert cli.ok("logs", job_id, "--attempt", "1") == "first-run\n"
    assert cli.ok("logs", job_id, "--attempt", "2") == "second-run\n"
    assert cli.run("logs", job_id, "--attempt", "3").returncode == 1
    assert cli.run("logs", job_id, "--attempt", "0").returncode == 1  # out of range
    assert cli.json("logs", job_id, "--attempt", "1")["output"] == "first-run\n"


def test_priority_order_then_oldest_first(
    clocked_cli: InProcessCli, worker: Worker, tmp_path: Path,
) -> None:
    order = tmp_path / "order.txt"
    names = [("low", "0"), ("high-a", "5"), ("mid", "1"), ("high-b", "5"), ("neg", "-3")]
    ids = [clocked_cli.enqueue(f"echo {name} >> {order}", "-p", pri) for name, pri in names]
    assert worker.work_until_idle() == len(names)
    assert {clocked_cli.job(job_id)["state"] for job_id in ids} == {"completed"}
    assert order.read_text().split() == ["high-a", "high-b", "mid", "low", "neg"]
