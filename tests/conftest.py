"""Shared fixtures: a fresh store URL per test (one per backend), and the real CLI.

Every contract and acceptance test takes ``db_url``; it is parametrized over the backends
in BACKENDS, so the same test runs against SQLite and against a real PostgreSQL.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from queuectl.storage import open_store
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.helpers import Cli

# The tests' files (SQLite stores, captured output, scratch trees) in RAM where the machine
# has a RAM filesystem, unless TMPDIR says where: a commit's fsync costs nothing there, and
# on a disk that four test processes and their pools flush at once it costs milliseconds
# (a third to two thirds of an in-process contract module's time on two loaded cores).
# Nothing a test can observe changes: only a crash of the machine could lose what a commit
# wrote, and the tests that fill a disk mount their own.
RAM = "/dev/shm"
if "TMPDIR" not in os.environ and os.path.isdir(RAM) and os.access(RAM, os.W_OK | os.X_OK):
    os.environ["TMPDIR"] = RAM  # for the pools and commands the tests start, too
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# No property test checks how fast an example runs, and CI runs two suites at once on two
# cores: hypothesis's 200 ms deadline per example failed a pure percentile test there.
settings.register_profile("queuectl", deadline=None)
# The lower-bounds run (.ci/lowest) asks for this one: it is there to meet the old releases'
# APIs, which a few examples of each property do; the main run keeps the breadth.
settings.register_profile("lowest", deadline=None, max_examples=10)
settings.load_profile("queuectl")


def make_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(tmp_path / "store" / "queuectl.db")
        return
    if backend == "postgres":
        from tests import pg  # a fresh database per test, cloned from a migrated template

        yield from pg.fresh_url()
        return
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from make_url(request.param, tmp_path)


@pytest.fixture
def store(db_url: str) -> Iterator[Storage]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def clock() -> MovingClock:
    """Time for the store and the worker that the test moves on (tests/clocks.py)."""
    return MovingClock()


@pytest.fixture
def clocked_store(db_url: str, clock: MovingClock) -> Iterator[Storage]:
    """The test's store, on the test's ``clock``."""
    s = open_store(db_url, clock=clock.now)
    yield s
    s.close()


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Iterator[Cli]:
    """The installed CLI on a store that exists and is empty (only writers create a store
    named by QUEUECTL_DB; the tests of that rule make their own Cli)."""
    open_store(db_url).close()
    home = tmp_path / "home"
    c = Cli(db_url, home, cwd=tmp_path)
    yield c
    c.cleanup()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the developer's real store, whatever a test forgets to pass."""
    monkeypatch.setenv("QUEUECTL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUEUECTL_DB", raising=False)
    os.environ.pop("NO_COLOR", None)


TIERS = ("unit", "contract", "acceptance", "browser", "bench")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, its folder under tests/, so that `-m` can pick tiers
    across folders (`.ci/lowest` runs `unit or contract or smoke`)."""
    for item in items:
        tier = item.path.parent.name
        if tier in TIERS:
            item.add_marker(tier)
