from hypothesis import given
from hypothesis import strategies as st

from queuectl.models import State
from queuectl.retry import after_failure, backoff


def test_backoff_follows_base_to_the_power_of_attempts() -> None:
    assert [backoff(n, 2, 3600) for n in (1, 2, 3)] == [2, 4, 8]
    assert backoff(0, 2, 3600) == 1


def test_backoff_is_capped() -> None:
    assert backoff(20, 2, 3600) == 3600
    assert backoff(10**9, 10, 60) == 60  # huge exponents never overflow


@given(st.integers(0, 10_000), st.floats(1, 100), st.floats(0.001, 1e7))
def test_backoff_never_exceeds_cap_and_never_goes_negative(attempts: int, base: float,
                                                           cap: float) -> None:
    wait = backoff(attempts, base, cap)
    assert 0 < wait <= cap
    if base**min(attempts, 50) < cap and attempts <= 50:
        assert abs(wait - base**attempts) <= 1e-9 * base**attempts


@given(st.integers(0, 100), st.floats(1, 10), st.integers(0, 50))
def test_backoff_is_monotonic(attempts: int, base: float, extra: int) -> None:
    assert backoff(attempts, base, 3600) <= backoff(attempts + extra, base, 3600)


def test_after_failure_retries_until_max_retries_then_dead() -> None:
    # max_retries=2: three attempts in all; the third failure is final.
    first = after_failure(0, 2, 2, 3600)
    assert (first.state, first.attempts, first.retry_in) == (State.FAILED, 1, 2)
    second = after_failure(1, 2, 2, 3600)
    assert (second.state, second.attempts, second.retry_in) == (State.FAILED, 2, 4)
    third = after_failure(2, 2, 2, 3600)
    assert (third.state, third.attempts, third.retry_in) == (State.DEAD, 3, None)


@given(st.integers(0, 30))
def test_total_attempts_is_max_retries_plus_one(max_retries: int) -> None:
    attempts, state = 0, State.FAILED
    while state is State.FAILED:
        step = after_failure(attempts, max_retries, 2, 3600)
        attempts, state = step.attempts, step.state
    assert attempts == max_retries + 1
