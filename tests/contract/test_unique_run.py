"""A unique key through the CLI as its jobs run: held while a job with it waits or runs,
free again once that job is final, and a dead job cannot come back beside the holder."""

from __future__ import annotations

from queuectl.models import WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.inprocess import InProcessCli


def test_the_key_is_free_again_once_the_job_is_final(
    clocked_cli: InProcessCli, clocked_store: Storage, worker: Worker,
) -> None:
    cli = clocked_cli
    first = cli.enqueue("exit 3", "--unique-key", "k", "--max-retries", "0")
    assert worker.work_until_idle() == 1
    assert cli.job(first)["state"] == "dead"
    second = cli.enqueue("sleep 60", "--unique-key", "k")
    assert second != first
    # Running: held by a worker of another host.
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("busy", "elsewhere", 1, "idle", None, now, now))
    held = clocked_store.claim("busy")
    assert held is not None and held.id == second
    assert cli.enqueue("true", "--unique-key", "k") == second  # held while it runs
    # The dead one cannot come back beside the one that holds its key; nothing changes.
    proc = cli.run("dlq", "retry", first)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert f"job '{second}' holds its unique key" in proc.stderr
    assert cli.job(first)["state"] == "dead"
    cli.ok("cancel", second)
    cli.ok("dlq", "retry", first)  # free again
    assert cli.job(first)["state"] == "pending"
