"""Where a job goes after an attempt: pure policy, no I/O.

The worker computes the step (from the job as it claimed it) and hands it to the store,
which applies it inside its own transaction, guarded (the row must still be the caller's
attempt): storage neither defines the policy nor calls back into it. The retry policy
(retry.after_failure bound to the current config) decides failures; everything else is
fixed here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from queuectl.exitcodes import matches
from queuectl.models import WORKER_LOST_ERROR, AttemptResult, Job, Outcome, State
from queuectl.records import record, replace
from queuectl.retry import NextStep

# The retry policy as the worker holds it: given a job that just failed, where it goes
# (retry.after_failure bound to the current config).
FailurePolicy = Callable[[Job], NextStep]

EXPIRED_ERROR = "expired"  # last_error of a job whose expires_at came before it started
DEADLINE_ERROR = "deadline exceeded"  # last_error of a job past its deadline

# How an attempt ends when its worker is lost (a recovery hands the job back).
LOST_ATTEMPT = AttemptResult(Outcome.WORKER_LOST, error=WORKER_LOST_ERROR)


@record(frozen=True)
class Transition:
    """A job's next state after one attempt, as both stores write it."""

    state: State
    attempts: int
    delay_ms: int | None  # due again this long after the store's now; None keeps run_at
    error: str | None  # the job's new last_error

    @property
    def back_in_queue(self) -> bool:
        """Handed back to the queue: idle workers should claim it or re-plan their sleep."""
        return self.state in (State.PENDING, State.FAILED) and self.delay_ms is not None


def judged(job: Job, result: AttemptResult) -> AttemptResult:
    """How the job's own exit codes read the attempt: one of its ``success_exit`` codes
    succeeded (its exit code kept); anything else stands as the runner reported it."""
    if (result.outcome is Outcome.FAILED and job.success_exit
            and matches(job.success_exit, result.exit_code)):
        return replace(result, outcome=Outcome.SUCCEEDED, error=None)
    return result


def no_retry_error(code: int | None) -> str:
    """last_error of a job whose exit code is one of its ``no_retry_exit`` codes."""
    return f"exit code {code} (no retry)"


def at_claim(job: Job) -> tuple[State, str] | None:
    """Pure: where a job just claimed goes instead of starting, (state, last_error), or
    None when it starts. One never started before whose ``expires_at`` has come is
    cancelled as expired; one whose deadline has passed goes dead. ``job.started_at`` is
    the claim's time, by the store's clock."""
    now = job.started_at
    if now is None:
        return None
    if job.expires_at is not None and job.last_attempt <= 1 and now >= job.expires_at:
        return State.CANCELLED, EXPIRED_ERROR
    if job.deadline_at is not None and now >= job.deadline_at:
        return State.DEAD, DEADLINE_ERROR
    return None


def time_left(job: Job) -> float | None:
    """Seconds this attempt of a claimed job may run: its timeout, cut short by its
    deadline (None: no limit)."""
    limit = job.timeout or None
    if job.deadline_at is not None and job.started_at is not None:
        left = max(0.001, (job.deadline_at - job.started_at).total_seconds())
        limit = left if limit is None else min(limit, left)
    return limit


def after_attempt(job: Job, result: AttemptResult, policy: FailurePolicy,
                  ended_at: datetime | None = None) -> Transition:
    """Pure: success completes (a ``success_exit`` code too), a cancel cancels, an
    interruption hands the job back without spending a retry, a ``no_retry_exit`` code goes
    dead at once, anything else is a failure for ``policy`` to place (failed or dead). With
    a deadline (``job.deadline_at``), a failure that ended past it (``ended_at``, by the
    store's clock), or whose retry would come past it, goes dead."""
    if job.success_exit:  # (rarely set: no call per job without)
        result = judged(job, result)
    if result.outcome is Outcome.SUCCEEDED:
        return Transition(State.COMPLETED, job.attempts + 1, None, None)
    if result.outcome is Outcome.CANCELLED:
        return Transition(State.CANCELLED, job.attempts + 1, None, result.error or "cancelled")
    if result.outcome is Outcome.INTERRUPTED:
        # Not the job's fault: hand it back without spending one of its retries.
        return Transition(State.PENDING, job.attempts, 0, result.error)
    if (result.outcome is Outcome.FAILED and job.no_retry_exit
            and matches(job.no_retry_exit, result.exit_code)):
        return Transition(State.DEAD, job.attempts + 1, None, no_retry_error(result.exit_code))
    step = policy(job)
    if job.deadline_at is not None and ended_at is not None and (
            ended_at >= job.deadline_at or (
                step.retry_in is not None
                and ended_at + timedelta(seconds=step.retry_in) > job.deadline_at)):
        return Transition(State.DEAD, step.attempts, None, DEADLINE_ERROR)
    delay_ms = int(step.retry_in * 1000) if step.retry_in is not None else None
    return Transition(step.state, step.attempts, delay_ms, result.error)


def after_snooze(job: Job, result: AttemptResult, seconds: float) -> Transition | None:
    """Pure: a job whose attempt asked to snooze (`queuectl snooze`) waits ``seconds``
    more after it ends, whatever its exit code, without spending a retry; None when the
    attempt was cancelled or interrupted (those win)."""
    if result.outcome in (Outcome.CANCELLED, Outcome.INTERRUPTED):
        return None
    return Transition(State.PENDING, job.attempts, max(1, int(seconds * 1000)), None)


def after_loss(job: Job, policy: FailurePolicy) -> Transition:
    """Pure: where a job held by a lost worker goes (its attempt ends as LOST_ATTEMPT)."""
    return after_attempt(job, LOST_ATTEMPT, policy)
