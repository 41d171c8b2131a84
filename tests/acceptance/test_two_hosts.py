"""Two hosts, one queue: worker pools with different host ids share one PostgreSQL database.

QUEUECTL_HOST_ID makes two pools on this machine act as two hosts (liveness then judges
the other pool by its heartbeats alone, as it would a remote machine).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.storage.postgres import PostgresStorage
from tests import pg
from tests.helpers import Cli, wait_until

pytestmark = pytest.mark.postgres

JOBS = 60
HOSTS = ("host-a", "host-b")


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Cli]:
    for url in pg.fresh_url():
        cli = Cli(url, tmp_path / "home", cwd=tmp_path)
        yield cli
        cli.cleanup()


@pytest.mark.smoke
def test_two_hosts_share_the_work_and_never_run_an_attempt_twice(shared: Cli) -> None:
    cli = shared
    for host in HOSTS:
        cli.start_workers(2, env={"QUEUECTL_HOST_ID": host})
    wait_until(lambda: cli.active_workers() == 4, what="both pools to start")
    host_of = {w["id"]: w["host"] for w in cli.json("worker", "list")}
    assert sorted(Counter(host_of.values()).items()) == [("host-a", 2), ("host-b", 2)]

    # Short jobs, so that both pools are busy at once and each takes a share.
    lines = "\n".join(json.dumps({"command": f"sleep 0.05; echo job {n}"}) for n in range(JOBS))
    ids = cli.ok("enqueue", "--file", "-", input=lines).split()
    assert len(ids) == JOBS
    proc = cli.run("wait", *ids, "--timeout", "60", timeout=90)
    assert proc.returncode == 0, proc.stderr

    store = PostgresStorage(cli.db_url)
    try:
        jobs = store.list_jobs(limit=None)
        assert Counter(str(j.state) for j in jobs) == {"completed": JOBS}
        per_host = Counter(host_of[j.worker] for j in jobs if j.worker)
        assert set(per_host) == set(HOSTS), per_host  # spread across both hosts
        for job in jobs:
            log = store.attempts(job.id)
            # One attempt each: no job ran twice, on one host or across the two.
            assert [(a.number, a.worker, a.outcome) for a in log] == [
                (1, job.worker, "succeeded")
            ], job.id
            out = store.read_output(job.id)
            assert out is not None and out.data.startswith(b"job ")
    finally:
        store.close()
