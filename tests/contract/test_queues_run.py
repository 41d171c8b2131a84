"""Queue pause and limits as the embedded worker meets them, set and read through the CLI:
a job running when its queue is paused finishes, nothing more of that queue starts while
other queues are served, and a resume (or a limit raised) releases the held jobs."""

from __future__ import annotations

from queuectl.pool.worker import Worker
from tests.inprocess import InProcessCli


def test_pause_while_a_job_runs_and_resume(
    clocked_cli: InProcessCli, worker: Worker, db_url: str,
) -> None:
    cli = clocked_cli
    # The first job of "reports" pauses its own queue from another process as it runs.
    running = cli.enqueue(f"queuectl --db '{db_url}' queue pause reports >/dev/null; echo ran",
                          "--queue", "reports", "-p", "9")
    held = [cli.enqueue("true", "--queue", "reports") for _ in range(2)]
    other = cli.enqueue("true", "--queue", "default")
    assert worker.work_until_idle() == 2  # the running job finishes, other queues go on
    assert cli.job(running)["state"] == "completed" and cli.ok("logs", running) == "ran\n"
    assert cli.job(other)["state"] == "completed"
    for job_id in held:  # and nothing of the paused queue starts
        assert cli.job(job_id)["state"] == "pending"
    assert cli.json("status")["paused_queues"] == ["reports"]
    [reports] = [q for q in cli.json("queue", "list") if q["name"] == "reports"]
    assert reports["paused"] is True and reports["counts"]["pending"] == 2
    assert "paused queues: reports" in cli.run("worker", "list").stderr
    assert cli.ok("queue", "resume", "reports").strip() == "queue reports: resumed"
    assert worker.work_until_idle() == 2
    for job_id in held:
        assert cli.job(job_id)["state"] == "completed"
    assert cli.json("status")["paused_queues"] == []


def test_limit_zero_holds_back_and_raising_it_releases(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("queue", "limit", "gpu", "0")
    job_id = cli.enqueue("true", "--queue", "gpu")
    done = cli.enqueue("true")
    assert worker.work_until_idle() == 1
    assert cli.job(done)["state"] == "completed"
    assert cli.job(job_id)["state"] == "pending"
    cli.ok("queue", "limit", "gpu", "none")
    assert worker.work_until_idle() == 1
    assert cli.job(job_id)["state"] == "completed"
    assert cli.json("queue", "list")[1]["limit"] is None
