"""Which store a command line names: --db given twice, empty, or an empty QUEUECTL_DB are
usage errors (exit 2) that touch no store, never a silent pick of one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from queuectl.cli.entry import main
from queuectl.errors import EXIT_USAGE

TWO_STORES = [
    ["--db", "a.db", "--db", "b.db", "status"],
    ["status", "--db", "a.db", "--db", "b.db"],
    ["--db", "a.db", "status", "--db", "b.db"],
    ["--db", "a.db", "--db", "b.db", "enqueue", "-c", "true"],
    ["enqueue", "-c", "true", "--db", "a.db", "--db=b.db"],
    ["--db", "a.db", "enqueue", "-c", "true", "--db", "b.db"],
    ["--db", "a.db", "--db", "b.db", "config", "set", "max-retries", "1"],
    ["worker", "--db", "a.db", "list", "--db", "b.db"],
]
EMPTY = [
    ["--db", "", "status"],
    ["--db=", "enqueue", "-c", "true"],
    ["enqueue", "-c", "true", "--db", ""],
    ["status", "--db", " "],
    ["config", "set", "max-retries", "1", "--db", ""],
]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("queuectl: error: ")
    return err


@pytest.mark.parametrize("argv", TWO_STORES, ids=" ".join)
def test_two_different_stores_are_a_usage_error(
    argv: list[str], here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--db given twice with different stores: 'a.db' and 'b.db'" in refused(argv, capsys)
    assert files(here) == []


def test_one_store_named_twice_is_fine(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", "a.db", "--db", str(here / "a.db"), "enqueue", "-c", "true",
                 "--id", "x", "--db", "sqlite:///" + str(here / "a.db")]) == 0
    assert capsys.readouterr().out == "x\n"
    assert main(["--db", "a.db", "status", "--db", "./a.db", "--json"]) == 0


@pytest.mark.parametrize("argv", EMPTY, ids=" ".join)
def test_an_empty_db_is_a_usage_error(
    argv: list[str], here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--db is empty" in refused(argv, capsys)
    assert files(here) == []


@pytest.mark.parametrize("argv", [["status"], ["enqueue", "-c", "true"],
                                  ["config", "set", "max-retries", "1"]], ids=" ".join)
def test_a_set_but_empty_queuectl_db_is_a_usage_error(
    argv: list[str], here: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUEUECTL_HOME", str(here / "home"))
    monkeypatch.setenv("QUEUECTL_DB", "")
    assert "QUEUECTL_DB is set but empty" in refused(argv, capsys)
    assert files(here) == []  # not even the default store


def test_db_wins_over_an_empty_queuectl_db(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUECTL_DB", "")
    assert main(["--db", "a.db", "enqueue", "-c", "true", "--id", "y"]) == 0
    assert capsys.readouterr().out == "y\n" and os.path.exists(here / "a.db")
