"""A value that cannot work is refused on both stores with one line, and the store is left
exactly as it was: no config written, no job enqueued."""

from __future__ import annotations

import pytest

from queuectl.storage import open_store
from tests.helpers import Cli

REFUSED = [
    ["config", "set", "lease-timeout", "1e-9"],
    ["config", "set", "lease-timeout", "0.5"],
    ["config", "set", "job-timeout", "1e-9"],
    ["config", "set", "backoff-max", "1e-9"],
    ["config", "set", "retention", "0.001"],
    ["config", "set", "backoff-base", "nan"],
    ["config", "set", "max-retries", "1e400"],
    ["enqueue", "-c", "true", "--timeout", "1e-9"],
    ["enqueue", "-c", "true", "--timeout", "50ms"],
    ["enqueue", '{"command": "true", "timeout": 1e-9}'],
    ["run", "--timeout", "1e-9", "-c", "true"],
    ["queue", "limit", "q", "99999999999"],
]


def snapshot(url: str) -> tuple[object, ...]:
    store = open_store(url, create=False)
    try:
        return (store.config_items(), [j.to_dict() for j in store.list_jobs(limit=None)],
                store.queue_settings())
    finally:
        store.close()


@pytest.mark.parametrize("argv", REFUSED, ids=" ".join)
def test_a_refused_value_leaves_the_store_as_it_was(cli: Cli, argv: list[str]) -> None:
    cli.ok("config", "set", "lease-timeout", "40")
    cli.ok("enqueue", "-c", "true", "--id", "before")
    before = snapshot(cli.db_url)
    proc = cli.run(*argv)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("queuectl: error: invalid ") and proc.stderr.count("\n") == 1
    assert "must be" in proc.stderr
    assert snapshot(cli.db_url) == before
