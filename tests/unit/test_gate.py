"""A pool's shared server connections (pool/gate.py): how many, and the slots themselves,
held by one process and waited for by another (POSIX record locks are per process)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.errors import StoreUnavailable
from queuectl.pool.gate import SLOTS_ENV, PoolSlots, WorkerGate, default_slots, slots_from


@given(st.integers(min_value=1, max_value=10_000))
def test_a_pool_holds_a_connection_per_worker_unless_told_otherwise(workers: int) -> None:
    assert default_slots(workers) == workers
    assert slots_from({}, workers) == workers


def test_the_environment_sets_the_cap_and_a_bad_value_is_refused_by_name() -> None:
    assert slots_from({SLOTS_ENV: " 3 "}, 8) == 3
    assert slots_from({SLOTS_ENV: ""}, 8) == 8
    assert slots_from({}, 32) == 32
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(ValueError, match=SLOTS_ENV):
            slots_from({SLOTS_ENV: bad}, 8)


@contextmanager
def holder(gate: WorkerGate, release_when_wanted: bool = False) -> Iterator[int]:
    """A forked process that takes ``gate``'s slot and holds it (until asked for, with
    ``release_when_wanted``) until killed; yields its pid once it holds it."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(ready_r)
            gate.acquire()
            os.write(ready_w, b"+")
            while not (release_when_wanted and gate.wanted()):
                time.sleep(0.005)
            gate.release()
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"+"
        yield pid
    finally:
        os.close(ready_r)
        with suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def test_a_slot_held_by_another_worker_is_waited_for_then_the_wait_fails_as_an_outage(
) -> None:
    slots = PoolSlots(1, 2)
    try:
        mine = slots.gate(1)
        with holder(slots.gate(0)):
            mine.patience = 0.2
            began = time.monotonic()
            with pytest.raises(StoreUnavailable, match="all 1 server connections"):
                mine.acquire()
            assert time.monotonic() - began >= 0.2
            assert mine.held is None and mine.held_for() == 0.0
            # Still wanting one: a holder that looks before the next try must see it.
            assert slots.gate(0).wanted()
    finally:
        slots.close()


def test_a_worker_killed_while_holding_a_slot_does_not_take_it_along() -> None:
    slots = PoolSlots(1, 2)
    try:
        mine = slots.gate(1)
        with holder(slots.gate(0)) as pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            mine.acquire()  # the kernel dropped the dead worker's lock
            assert mine.held == 0
            mine.release()
    finally:
        slots.close()


def test_a_holder_sees_that_another_waits_and_its_release_lets_it_in() -> None:
    slots = PoolSlots(1, 2)
    try:
        mine = slots.gate(1)
        with holder(slots.gate(0), release_when_wanted=True):
            assert not slots.gate(0).wanted()  # nobody waits yet
            assert slots.holding(0) and not slots.holding(1)
            mine.acquire()  # waits (marked as waiting) until the holder lets go
            assert mine.held == 0
            assert slots.holding(1) and not slots.holding(0)
            assert not slots.gate(0).wanted()  # no longer waiting
            mine.release()
    finally:
        slots.close()


def test_a_refusal_is_said_by_the_first_worker_of_the_pool_until_a_connection_opens(
) -> None:
    slots = PoolSlots(2, 3)
    try:
        first, second = slots.gate(0), slots.gate(1)
        assert first.refused()
        assert not second.refused()
        assert not first.refused()
        second.opened()
        assert first.refused()
    finally:
        slots.close()
