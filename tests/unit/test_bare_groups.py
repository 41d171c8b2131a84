"""A command group run without a command prints its help on stderr and exits 2, whatever
click is installed (click 8.1 itself prints it on stdout and exits 0, 8.2+ exits 2)."""

from __future__ import annotations

import click
import pytest

from queuectl.cli.app import cli, register
from queuectl.cli.entry import main
from queuectl.errors import EXIT_USAGE


def groups(group: click.Group, path: list[str]) -> list[list[str]]:
    """The command path of `group` and of every group under it."""
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += groups(command, [*path, name])
    return found


def every_group() -> list[list[str]]:
    register()
    return groups(cli, [])


@pytest.mark.parametrize("path", every_group(), ids=lambda path: " ".join(["queuectl", *path]))
def test_a_bare_group_prints_its_help_and_exits_2(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(path) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"Usage: {' '.join(['queuectl', *path])} [OPTIONS] COMMAND")
