"""The SQLite store on disk: private to its user (files 0600, folders queuectl creates 0700,
the WAL and shared-memory files included once workers have used it), and durable (the CLI
commits with synchronous=FULL, so a job is on disk once `enqueue` has printed its id).

These concern the SQLite file alone, so they are not parametrized over backends."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

from queuectl.cli.app import CliContext
from queuectl.models import JobSpec
from queuectl.storage import open_store
from tests.helpers import QUEUECTL, Cli, wait_until

SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_store_files_and_folders_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # a common, permissive umask
    try:
        db = tmp_path / "made" / "by" / "queuectl" / "queuectl.db"
        cli = Cli(str(db), tmp_path / "home", cwd=tmp_path)
        job_id = cli.enqueue("echo secret-output")
        cli.start_workers(2)
        cli.wait_state(job_id, "completed")
        for folder in (db.parent, db.parent.parent, db.parent.parent.parent):
            assert mode(folder) == 0o700, folder
        companions = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(p.exists() for p in companions)  # WAL mode, with workers attached
        for path in companions:
            assert mode(path) == 0o600, path
        cli.ok("worker", "stop", "--timeout", "20")
    finally:
        cli.cleanup()
        os.umask(old_umask)
    for path in db.parent.iterdir():
        assert mode(path) & 0o077 == 0, path


def test_default_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home" / "queuectl"
    cli = Cli(str(home / "queuectl.db"), tmp_path / "unused", cwd=tmp_path)
    cli.env.pop("QUEUECTL_DB")
    cli.env["QUEUECTL_HOME"] = str(home)
    cli.enqueue("true")
    assert mode(home) == 0o700
    assert mode(home / "queuectl.db") == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    Cli(str(shared / "q.db"), tmp_path / "home", cwd=tmp_path).enqueue("true")
    assert mode(shared) == 0o755  # not ours to change
    assert mode(shared / "q.db") == 0o600


def test_enqueue_is_committed_with_synchronous_full(tmp_path: Path) -> None:
    db = tmp_path / "store" / "queuectl.db"
    cli = Cli(str(db), tmp_path / "home", cwd=tmp_path)
    job_id = cli.enqueue("true")
    # Committed when the command returned: another connection sees it, WAL and all.
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone() == (
            "pending",
        )
    conn.close()
    # The store the CLI opens (CliContext.store, used by enqueue) fsyncs every commit.
    env = CliContext(str(db))
    try:
        store = env.store()
        level = store._conn.execute("PRAGMA synchronous").fetchone()[0]  # type: ignore[attr-defined]
        assert level == SYNCHRONOUS_FULL
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # type: ignore[attr-defined]
    finally:
        env.close()
    default = open_store(str(db))  # what the enqueue fast path opens
    try:
        assert default._conn.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL  # type: ignore[attr-defined]
    finally:
        default.close()
    worker_store = open_store(str(db), durable=False)
    try:
        # Workers trade fsync for speed: a lost commit only re-runs a job.
        assert worker_store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # type: ignore[attr-defined]
    finally:
        worker_store.close()


def test_the_pool_checkpoints_the_wal_so_workers_need_not(tmp_path: Path) -> None:
    """In WAL mode the database file itself is written only by checkpoints. A few jobs
    leave the WAL far below the workers' own threshold (sqlite_file.WAL_AUTOCHECKPOINT), so
    the file changing while the pool runs is the supervisor's checkpoint."""
    db = tmp_path / "queuectl.db"
    cli = Cli(str(db), tmp_path / "home", cwd=tmp_path)
    cli.start_workers(2)
    cli.enqueue("true")  # the pool's connections are open: this close folds nothing in
    before = db.stat().st_mtime_ns, db.stat().st_size
    ids = [cli.enqueue("true") for _ in range(20)]
    for job_id in ids:
        cli.wait_state(job_id, "completed")
    wait_until(lambda: (db.stat().st_mtime_ns, db.stat().st_size) != before, timeout=5)

    def checkpointed() -> bool:
        """A checkpoint of ours completes: it is busy only while one of the pool's runs (the
        pool's idle looks write now and then, and its checkpointer follows them)."""
        with sqlite3.connect(db) as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return bool(busy == 0)

    wait_until(checkpointed, timeout=5, what="a checkpoint that is not busy")
    cli.ok("worker", "stop", "--timeout", "20")


def test_checkpoint_reports_whether_there_was_anything_new(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "q.db"))
    try:
        store.enqueue([JobSpec("true", id="a", max_retries=0)])
        assert store.checkpoint() > 0
        assert store.checkpoint() == 0  # nothing written since
        store.enqueue([JobSpec("true", id="b", max_retries=0)])
        assert store.checkpoint() > 0
    finally:
        store.close()


def test_the_default_store_is_made_by_any_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "QUEUECTL_DB"}
    proc = subprocess.run([QUEUECTL, "status", "--json"], env={**env, "QUEUECTL_HOME": str(home)},
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert (home / "queuectl.db").exists()


def test_db_is_understood_between_a_group_and_its_command(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    cli = Cli(str(tmp_path / "other.db"), tmp_path / "home", cwd=tmp_path)
    cli.ok("--db", str(db), "config", "set", "max-retries", "4")
    assert cli.inline("config", "--db", str(db), "get", "max-retries") == "4\n"
    assert cli.ok("worker", "--db", str(db), "list", "--json") == "[]\n"
    assert cli.ok("dlq", "--db", str(db), "list", "--json") == "[]\n"
    assert not (tmp_path / "other.db").exists()
