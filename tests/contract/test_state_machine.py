"""A hypothesis state machine drives a real store (each backend) through enqueue (with and
without dependencies), claim, finish, cancel, dlq retry and crash recovery, and checks it
against a small in-memory model.

Backend-neutral: one store per test, and each example works in its own id namespace and
leaves every one of its jobs final, so examples cannot see each other's work. Workers that
"crash" are registered on this host with the pid of a process that has exited, so the
same-host liveness shortcut declares them lost at once (no waiting out a lease).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from dataclasses import dataclass, field

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from queuectl import retry
from queuectl.errors import DependencyRefused, JobNotFound, LostLease, WrongState
from queuectl.models import (
    FINAL_STATES,
    READY_STATES,
    AttemptResult,
    Job,
    JobSpec,
    Outcome,
    State,
    WorkerInfo,
    utcnow,
)
from queuectl.pool.recovery import recover_stale
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID, PID_SCOPE
from queuectl.transitions import after_attempt

LONG_LEASE = 3600.0  # seconds: live workers never go silent that long during a test
RETRY_CAP = 1e-6  # seconds: the real policy, capped so a failed job is due at once
EXAMPLES = itertools.count()
LABELS = ["a", "it's", "x'; DROP TABLE jobs;--", "é 日本", "s p"]  # ids are data


def policy(job: Job) -> retry.NextStep:
    return retry.after_failure(job.attempts, job.max_retries, 1.0, RETRY_CAP)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@dataclass
class Model:
    state: State
    attempts: int
    max_retries: int
    priority: int
    order: int  # insertion order: breaks priority/run_at ties
    last_attempt: int = 0
    holder: str | None = None
    after: list[str] = field(default_factory=list)


@dataclass
class Held:
    """A claim as the worker that made it remembers it."""

    job: Job
    worker: str
    stale: bool = False  # cancelled or recovered since: finishing must raise LostLease


@dataclass
class World:
    jobs: dict[str, Model] = field(default_factory=dict)
    held: list[Held] = field(default_factory=list)

    def waiting_for(self, job_id: str) -> list[str]:
        """A job's dependencies that have not completed (all of them wait while it does)."""
        model = self.jobs[job_id]
        if model.state is not State.PENDING:
            return []
        return [d for d in model.after if self.jobs[d].state is not State.COMPLETED]

    def ready(self) -> list[str]:
        return [i for i, m in self.jobs.items()
                if m.state in READY_STATES and not self.waiting_for(i)]

    def cancel_dependents(self, cancelled: str) -> None:
        """What waits on a cancelled job, directly or not, is cancelled with it."""
        doomed = [cancelled]
        while doomed:
            gone = doomed.pop()
            for job_id, model in self.jobs.items():
                if model.state is State.PENDING and gone in model.after:
                    model.state = State.CANCELLED
                    doomed.append(job_id)


OUTCOMES = st.sampled_from([Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT,
                            Outcome.KILLED, Outcome.NOT_STARTED, Outcome.INTERRUPTED])


class StoreMachine(RuleBasedStateMachine):
    store: Storage  # set on the class by the test

    job_ids = Bundle("job_ids")

    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"ex{next(EXAMPLES)}-"
        self.world = World()
        self.live = [f"{self.prefix}live-{n}" for n in range(2)]
        self.doomed: list[str] = []
        self.generation = 0
        for worker in self.live:
            self._register(worker, os.getpid())

    def _register(self, worker: str, pid: int) -> None:
        now = utcnow()
        # In this process's boot and PID namespace: a doomed worker's dead pid is judged.
        self.store.register_worker(WorkerInfo(worker, HOST_ID, pid, "idle", None, now, now, [],
                                              PID_SCOPE))

    # --- rules ---------------------------------------------------------------------------

    @initialize(target=job_ids)
    def first_jobs(self) -> object:
        return multiple(*[self._enqueue(0, 1, n) for n in range(2)])

    @rule(target=job_ids, priority=st.integers(0, 2), max_retries=st.integers(0, 2),
          label=st.sampled_from(LABELS))
    def enqueue(self, priority: int, max_retries: int, label: str) -> str:
        return self._enqueue(priority, max_retries, label)

    def _enqueue(self, priority: int, max_retries: int, label: object) -> str:
        job_id = f"{self.prefix}{len(self.world.jobs)}-{label}"
        [job] = self.store.enqueue([JobSpec(command="true", id=job_id, priority=priority,
                                            max_retries=max_retries)])
        assert job.state is State.PENDING and job.id == job_id
        self.world.jobs[job_id] = Model(State.PENDING, 0, max_retries, priority,
                                        len(self.world.jobs))
        return job_id

    @rule(target=job_ids, deps=st.lists(job_ids, min_size=1, max_size=3, unique=True),
          priority=st.integers(0, 2))
    def enqueue_after(self, deps: list[str], priority: int) -> object:
        job_id = f"{self.prefix}{len(self.world.jobs)}-after"
        spec = JobSpec(command="true", id=job_id, priority=priority, max_retries=1,
                       after=tuple(deps))
        cancelled = [d for d in deps if self.world.jobs[d].state is State.CANCELLED]
        if cancelled:
            try:
                self.store.enqueue([spec])
            except DependencyRefused as exc:
                assert exc.dependency == cancelled[0]
            else:
                raise AssertionError(f"enqueued after cancelled {cancelled}")
            assert self.store.get_job(job_id) is None
            return multiple()
        [job] = self.store.enqueue([spec])
        self.world.jobs[job_id] = Model(State.PENDING, 0, 1, priority, len(self.world.jobs),
                                        after=list(deps))
        assert (list(job.after), list(job.waiting_for)) == (deps, self.world.waiting_for(job_id))
        return job_id

    @rule(job_id=job_ids)
    def enqueue_duplicate(self, job_id: str) -> None:
        before = self.store.get_job(job_id)
        try:
            self.store.enqueue([JobSpec(command="false", id=job_id, max_retries=0)])
        except Exception as exc:  # noqa: BLE001 - the type is checked just below
            assert type(exc).__name__ == "DuplicateJob"
        else:
            raise AssertionError("a duplicate id was accepted")
        assert self.store.get_job(job_id) == before

    @rule(doomed=st.booleans())
    def claim(self, doomed: bool) -> None:
        worker = self._claimer(doomed)
        ready = self.world.ready()
        if any(self.world.jobs[i].state is State.FAILED for i in ready):
            time.sleep(0.003)  # a failed job is due RETRY_CAP (rounded to a ms) later
        job = self.store.claim(worker)
        if not ready:
            assert job is None
            return
        assert job is not None, f"nothing claimed though {ready} are ready"
        assert job.id in ready, f"claimed {job.id}, which is not ready"
        self._check_order(job, ready)
        model = self.world.jobs[job.id]
        model.state, model.holder = State.PROCESSING, worker
        model.last_attempt += 1
        assert job.last_attempt == model.last_attempt and job.worker == worker
        self.world.held.append(Held(job, worker))

    def _claimer(self, doomed: bool) -> str:
        if not doomed:
            return self.live[len(self.world.held) % len(self.live)]
        if not self.doomed:
            self.generation += 1
            worker = f"{self.prefix}doomed-{self.generation}"
            self._register(worker, dead_pid())
            self.doomed.append(worker)
        return self.doomed[0]

    def _check_order(self, job: Job, ready: list[str]) -> None:
        """Priority first, then run_at, then insertion order."""
        top = max(self.world.jobs[i].priority for i in ready)
        assert job.priority == top
        rivals = [i for i in ready if self.world.jobs[i].priority == top and i != job.id]
        mine = (job.run_at, self.world.jobs[job.id].order)
        for other in rivals:
            theirs = self.store.get_job(other)
            assert theirs is not None
            assert mine <= (theirs.run_at, self.world.jobs[other].order), (job, theirs)

    @precondition(lambda self: any(not h.stale for h in self.world.held))
    @rule(data=st.data(), outcome=OUTCOMES)
    def finish(self, data: st.DataObject, outcome: Outcome) -> None:
        held = data.draw(st.sampled_from([h for h in self.world.held if not h.stale]))
        self.world.held.remove(held)
        code = {Outcome.SUCCEEDED: 0, Outcome.FAILED: 3}.get(outcome)
        result = AttemptResult(outcome, code, None if code == 0 else f"{outcome}")
        step = after_attempt(held.job, result, policy)
        job = self.store.finish(held.job, held.worker, result, step)
        model = self.world.jobs[held.job.id]
        model.holder = None
        if outcome is Outcome.SUCCEEDED:
            model.state, model.attempts = State.COMPLETED, model.attempts + 1
        elif outcome is Outcome.INTERRUPTED:
            model.state = State.PENDING
        else:
            model.attempts += 1
            model.state = State.FAILED if model.attempts <= model.max_retries else State.DEAD
        assert (job.state, job.attempts) == (model.state, model.attempts)

    @precondition(lambda self: any(h.stale for h in self.world.held))
    @rule()
    def finish_stale(self) -> None:
        held = next(h for h in self.world.held if h.stale)
        self.world.held.remove(held)
        before = self.store.get_job(held.job.id)
        try:
            ok = AttemptResult(Outcome.SUCCEEDED, 0)
            self.store.finish(held.job, held.worker, ok, after_attempt(held.job, ok, policy))
        except LostLease:
            pass
        else:
            raise AssertionError("a worker finished a job it no longer held")
        after = self.store.get_job(held.job.id)
        assert after is not None and before is not None
        assert (after.state, after.attempts, after.last_attempt) == (before.state, before.attempts,
                                                            before.last_attempt)

    @rule(job_id=job_ids)
    def cancel(self, job_id: str) -> None:
        model = self.world.jobs[job_id]
        if model.state in FINAL_STATES:
            try:
                self.store.cancel([job_id])
            except WrongState as exc:
                assert exc.state == model.state
            else:
                raise AssertionError(f"cancelled a {model.state} job")
            return
        [job] = self.store.cancel([job_id])
        assert job.state is State.CANCELLED
        if model.state is State.PROCESSING:  # the attempt it cut short counts
            model.attempts += 1
        model.state = State.CANCELLED
        self._drop_hold(job_id)
        self.world.cancel_dependents(job_id)

    @rule()
    def cancel_unknown(self) -> None:
        try:
            self.store.cancel([f"{self.prefix}no-such-job"])
        except JobNotFound:
            return
        raise AssertionError("cancelled a job that does not exist")

    @rule(job_id=job_ids)
    def retry_dead(self, job_id: str) -> None:
        model = self.world.jobs[job_id]
        if model.state is not State.DEAD:
            try:
                self.store.retry_dead([job_id])
            except WrongState as exc:
                assert exc.state == model.state
            else:
                raise AssertionError(f"dlq retry accepted a {model.state} job")
            return
        [job] = self.store.retry_dead([job_id])
        assert (job.state, job.attempts) == (State.PENDING, 0)
        model.state, model.attempts = State.PENDING, 0

    @precondition(lambda self: bool(self.doomed))
    @rule()
    def doomed_worker_dies(self) -> None:
        """Its pid is already gone: the next recover_stale hands its jobs back."""
        recovered = recover_stale(self.store, LONG_LEASE, policy)
        mine = {r.job_id: r for r in recovered if r.job_id.startswith(self.prefix)}
        lost = {i for i, m in self.world.jobs.items()
                if m.state is State.PROCESSING and m.holder in self.doomed}
        assert set(mine) == lost
        for job_id in lost:
            model = self.world.jobs[job_id]
            model.attempts += 1
            model.state = State.FAILED if model.attempts <= model.max_retries else State.DEAD
            model.holder = None
            assert mine[job_id].new_state is model.state
            self._drop_hold(job_id)
        self.doomed.clear()
        assert not [w for w in self.store.list_workers() if w.id.startswith(f"{self.prefix}doomed")]

    @rule()
    def recover_with_nobody_lost(self) -> None:
        if self.doomed:
            return  # covered by doomed_worker_dies
        recovered = recover_stale(self.store, LONG_LEASE, policy)
        assert not [r for r in recovered if r.job_id.startswith(self.prefix)]

    def _drop_hold(self, job_id: str) -> None:
        for held in self.world.held:
            if held.job.id == job_id:
                held.stale = True

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        for job_id, model in self.world.jobs.items():
            job = self.store.get_job(job_id)
            assert job is not None, f"{job_id} lost"
            assert (job.state, job.attempts, job.last_attempt) == (
                model.state, model.attempts, model.last_attempt), (job, model)
            if model.state is State.PROCESSING:
                assert job.worker == model.holder
            assert list(job.after) == model.after
            assert list(job.waiting_for) == self.world.waiting_for(job_id), (job, model)

    @invariant()
    def attempts_log_is_sound(self) -> None:
        for job_id, model in self.world.jobs.items():
            log = self.store.attempts(job_id)
            assert [a.number for a in log] == list(range(1, model.last_attempt + 1))
            still_open = [a for a in log if a.finished_at is None]
            # Only the attempt of a job still processing may be open (one at a time).
            if model.state is State.PROCESSING:
                assert [a.number for a in still_open] == [model.last_attempt]
            elif model.state is not State.CANCELLED:
                assert still_open == []
            for a in log:
                if a.finished_at is not None:
                    assert a.finished_at >= a.started_at

    @invariant()
    def dlq_matches_model(self) -> None:
        dead = {j.id for j in self.store.list_jobs(State.DEAD, limit=None)
                if j.id.startswith(self.prefix)}
        assert dead == {i for i, m in self.world.jobs.items() if m.state is State.DEAD}

    @invariant()
    def held_jobs_are_held_once(self) -> None:
        holders = [h.job.id for h in self.world.held if not h.stale]
        assert len(holders) == len(set(holders)), "one job held by two claims"

    def teardown(self) -> None:
        """Leave nothing claimable for the next example; its workers go away."""
        # The store's view, not the model's: after a failed check they may differ.
        mine = self.store.list_jobs(limit=None, id_contains=self.prefix)
        open_ids = [j.id for j in mine if j.state not in FINAL_STATES]
        if open_ids:
            self.store.cancel(open_ids)
        for worker in [*self.live, *self.doomed]:
            self.store.unregister_worker(worker)


def test_storage_against_the_model(store: Storage) -> None:
    StoreMachine.store = store
    # Typed in hypothesis's newer releases, not in some that the declared range allows.
    run_state_machine_as_test(  # type: ignore[no-untyped-call, unused-ignore]
        StoreMachine,
        settings=settings(
            max_examples=min(25, settings().max_examples),  # fewer in the "lowest" profile
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
