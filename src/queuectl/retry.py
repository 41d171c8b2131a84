"""Retry policy: pure functions, no I/O, property-tested."""

from __future__ import annotations

from queuectl.models import State
from queuectl.records import record


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait before the next attempt: min(base ** attempts, cap).

    ``attempts`` counts the attempts finished so far (1 after the first failure), so with
    base 2 the waits are 2 s, 4 s, 8 s ... The power is computed so that it can never
    overflow: once it would pass the cap, the cap is the answer.
    """
    if attempts < 0 or base < 1 or cap <= 0:
        raise ValueError("need attempts >= 0, base >= 1 and cap > 0")
    value = 1.0
    for _ in range(attempts):
        value *= base
        if value >= cap:
            return float(cap)
    return float(min(value, cap))


@record(frozen=True)
class NextStep:
    """Where a failed attempt leaves the job: retried after ``retry_in`` seconds, or dead."""

    state: State  # FAILED (to be retried) or DEAD
    attempts: int  # attempts finished, including the one that just failed
    retry_in: float | None  # seconds until the retry; None when dead


def after_failure(attempts_before: int, max_retries: int, base: float, cap: float) -> NextStep:
    """Where a job goes after a failed attempt: retried later, or to the DLQ.

    ``max_retries`` is retries after the first attempt, so a job runs at most
    ``max_retries + 1`` times.
    """
    attempts = attempts_before + 1
    if attempts <= max_retries:
        return NextStep(State.FAILED, attempts, backoff(attempts, base, cap))
    return NextStep(State.DEAD, attempts, None)
