"""A worker's looks at the schedules (the pools' watch that --catch-up none is judged by):
one every WATCH_INTERVAL however often the worker loops, busy or idle, and a store outage
skips a look rather than stopping the worker. The store's side is tests/contract/test_cron.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import pytest

from queuectl.errors import StoreUnavailable
from queuectl.pool import housekeeping
from queuectl.pool.housekeeping import WATCH_INTERVAL, Housekeeping
from queuectl.settings import Config
from queuectl.storage.base import Storage

T = TypeVar("T")


class Looks:
    """The one store call watching makes: counts them, or fails like a store that is down."""

    def __init__(self) -> None:
        self.count = 0
        self.down = False

    def cron_watch(self) -> None:
        if self.down:
            raise StoreUnavailable("store unavailable: connection refused")
        self.count += 1


def call(fn: Callable[[], T], /) -> T:
    return fn()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The housekeeping's monotonic clock, moved by the test."""
    now = [1000.0]

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    monkeypatch.setattr(housekeeping, "time", Clock)
    return now


def chores(store: Looks) -> Housekeeping:
    return Housekeeping(cast(Storage, store), lambda: Config.from_stored({}), call, call,
                        lambda: False, longest=5.0)


def test_one_look_per_interval_however_often_the_worker_loops(clock: list[float]) -> None:
    store = Looks()
    keeper = chores(store)
    for _ in range(100):  # a worker running short jobs back to back
        keeper.watch()
        clock[0] += WATCH_INTERVAL / 50
    assert store.count == 2  # two intervals: one look at the start of each


def test_a_busy_workers_checks_look_too(clock: list[float]) -> None:
    store: Any = Looks()
    store.cron_fire = lambda: []
    store.cron_seconds_until_tick = lambda: None
    keeper = chores(store)
    keeper.fire_ticks_while_busy()
    clock[0] += WATCH_INTERVAL
    keeper.fire_ticks_while_busy()
    assert store.count == 2


def test_a_store_outage_skips_a_look(clock: list[float]) -> None:
    store = Looks()
    keeper = chores(store)
    store.down = True
    keeper.watch()  # no exception: the worker goes on
    store.down = False
    keeper.watch()
    assert store.count == 0  # not retried before the interval
    clock[0] += WATCH_INTERVAL
    keeper.watch()
    assert store.count == 1
