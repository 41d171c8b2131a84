"""Exit-code lists (`--success-exit`, `--no-retry-exit`) and where they send a job after an
attempt: pure code, property-tested."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.errors import UsageError
from queuectl.exitcodes import matches, parse_codes
from queuectl.models import AttemptResult, Job, Outcome, State
from queuectl.retry import after_failure
from queuectl.transitions import after_attempt, judged

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(success: tuple[int | str, ...] = (), no_retry: tuple[int | str, ...] = (),
        attempts: int = 0, max_retries: int = 3) -> Job:
    return Job(id="j", command="x", state=State.PROCESSING, attempts=attempts,
               max_retries=max_retries, priority=0, timeout=None, queue="default",
               run_at=T0, created_at=T0, updated_at=T0, success_exit=success,
               no_retry_exit=no_retry)


def policy(j: Job):  # type: ignore[no-untyped-def]
    return after_failure(j.attempts, j.max_retries, 2, 3600)


def test_codes_read_as_given() -> None:
    assert parse_codes("success_exit", "2,64-78") == (2, "64-78")
    assert parse_codes("success_exit", [2, "64-78", "3"]) == (2, "64-78", 3)
    assert parse_codes("success_exit", " 1 , 5-5 ,1") == (1, "5-5")
    assert parse_codes("success_exit", None) == ()
    assert parse_codes("success_exit", "") == ()


@pytest.mark.parametrize("bad", ["1-x", "9-3", "256", "-1", "1,,2", "x", "1-2-3", "٣",
                                 [True], [1.5], [300], ["1-256"], {"a": 1}, 7])
def test_bad_codes_are_refused(bad: object) -> None:
    with pytest.raises(UsageError, match="success_exit"):
        parse_codes("success_exit", bad)


@given(st.lists(st.one_of(st.integers(0, 255),
                          st.tuples(st.integers(0, 255), st.integers(0, 255))), max_size=8),
       st.integers(0, 255))
def test_matches_is_membership(entries: list[int | tuple[int, int]], code: int) -> None:
    given_form = [e if isinstance(e, int) else f"{min(e)}-{max(e)}" for e in entries]
    wanted = any(e == code if isinstance(e, int) else min(e) <= code <= max(e)
                 for e in entries)
    assert matches(parse_codes("codes", given_form), code) is wanted
    assert matches(parse_codes("codes", ",".join(map(str, given_form))), code) is wanted


def test_success_code_completes_and_keeps_its_exit_code() -> None:
    result = AttemptResult(Outcome.FAILED, exit_code=3, error="exit code 3")
    step = after_attempt(job(success=("2-4",)), result, policy)
    assert (step.state, step.attempts, step.error) == (State.COMPLETED, 1, None)
    assert judged(job(success=(3,)), result) == AttemptResult(Outcome.SUCCEEDED, exit_code=3)


def test_no_retry_code_goes_dead_at_once() -> None:
    result = AttemptResult(Outcome.FAILED, exit_code=2, error="exit code 2")
    step = after_attempt(job(no_retry=(2,)), result, policy)
    assert (step.state, step.attempts, step.delay_ms) == (State.DEAD, 1, None)
    assert step.error == "exit code 2 (no retry)"


@given(st.integers(1, 255), st.integers(0, 5), st.integers(0, 5),
       st.sampled_from(list(Outcome)),
       st.lists(st.integers(0, 255), max_size=4), st.lists(st.integers(0, 255), max_size=4))
def test_exit_policies_only_ever_change_failed_exits(
    code: int, attempts: int, max_retries: int, outcome: Outcome,
    success: list[int], no_retry: list[int],
) -> None:
    plain = job(attempts=attempts, max_retries=max_retries)
    ruled = job(tuple(success), tuple(no_retry), attempts, max_retries)
    result = AttemptResult(outcome, exit_code=code, error="e")
    before, after = after_attempt(plain, result, policy), after_attempt(ruled, result, policy)
    if outcome is not Outcome.FAILED:  # timeouts, kills, cancels: never an exit code's say
        assert after == before
    elif code in success:  # success wins over no-retry
        assert after.state is State.COMPLETED and after.attempts == attempts + 1
    elif code in no_retry:
        assert (after.state, after.attempts) == (State.DEAD, attempts + 1)
    else:
        assert after == before
    assert after.attempts in (attempts, attempts + 1)


def test_at_claim_expires_only_a_job_never_started() -> None:
    from datetime import timedelta

    from queuectl.models import replaced_job
    from queuectl.transitions import at_claim

    claimed = replaced_job(job(), started_at=T0, last_attempt=1,
                           expires_at=T0 - timedelta(seconds=1))
    assert at_claim(claimed) == (State.CANCELLED, "expired")
    assert at_claim(replaced_job(claimed, last_attempt=2)) is None  # it started before
    assert at_claim(replaced_job(claimed, expires_at=T0 + timedelta(seconds=1))) is None
    late = replaced_job(job(), started_at=T0, last_attempt=2, deadline_at=T0)
    assert at_claim(late) == (State.DEAD, "deadline exceeded")


@given(st.integers(0, 5), st.integers(0, 8), st.floats(0, 100), st.floats(0.5, 100),
       st.sampled_from([Outcome.FAILED, Outcome.TIMED_OUT, Outcome.KILLED,
                        Outcome.NOT_STARTED]))
def test_a_failure_never_retries_past_the_deadline(
    attempts: int, max_retries: int, ran: float, deadline: float, outcome: Outcome,
) -> None:
    from datetime import timedelta

    from queuectl.models import replaced_job
    from queuectl.transitions import time_left

    start = T0 + timedelta(seconds=attempts)
    ruled = replaced_job(job(attempts=attempts, max_retries=max_retries), started_at=start,
                         deadline_at=T0 + timedelta(seconds=deadline))
    ended = start + timedelta(seconds=ran)
    step = after_attempt(ruled, AttemptResult(outcome, exit_code=1, error="e"), policy, ended)
    plain = after_attempt(ruled, AttemptResult(outcome, exit_code=1, error="e"), policy)
    assert step.attempts == plain.attempts
    if step.state is State.FAILED:  # retried: the retry comes before the deadline
        assert step.delay_ms is not None
        assert ended + timedelta(milliseconds=step.delay_ms) <= T0 + timedelta(seconds=deadline)
        assert step == plain
    elif plain.state is State.FAILED or ended >= T0 + timedelta(seconds=deadline):
        assert (step.state, step.error) == (State.DEAD, "deadline exceeded")
    left = time_left(ruled)
    assert left is not None and left <= max(0.001, deadline - attempts) + 1e-6  # (µs)
