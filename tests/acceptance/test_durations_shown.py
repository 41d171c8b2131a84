"""Durations as people write them: config keys in seconds take `5m` like every duration
flag and are shown that way; every `--json` keeps plain numbers of seconds."""

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
                                          "max-log-bytes": 1048576}  # fmt: skip


def test_plain_seconds_in_an_old_store_keep_working(cli: Cli, store: Storage) -> None:
    store.config_set("job-timeout", "600")  # as every earlier version wrote it
    assert cli.ok("config", "get", "job-timeout") == "10m\n"
    assert cli.json("config", "get", "job-timeout") == {"job-timeout": 600}
    assert cli.job(cli.enqueue("true"))["timeout"] == 600
    cli.ok("config", "set", "job-timeout", "5m")
    assert store.config_items()["job-timeout"] == "300"  # still a plain number of seconds


def test_workers_read_duration_keys_as_seconds(cli: Cli) -> None:
    cli.ok("config", "set", "job-timeout", "1s")
    cli.ok("config", "set", "backoff-base", "100")
    cli.ok("config", "set", "backoff-max", "1s")  # the retry waits 1 s, not 100
    cli.ok("config", "set", "max-retries", "1")
    job_id = cli.enqueue("sleep 30")
    cli.start_workers(1)
    job = cli.wait_state(job_id, "dead", timeout=20)
    assert job["timeout"] == 1 and job["last_error"].startswith("timed out")
