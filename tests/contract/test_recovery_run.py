"""Recovery as the embedded worker does it, on the test's clock: a worker of another host
is lost by silence alone (its pid means nothing here), and a worker taken for lost while
its job ran learns it on its next heartbeat, kills its own copy, leaves the outcome to the
retry, registers again and runs what it claims then to the end.

The worker that falls silent runs in a thread on a clock of its own, held behind the
test's: to the others its heartbeats are that much old. Nothing waits out a lease."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.models import JobSpec, State, WorkerInfo, utcnow
from queuectl.pool.worker import Worker
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from tests.acceptance.process_tools import assert_group_gone, read_pid
from tests.clocks import MovingClock

LEASE = 3.0  # seconds (heartbeats every second)
PAST_LEASE = LEASE + 1
# Runs until killed: the first attempt of a job held by the worker that falls silent. It
# drops the variables by which a recovering worker finds a lost job's processes on this
# machine (pool/orphans.py), as if it ran on another host: what ends it is then the silent
# worker's own kill, once it hears it lost the job.
UNTIL_KILLED = ("exec env -u QUEUECTL_WORKER_ID -u QUEUECTL_JOB_ID "
                "sh -c 'echo $$ > {dir}/{name}.pid; sleep 300 & wait'")


def short_lease(store: Storage) -> None:
    store.config_set("lease-timeout", str(LEASE))
    store.config_set("backoff-base", "1")


def spec(command: str, job_id: str, queue: str = "default") -> JobSpec:
    return JobSpec(command=command, id=job_id, queue=queue, max_retries=2)


def gone_pid() -> int:
    """The pid of a process of ours that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


class Silent:
    """A worker of every queue that runs in a thread, on a clock of its own that stays
    where it is while the test's moves on."""

    def __init__(self, db_url: str) -> None:
        held = MovingClock()  # never moved
        self.store = open_store(db_url, clock=held.now)
        self.worker = Worker(self.store, (), clocks=held.clocks)
        self.ran: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.ran.append(self.worker.work_until_idle()), daemon=True)
        self.thread.start()

    def returned(self) -> int:
        """How many jobs its run took in hand, once it returned."""
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the silent worker did not return"
        return self.ran[0]


@pytest.fixture
def silent(db_url: str) -> Iterator[list[Silent]]:
    """Where a test keeps its silent worker: its thread is joined and its store closed."""
    made: list[Silent] = []
    yield made
    for one in made:
        one.thread.join(timeout=30)
        one.store.close()


def test_a_lost_worker_on_another_host_is_recovered_after_the_lease_only(
    clocked_store: Storage, clock: MovingClock, worker: Worker,
) -> None:
    """Liveness lives in the store: a worker of another host is lost only by silence,
    even when its pid names no process here."""
    clock.freeze()  # the steps stop half a second short of the lease, a second of a backoff
    short_lease(clocked_store)
    now = utcnow()
    clocked_store.register_worker(WorkerInfo("far", "elsewhere", gone_pid(), "idle", None,
                                             now, now))
    clocked_store.enqueue([spec("echo done", "held")])
    held = clocked_store.claim("far")
    assert held is not None
    assert worker.work_until_idle() == 0  # its pid is gone, but that of another host
    clock.move(LEASE - 0.5)
    assert worker.work_until_idle() == 0
    job = clocked_store.get_job("held")
    assert job is not None and job.state is State.PROCESSING
    clock.move(1)  # past the lease: lost, and retried after its 1 s backoff
    assert worker.work_until_idle() == 0
    clock.move(1.1)
    assert worker.work_until_idle() == 1
    job = clocked_store.get_job("held")
    assert job is not None and job.state is State.COMPLETED
    log = clocked_store.attempts("held")
    assert [(a.worker, a.error) for a in log] == [("far", "worker lost"), (worker.id, None)]
    out = clocked_store.read_output("held")
    assert out is not None and out.data == b"done\n"


def test_a_worker_taken_for_lost_kills_its_copy_and_leaves_the_outcome_to_the_retry(
    clocked_store: Storage, clock: MovingClock, worker: Worker, db_url: str,
    tmp_path: Path, silent: list[Silent],
) -> None:
    short_lease(clocked_store)
    command = (f"if [ -e {tmp_path}/first.pid ]; then echo again; "
               f"else {UNTIL_KILLED.format(dir=tmp_path, name='first')}; fi")
    clocked_store.enqueue([spec(command, "j")])
    silent.append(x := Silent(db_url))
    first_shell = read_pid(tmp_path / "first.pid")
    assert worker.work_until_idle() == 0  # held by x
    clock.move(PAST_LEASE)  # x's heartbeats are now older than the lease
    assert worker.work_until_idle() == 0  # taken back; the retry waits 1 s
    assert x.returned() == 1  # x heard it lost the job and killed its copy
    assert_group_gone(first_shell)
    clock.move(1.1)
    assert worker.work_until_idle() == 1
    job = clocked_store.get_job("j")
    assert job is not None and (job.state, job.attempts) == (State.COMPLETED, 2)
    log = clocked_store.attempts("j")
    assert [(a.worker, a.error) for a in log] == [(x.worker.id, "worker lost"),
                                                  (worker.id, None)]
    out = clocked_store.read_output("j")
    assert out is not None and out.data == b"again\n"


def test_a_worker_back_from_a_long_silence_cancels_nothing(
    clocked_store: Storage, clock: MovingClock, db_url: str, tmp_path: Path,
    silent: list[Silent],
) -> None:
    """x goes silent past the lease while its job runs; y takes the job over. x learns it
    was taken for lost: it registers again before it claims anything, and what it then
    claims it runs to the end (nobody cancelled it)."""
    short_lease(clocked_store)
    y = Worker(clocked_store, ("default",), clocks=clock.clocks)
    first = UNTIL_KILLED.format(dir=tmp_path, name="j1")
    clocked_store.enqueue([JobSpec(command=f"if [ -e {tmp_path}/j1.pid ]; then true; "
                                           f"else {first}; fi", id="j1", priority=9,
                                   max_retries=2)])
    # Due for x the whole time (its clock stays behind); served by x alone.
    clocked_store.enqueue([spec("echo ran", job_id, queue="x-only")
                           for job_id in ("j2", "j3", "j4")])
    silent.append(x := Silent(db_url))
    shell = read_pid(tmp_path / "j1.pid")
    assert y.work_until_idle() == 0
    clock.move(PAST_LEASE)
    assert y.work_until_idle() == 0  # j1 taken back from x; its retry waits 1 s
    assert_group_gone(shell)
    assert x.returned() == 4  # j1 (lost), then j2, j3 and j4 to the end
    clock.move(1.1)
    assert y.work_until_idle() == 1  # j1's retry
    logs = {job_id: clocked_store.attempts(job_id) for job_id in ("j1", "j2", "j3", "j4")}
    for job_id, log in logs.items():
        job = clocked_store.get_job(job_id)
        assert job is not None and job.state is State.COMPLETED, (job_id, job)
        outcomes = [a.outcome.value for a in log if a.outcome is not None]
        assert "cancelled" not in outcomes, job_id
        for before, after in zip(log, log[1:], strict=False):  # one attempt at a time
            assert before.finished_at is not None and before.finished_at <= after.started_at
    assert [(a.worker, a.error) for a in logs["j1"]] == [(x.worker.id, "worker lost"),
                                                         (y.id, None)]
    for job_id in ("j2", "j3", "j4"):
        assert [(a.worker, a.error) for a in logs[job_id]] == [(x.worker.id, None)]
