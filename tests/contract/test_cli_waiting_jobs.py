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

