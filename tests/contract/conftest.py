"""The contract tier runs the CLI in-process: ``cli`` here is tests.inprocess.InProcessCli
(the same commands and checks as the installed `queuectl`, without a new interpreter each).

``clocked_cli`` is that CLI on the test's moved clock (the store every command opens reads
``clock``), and ``worker`` the embedded worker on ``clocked_store``: a scenario enqueues and
reads through the CLI, runs what is due in-process, and moves time instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.pool.worker import Worker
from queuectl.storage import open_store
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Iterator[InProcessCli]:
    """The CLI in-process on a store that exists and is empty."""
    open_store(db_url).close()
    c = InProcessCli(db_url, tmp_path / "home", cwd=tmp_path)
    yield c
    c.cleanup()


@pytest.fixture
def clocked_cli(cli: InProcessCli, clock: MovingClock,
                monkeypatch: pytest.MonkeyPatch) -> InProcessCli:
    """``cli`` whose commands open their store on ``clock`` (created_at, run_at, purge's
    cut-off and every other "now" of a command follow the test's moves)."""

    def on_the_clock(url: str, *, create: bool = True) -> Storage:
        return open_store(url, create=create, clock=clock.now)

    monkeypatch.setattr("queuectl.app.store.open_store", on_the_clock)
    return cli


@pytest.fixture
def worker(clocked_store: Storage, clock: MovingClock) -> Worker:
    """An embedded worker of every queue on ``clocked_store``; ``work_until_idle`` runs it."""
    return Worker(clocked_store, (), clocks=clock.clocks)


@pytest.fixture
def second_store(db_url: str, clock: MovingClock) -> Iterator[Storage]:
    """Another connection to the test's store on its clock, as a pool on another host has
    (two judges of one schedule racing)."""
    s = open_store(db_url, clock=clock.now)
    yield s
    s.close()


@pytest.fixture
def frozen_clock(clock: MovingClock) -> MovingClock:
    """The test's ``clock``, frozen: time passes only when the test moves it, so a step that
    stops short of a lease, a wait or a tick stays that short however long a loaded machine
    takes between two steps (real time passing beside a moved clock once made up a 1 s
    margin). Not for tests whose commands compute a delay from the real clock (`rerun`,
    `edit --delay`)."""
    clock.freeze()
    return clock
