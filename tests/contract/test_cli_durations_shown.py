"""Durations as users type them, taken and shown back by `config` and `show` (in-process)."""

from __future__ import annotations

import re

from queuectl.storage.base import Storage
from tests.helpers import Cli


def test_duration_keys_take_and_show_durations(cli: Cli) -> None:
    assert cli.ok("config", "set", "job-timeout", "5m") == "job-timeout = 5m\n"
    assert cli.ok("config", "set", "lease_timeout", "1h30m") == "lease-timeout = 1h30m\n"
    assert cli.ok("config", "set", "backoff-max", "90") == "backoff-max = 1m30s\n"  # plain seconds
    assert cli.ok("config", "get", "job-timeout") == "5m\n"
    assert cli.json("config", "get", "job-timeout") == {"job-timeout": 300}
    assert cli.json("config", "set", "job-timeout", "2.5s") == {"job-timeout": 2.5}
    listed = cli.ok("config", "list")
    assert re.search(r"(?m)^job-timeout +2\.5s +0s ", listed), listed
    assert re.search(r"(?m)^lease-timeout +1h30m +30s ", listed), listed
    assert re.search(r"(?m)^backoff-max +1m30s +1h ", listed), listed
    assert re.search(r"(?m)^max-log-bytes +1048576 +1048576 ", listed), listed
    assert cli.json("config", "list") == {"max-retries": 3, "backoff-base": 2, "backoff-max": 90,
                                          "job-timeout": 2.5, "lease-timeout": 5400,
                                          "max-log-bytes": 1048576, "retention": 0,
                                          "max-snoozes": 100, "max-snapshot-bytes": 104857600}


def test_plain_seconds_in_an_old_store_keep_working(cli: Cli, store: Storage) -> None:
    store.config_set("job-timeout", "600")  # as every earlier version wrote it
    assert cli.ok("config", "get", "job-timeout") == "10m\n"
    assert cli.json("config", "get", "job-timeout") == {"job-timeout": 600}
    assert cli.job(cli.enqueue("true"))["timeout"] == 600
    cli.ok("config", "set", "job-timeout", "5m")
    assert store.config_items()["job-timeout"] == "300"  # still a plain number of seconds


def test_show_prints_durations_as_typed_and_when_a_job_runs(cli: Cli) -> None:
    later = cli.enqueue("true", "--timeout", "10m", "--delay", "5h")
    shown = cli.ok("show", later)
    assert re.search(r"(?m)^timeout +10m$", shown), shown
    assert re.search(r"(?m)^run_at +\S+Z \(in 4h59m\)$", shown), shown
    doc = cli.job(later)
    assert doc["timeout"] == 600 and doc["run_at"].endswith("Z")
    untimed = cli.ok("show", cli.enqueue("true"))
    assert re.search(r"(?m)^timeout *$", untimed), untimed
    assert re.search(r"(?m)^run_at +\S+Z \((now|\d+s ago)\)$", untimed), untimed  # due

