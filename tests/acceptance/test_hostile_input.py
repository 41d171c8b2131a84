"""Hostile and careless input that a real worker runs: a command just under the size limit,
and ids of any characters, through the pool's environment and its logs. The refusals of such
input, which need no process, are in tests/contract/test_refusals.py."""

from __future__ import annotations

import json

from tests.helpers import Cli


def test_huge_commands_run(cli: Cli) -> None:
    big = ": " + "y" * (100 * 1024) + "; echo ran"  # just under the limit
    job_id = cli.ok("enqueue", "--file", "-", input=json.dumps({"command": big})).strip()
    cli.start_workers(1)
    assert cli.wait_state(job_id, "completed", "dead")["state"] == "completed"
    assert cli.inline("logs", job_id) == "ran\n"


def test_ids_run_and_log_through_a_worker(cli: Cli) -> None:
    ids = ["it's", "x'; DROP TABLE jobs; --", "ünïcødé 日本語 🚀", "sp ace"]
    for job_id in ids:
        cli.ok("enqueue", "--id", job_id, "-c", 'printf "%s\\n" "$QUEUECTL_JOB_ID"')
    cli.start_workers(1)
    for job_id in ids:
        cli.wait_state(job_id, "completed")
        assert cli.inline("logs", "--", job_id) == job_id + "\n"
