"""`enqueue --snapshot` on both stores, in-process: the tracked files of a git work tree are
frozen at enqueue (uncommitted changes in, untracked files out), stored once per tree and
once per content, and every attempt runs in a fresh copy of them, in the same relative
directory, removed after. Refusals store nothing; purge and retention forget what no job
uses any more."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from queuectl.api import Queue
from queuectl.app import snapshot as snapshots_app
from queuectl.app.enqueue import insert
from queuectl.models import State
from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from queuectl.submit import Defaults, single
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

TABLES = ("snapshots", "snapshot_files", "snapshot_blobs")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(root: Path) -> Path:
    """A work tree with a file in sub/, an executable script and a symlink, committed."""
    repo = root / "repo"
    (repo / "sub").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "sub" / "f.txt").write_text("v1\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("sub/f.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def counts(db_url: str) -> dict[str, int]:
    """Rows of each snapshot table."""
    sql = {table: f"SELECT count(*) FROM {table}" for table in TABLES}
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            return {t: conn.execute(q.encode()).fetchone()[0] for t, q in sql.items()}  # type: ignore[index]
    with sqlite3.connect(db_url) as conn:
        return {t: conn.execute(q).fetchone()[0] for t, q in sql.items()}


def test_every_attempt_runs_in_a_fresh_copy_of_the_tree_as_it_was_at_enqueue(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker, tmp_path: Path,
) -> None:
    cli = clocked_cli
    clock.freeze()
    repo = make_repo(tmp_path)
    (repo / "sub" / "f.txt").write_text("v2\n")  # tracked, not committed: in the snapshot
    (repo / "untracked.txt").write_text("left out\n")
    (repo / "sub" / "staged.txt").write_text("new\n")  # added, not committed: in it too
    git(repo, "add", "sub/staged.txt")
    cli.cwd = repo / "sub"
    command = ("pwd; cat f.txt staged.txt; test -x ../run.sh && echo executable; readlink ../link; "
               "test -e ../untracked.txt || echo no-untracked; echo scribbled > f.txt; "
               'test "$QUEUECTL_ATTEMPT" = 2')
    job = cli.json("enqueue", "--snapshot", "--max-retries", "1", "-c", command)
    (repo / "sub" / "f.txt").write_text("v3\n")  # after enqueue: not seen by the job
    assert job["snapshot"] == {"commit": git(repo, "rev-parse", "HEAD"), "dirty": True,
                               "bytes": len("v2\n") + len("#!/bin/sh\necho ran\n")
                               + len("sub/f.txt") + len("new\n")}
    assert job["cwd"] == str(repo / "sub")
    assert worker.work_until_idle() == 1
    clock.move(2.5)  # the first attempt's backoff
    assert worker.work_until_idle() == 1
    assert cli.job(job["id"])["state"] == "completed"
    places = []
    for attempt in ("1", "2"):
        lines = cli.ok("logs", job["id"], "--attempt", attempt).splitlines()
        assert lines[1:] == ["v2", "new", "executable", "sub/f.txt", "no-untracked"], lines
        places.append(lines[0])
    for place in places:
        assert place.endswith("/sub") and not place.startswith(str(repo))
        assert not os.path.exists(place)  # removed after the attempt
        assert not os.path.exists(os.path.dirname(place))
    assert places[0] != places[1]  # a fresh copy each time
    assert (repo / "sub" / "f.txt").read_text() == "v3\n"  # the work tree untouched
    assert cli.job(job["id"])["snapshot"] == job["snapshot"]
    commit = job["snapshot"]["commit"][:12]
    assert f"{commit} + uncommitted changes, 35 bytes" in cli.ok("show", job["id"])


def test_a_timed_out_attempt_s_copy_is_removed_too(
    cli: InProcessCli, worker: Worker, tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    cli.cwd = repo
    job = cli.enqueue("pwd; sleep 30", "--snapshot", "--timeout", "0.5", "--max-retries", "0")
    assert worker.work_until_idle() == 1
    found = cli.job(job)
    assert found["state"] == "dead" and found["last_error"].startswith("timed out")
    place = cli.ok("logs", job).splitlines()[0]
    assert not os.path.exists(place)


def test_an_identical_tree_is_stored_once_and_one_changed_file_adds_one_blob(
    cli: InProcessCli, db_url: str, tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    cli.cwd = repo
    first = cli.json("enqueue", "--snapshot", "-c", "true")
    assert first["snapshot"]["dirty"] is False
    once = counts(db_url)
    assert once == {"snapshots": 1, "snapshot_files": 3, "snapshot_blobs": 3}
    (repo / "untracked.txt").write_text("not tracked\n")  # neither stored nor dirty
    again = cli.json("enqueue", "--snapshot", "-c", "true")
    assert again["snapshot"] == first["snapshot"]
    assert counts(db_url) == once
    (repo / "sub" / "f.txt").write_text("changed\n")
    changed = cli.json("enqueue", "--snapshot", "-c", "true")
    assert changed["snapshot"]["dirty"] is True
    assert counts(db_url) == {"snapshots": 2, "snapshot_files": 6, "snapshot_blobs": 4}
    git(repo, "commit", "-q", "-am", "second")  # the same files, now committed: clean
    committed = cli.json("enqueue", "--snapshot", "-c", "true")
    assert committed["snapshot"]["dirty"] is False
    assert committed["snapshot"]["commit"] != changed["snapshot"]["commit"]
    assert counts(db_url)["snapshot_blobs"] == 4
    assert [j["snapshot"] is not None for j in cli.json("list")] == [True] * 4
    assert cli.json("enqueue", "-c", "true")["snapshot"] is None


def test_refused_snapshots_store_nothing(cli: InProcessCli, db_url: str, tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    cli.cwd = outside
    done = cli.run("enqueue", "--snapshot", "-c", "true")
    assert done.returncode == 1
    assert done.stderr == (f"queuectl: error: cannot snapshot {outside}: "
                           "not inside a git work tree\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    cli.cwd = empty
    done = cli.run("enqueue", "--snapshot", "-c", "true")
    assert done.returncode == 1 and "has no commit yet" in done.stderr
    assert done.stderr.count("\n") == 1
    repo = make_repo(tmp_path)
    cli.cwd = repo
    cli.ok("config", "set", "max-snapshot-bytes", "10")
    done = cli.run("enqueue", "--snapshot", "-c", "true")
    assert done.returncode == 1 and "above max-snapshot-bytes" in done.stderr
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"command": "true"}) + "\n"
                    + json.dumps({"command": "true", "snapshot": True, "cwd": str(outside)}))
    done = cli.run("enqueue", "--file", str(jobs))
    assert done.returncode == 1
    assert done.stderr.startswith("queuectl: error: line 2: cannot snapshot")
    assert cli.json("list") == []
    assert counts(db_url) == dict.fromkeys(TABLES, 0)
    cli.ok("config", "set", "max-snapshot-bytes", "1000")
    assert cli.json("enqueue", "--snapshot", "-c", "true")["snapshot"]["bytes"] == 31


def test_purge_forgets_the_snapshots_and_contents_no_job_uses(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker, db_url: str,
    tmp_path: Path,
) -> None:
    cli = clocked_cli
    repo = make_repo(tmp_path)
    cli.cwd = repo
    for _ in range(2):
        cli.enqueue("true", "--snapshot")
    (repo / "sub" / "f.txt").write_text("changed\n")
    alone = cli.enqueue("exit 1", "--snapshot", "--max-retries", "0")
    assert worker.work_until_idle() == 3
    assert counts(db_url) == {"snapshots": 2, "snapshot_files": 6, "snapshot_blobs": 4}
    clock.move(10)
    assert cli.json("purge", "--older-than", "1s", "--state", "dead") == {"deleted": 1}
    # the changed file's content goes with its tree; the contents both trees had stay
    assert counts(db_url) == {"snapshots": 1, "snapshot_files": 3, "snapshot_blobs": 3}
    assert cli.json("purge", "--older-than", "1s") == {"deleted": 2}
    assert counts(db_url) == dict.fromkeys(TABLES, 0)
    assert alone not in {j["id"] for j in cli.json("list")}


def test_retention_forgets_snapshots_with_their_last_job(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, db_url: str,
    tmp_path: Path,
) -> None:
    cli = clocked_cli
    repo = make_repo(tmp_path)
    cli.cwd = repo
    cli.enqueue("true", "--snapshot")
    cli.ok("config", "set", "retention", "1h")
    Worker(clocked_store, (), clocks=clock.clocks).work_until_idle()
    assert counts(db_url)["snapshots"] == 1
    clock.move(2 * 3600)
    Worker(clocked_store, (), clocks=clock.clocks).work_until_idle()  # prunes as it starts
    assert cli.json("list") == []
    assert counts(db_url) == dict.fromkeys(TABLES, 0)


def test_a_tree_forgotten_between_the_check_and_the_insert_is_sent_whole(
    store: Storage, db_url: str, tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    first = Queue(db_url).enqueue("true", cwd=str(repo), snapshot=True)
    assert first.snapshot is not None and store.snapshot_stored(first.snapshot.id)
    batch = single({"command": "true", "snapshot": True, "cwd": str(repo)}, Defaults.of(store))
    snapshots_app.freeze(batch, 10**6)
    told = snapshots_app.upload(store, batch)  # the store has it: nothing to send
    assert told.specs[0].frozen is not None and told.specs[0].frozen.stored
    store.cancel([first.id])
    assert store.purge([State.CANCELLED], 0) == 1
    assert counts(db_url) == dict.fromkeys(TABLES, 0)
    [job] = insert(store, batch)  # told nothing was missing; the store notices and it is resent
    assert job.snapshot == first.snapshot
    assert counts(db_url) == {"snapshots": 1, "snapshot_files": 3, "snapshot_blobs": 3}


def test_a_commit_without_files_is_a_snapshot_too(
    cli: InProcessCli, worker: Worker, tmp_path: Path,
) -> None:
    repo = tmp_path / "bare-tree"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "nothing yet")
    cli.cwd = repo
    job = cli.json("enqueue", "--snapshot", "-c", "ls -A | wc -l")
    assert job["snapshot"]["bytes"] == 0 and job["snapshot"]["dirty"] is False
    again = cli.json("enqueue", "--snapshot", "-c", "true")
    assert again["snapshot"] == job["snapshot"]
    assert worker.work_until_idle() == 2
    assert cli.ok("logs", job["id"]).strip() == "0"


def test_rerun_keeps_the_snapshot_and_rerun_snapshot_takes_a_new_one(
    cli: InProcessCli, worker: Worker, tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    cli.cwd = repo / "sub"
    job = cli.enqueue("cat f.txt", "--snapshot")
    assert worker.work_until_idle() == 1
    (repo / "sub" / "f.txt").write_text("v2\n")
    kept = cli.json("rerun", job)
    fresh = cli.json("rerun", job, "--snapshot")
    assert kept["snapshot"] == cli.job(job)["snapshot"]
    assert fresh["snapshot"]["dirty"] is True
    assert worker.work_until_idle() == 2
    assert cli.ok("logs", kept["id"]) == "v1\n"
    assert cli.ok("logs", fresh["id"]) == "v2\n"


def test_the_python_api_and_jobs_files_take_snapshots_too(
    cli: InProcessCli, store: Storage, db_url: str, tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    job = Queue(db_url).enqueue("cat f.txt", cwd=str(repo / "sub"), snapshot=True)
    assert job.snapshot is not None and job.snapshot.dir == "sub"
    assert job.to_dict()["snapshot"]["dirty"] is False
    cli.cwd = repo / "sub"
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"command": "cat f.txt", "snapshot": True}) + "\n"
                    + json.dumps({"command": "true", "snapshot": False}) + "\n")
    snapshotted, plain = cli.json("enqueue", "--file", str(jobs))
    assert snapshotted["snapshot"] == job.to_dict()["snapshot"]
    assert plain["snapshot"] is None
    # One tree for two directories of it: each job runs in its own.
    jobs.write_text(json.dumps({"command": "pwd", "snapshot": True}) + "\n"
                    + json.dumps({"command": "pwd", "snapshot": True, "cwd": str(repo)}) + "\n")
    in_sub, at_root = cli.json("enqueue", "--file", str(jobs))
    assert Worker(store, ()).work_until_idle() == 5
    assert cli.ok("logs", in_sub["id"]).rstrip().endswith("/sub")
    assert not cli.ok("logs", at_root["id"]).rstrip().endswith("/sub")
