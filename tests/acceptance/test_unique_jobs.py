"""Unique jobs: at most one job per key pending, failed or processing, whatever
the number of enqueuers racing, on both stores."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import QUEUECTL, Cli


def test_eight_concurrent_enqueuers_make_one_job(cli: Cli) -> None:
    procs = [
        subprocess.Popen([QUEUECTL, "enqueue", "-c", f"echo {n}", "--unique-key", "sync-user-42"],
                         env=cli.env, cwd=cli.cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for n in range(8)
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0] * 8, results
    ids = {out.strip() for _, out, _ in results}
    assert len(ids) == 1, results  # every enqueuer names the same job
    told = [err for _, _, err in results if err]
    assert len(told) == 7 and all(err.count("\n") == 1 for err in told), told
    assert all("already has unique key 'sync-user-42'" in err for err in told)
    jobs = cli.json("list")
    assert [job["id"] for job in jobs] == list(ids)
    assert jobs[0]["unique_key"] == "sync-user-42"


@pytest.mark.smoke
def test_a_duplicate_gives_back_the_job_there_is(cli: Cli) -> None:
    first = cli.enqueue("sleep 60", "--unique-key", "k")
    proc = cli.run("enqueue", "-c", "other", "--unique-key", "k", "--json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert (doc["id"], doc["command"], doc["duplicate"]) == (first, "sleep 60", True)
    # Another key, or none, is a new job; JSON names the key and is not a duplicate.
    fresh = json.loads(cli.ok("enqueue", "-c", "true", "--unique-key", "k2", "--json"))
    assert fresh["unique_key"] == "k2" and "duplicate" not in fresh
    # A bulk file: the taken key and a key repeated inside the file each give one job.
    lines = "\n".join(json.dumps(j) for j in [
        {"command": "a", "unique_key": "k"}, {"command": "b", "unique_key": "k3"},
        {"command": "c", "unique_key": "k3"}, {"command": "d"}])
    proc = cli.run("enqueue", "--file", "-", input=lines)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split()
    assert out[0] == first and out[1] == out[2] and len(set(out)) == 3
    assert proc.stderr.count("\n") == 2
    assert len(cli.json("list")) == 4  # first, k2, b (k3) and d: nothing else
