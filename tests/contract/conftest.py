"""The contract tier runs the CLI in-process: ``cli`` here is tests.inprocess.InProcessCli
(the same commands and checks as the installed `queuectl`, without a new interpreter each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.storage import open_store
from tests.inprocess import InProcessCli


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Iterator[InProcessCli]:
    """The CLI in-process on a store that exists and is empty."""
    open_store(db_url).close()
    c = InProcessCli(db_url, tmp_path / "home", cwd=tmp_path)
    yield c
    c.cleanup()
