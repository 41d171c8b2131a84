"""Every config key and every number a job carries refuses what cannot work: NaN,
infinities, negatives, absurdly small or huge values, each with one message naming the
workable range."""

from __future__ import annotations

import pytest

from queuectl.errors import InvalidValue, QueuectlError
from queuectl.settings import KEYS, MIN_LEASE, MIN_TIMEOUT, Config, Key, parse_value
from queuectl.specs import check_timeout, parse_limit
from queuectl.timeparse import parse_duration

BAD_EVERYWHERE = ["nan", "NaN", "inf", "-inf", "infinity", "-1", "-0.5", "1e-9", "1e-300",
                  "1e400", "1e300", "99999999999999999999", "", " "]


def below_minimum(key: Key) -> list[str]:
    """Values just under the key's range (0 too, unless it means none)."""
    low = [str(key.minimum)] if key.exclusive else []
    if key.minimum > 0:
        low += [str(key.minimum / 2), str(key.minimum * 0.999)]
        if not key.zero_is_none:
            low.append("0")
    return low


CASES = [(name, raw) for name, key in KEYS.items()
         for raw in BAD_EVERYWHERE + below_minimum(key) + [str(key.maximum * 2)]]


@pytest.mark.parametrize(("key", "raw"), CASES, ids=[f"{k}={r!r}" for k, r in CASES])
def test_a_value_that_cannot_work_is_refused_naming_the_range(key: str, raw: str) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_value(key, raw)
    message = str(info.value)
    assert message == f"invalid value {raw.strip()!r} for {key}: must be {KEYS[key].valid}"
    assert "\n" not in message


@pytest.mark.parametrize("key", list(KEYS))
def test_the_ends_of_each_range_are_accepted(key: str) -> None:
    spec = KEYS[key]
    if not spec.exclusive:
        assert parse_value(key, str(spec.minimum)) == spec.minimum
    assert parse_value(key, str(spec.maximum)) == spec.maximum
    if spec.zero_is_none:
        assert parse_value(key, "0") == 0


def test_the_workable_ranges() -> None:
    """The ranges that keep a pool working: a lease of at least a second (heartbeats come
    every third of it), timeouts and retry waits a command can outlive."""
    assert MIN_LEASE == KEYS["lease-timeout"].minimum == 1
    assert KEYS["lease-timeout"].valid.startswith("a duration >= 1s and <= 365d")
    assert KEYS["job-timeout"].valid.startswith("0 (off) or a duration >= 0.1s and <= 365d")
    assert KEYS["backoff-max"].minimum == KEYS["job-timeout"].minimum == MIN_TIMEOUT
    assert KEYS["retention"].valid.startswith("0 (off) or a duration >= 1s")


def test_a_stored_value_that_cannot_work_is_not_used() -> None:
    """A store written before these ranges may hold such a value: workers take the default
    instead of livelocking on it."""
    cfg = Config.from_stored({"lease-timeout": "1e-09", "job-timeout": "1e-09",
                              "backoff-max": "1e-09", "retention": "0.001"})
    assert (cfg.lease_timeout, cfg.job_timeout, cfg.backoff_max, cfg.retention) == (
        30, 0, 3600, 0)


@pytest.mark.parametrize("value", [1e-9, 0.05, "1e-9", "50ms", "0.099", -1, "-5s", 1e400,
                                   float("nan"), "nan", "inf"])
def test_a_job_timeout_that_cannot_work_is_refused(value: object) -> None:
    with pytest.raises(QueuectlError, match="invalid (timeout|duration)"):
        check_timeout(value)


@pytest.mark.parametrize(("value", "seconds"), [(0, 0), ("0s", 0), (0.1, 0.1), ("100ms", 0.1),
                                                ("5m", 300), (0.3, 0.3)])
def test_workable_job_timeouts(value: object, seconds: float) -> None:
    assert check_timeout(value) == seconds


@pytest.mark.parametrize("text", ["99999999999", "2147483648", "-1"])
def test_a_queue_limit_out_of_range_is_named_as_typed(text: str) -> None:
    if text == "-1":
        assert parse_limit(text) == -1  # the store's check names the queue and the range
        return
    with pytest.raises(InvalidValue, match=f"invalid limit {text}: must be between 0 and "
                                           "2147483647"):
        parse_limit(text)


@pytest.mark.parametrize("text", ["-1", "-5s", "1e400", "36501d", "1e308"])
def test_a_duration_flag_out_of_range_names_both_ends(text: str) -> None:
    """--delay, --timeout, wait --timeout, purge --older-than, metrics --since..."""
    with pytest.raises(InvalidValue) as info:
        parse_duration(text)
    assert str(info.value) == f"invalid duration {text!r}: must be >= 0 and at most 100 years"
