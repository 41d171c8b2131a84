"""Jobs waiting for their dependencies are shown so, and a cancel reaches them (in-process)."""

from __future__ import annotations

from tests.helpers import Cli


def test_waiting_jobs_are_shown_and_a_cancel_reaches_them(cli: Cli) -> None:
    build = cli.enqueue("true", "--id", "build", "--delay", "1h")
    cli.enqueue("true", "--id", "test", "--after", build)
    cli.enqueue("true", "--id", "deploy", "--after", "test", "--after", build)
    assert cli.job("deploy")["waiting_for"] == ["test", "build"]
    assert "waiting for test, build" in cli.ok("list")
    assert cli.json("status")["blocked"] == 2
    cli.ok("cancel", build)
    deploy = cli.job("deploy")
    assert (deploy["state"], deploy["last_error"]) == ("cancelled", "dependency 'build' cancelled")
    assert cli.job("test")["last_error"] == "dependency 'build' cancelled"



def test_status_shows_scheduled_and_blocked_jobs_as_parts_of_pending(cli: Cli) -> None:
    build = cli.enqueue("true", "--id", "build", "--delay", "1h")
    cli.enqueue("true", "--id", "test", "--after", build)
    cli.enqueue("true", "--id", "now")
    lines = [line.split() for line in cli.ok("status").splitlines()]
    assert lines[:4] == [["pending", "3"], ["scheduled", "1"], ["blocked", "1"],
                         ["processing", "0"]]
    shown = cli.ok("status").splitlines()
    assert shown[1].startswith("  scheduled") and shown[2].startswith("  blocked")
