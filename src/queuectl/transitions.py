"""Where a job goes after an attempt: pure policy, no I/O.

The worker computes the step (from the job as it claimed it) and hands it to the store,
which applies it inside its own transaction, guarded (the row must still be the caller's
attempt): storage neither defines the policy nor calls back into it. The retry policy
(retry.after_failure bound to the current config) decides failures; everything else is
fixed here.
"""

from __future__ import annotations

from collections.abc import Callable

from queuectl.exitcodes import matches
from queuectl.models import WORKER_LOST_ERROR, AttemptResult, Job, Outcome, State
from queuectl.records import record, replace
from queuectl.retry import NextStep

# The retry policy as the worker holds it: given a job that just failed, where it goes
# (retry.after_failure bound to the current config).
FailurePolicy = Callable[[Job], NextStep]

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


def after_attempt(job: Job, result: AttemptResult, policy: FailurePolicy) -> Transition:
    """Pure: success completes (a ``success_exit`` code too), a cancel cancels, an
    interruption hands the job back without spending a retry, a ``no_retry_exit`` code goes
    dead at once, anything else is a failure for ``policy`` to place (failed or dead)."""
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
    delay_ms = int(step.retry_in * 1000) if step.retry_in is not None else None
    return Transition(step.state, step.attempts, delay_ms, result.error)


def after_loss(job: Job, policy: FailurePolicy) -> Transition:
    """Pure: where a job held by a lost worker goes (its attempt ends as LOST_ATTEMPT)."""
    return after_attempt(job, LOST_ATTEMPT, policy)
