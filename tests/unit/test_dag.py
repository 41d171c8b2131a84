"""Cycles among jobs of a batch (dag.py) and what a user may write in `after` (specs.py)."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from queuectl.dag import find_cycle
from queuectl.errors import InvalidValue, UsageError
from queuectl.specs import check_after, merge


def has_cycle(after: dict[str, list[str]]) -> bool:
    """Slow and obviously right: repeatedly drop jobs that wait for nothing in the batch."""
    left = {job: [d for d in deps if d in after] for job, deps in after.items()}
    while True:
        free = [job for job, deps in left.items() if not any(d in left for d in deps)]
        if not free:
            return bool(left)
        for job in free:
            del left[job]


graphs = st.dictionaries(
    st.sampled_from("abcdefgh"), st.lists(st.sampled_from("abcdefghxy"), max_size=3),
    max_size=8,
)


@given(graphs)
def test_a_cycle_is_found_exactly_when_there_is_one_and_is_a_real_cycle(
    after: dict[str, list[str]],
) -> None:
    cycle = find_cycle(after)
    assert (cycle is not None) == has_cycle(after)
    if cycle is not None:
        assert cycle[0] == cycle[-1] and len(set(cycle[:-1])) == len(cycle) - 1
        for job, dep in zip(cycle, cycle[1:], strict=False):
            assert dep in after[job]


def test_the_cycle_starts_at_its_first_job_in_batch_order() -> None:
    assert find_cycle({"x": [], "y": ["z"], "z": ["y"]}) == ["y", "z", "y"]
    assert find_cycle({"z": ["y"], "y": ["z"]}) == ["z", "y", "z"]
    assert find_cycle({"s": ["s"]}) == ["s", "s"]
    assert find_cycle({"a": ["b"], "b": ["outside"]}) is None


def test_a_long_chain_does_not_overflow_the_stack() -> None:
    chain = {str(n): [str(n + 1)] for n in range(100_000)}
    assert find_cycle(chain) is None
    chain["99999"] = ["0"]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == 100_001


def test_after_takes_an_array_of_ids_or_one_id() -> None:
    assert check_after(["a", "b", "a"]) == ("a", "b")
    assert check_after("a") == ("a",)
    assert check_after(None) == ()
    with pytest.raises(UsageError, match="after must be an array of job ids"):
        check_after({"a": 1})
    with pytest.raises(InvalidValue, match="invalid id"):
        check_after(["ok", "bad\n"])


def test_flags_after_and_an_entrys_own_after_add_up() -> None:
    assert merge({"after": ["a"]}, {"after": ["b"]})["after"] == ["a", "b"]
    assert merge({"after": ["a"]}, {"after": "b"})["after"] == ["a", "b"]
    assert merge({"after": ["a"]}, {"command": "x"})["after"] == ["a"]
    assert merge({"priority": 1}, {"priority": 2}) == {"priority": 2}
