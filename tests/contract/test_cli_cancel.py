"""`cancel` of several ids is all or nothing (in-process)."""

from __future__ import annotations

from tests.helpers import Cli


def test_cancel_is_all_or_nothing(cli: Cli) -> None:
    a = cli.enqueue("true", "--delay", "1h")
    before = cli.ok("list", "--json")
    assert cli.run("cancel", a, "no-such-job").returncode == 1
    assert cli.ok("list", "--json") == before



def test_an_id_given_twice_is_cancelled_once(cli: Cli) -> None:
    a = cli.enqueue("true", "--delay", "1h")
    assert cli.ok("cancel", a, a) == f"{a}\n"
    assert cli.job(a)["state"] == "cancelled"
