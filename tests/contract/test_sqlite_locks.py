"""A SQLite store opened again in the same process leaves the open one's locks alone.

POSIX record locks belong to a process and a file, not to a descriptor: closing any
descriptor of the file drops every lock the process holds on it. SQLite keeps its own
descriptors open while a connection holds a lock; a stray open-and-close of the store file
beside it (to make sure the file exists with its mode) dropped the locks of every store
already open in the process. Another process that then closed its connection took itself
for the last user and removed the write-ahead log under them: an embedded worker beside the
Python API lost what it was writing ("disk I/O error").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from queuectl.models import JobSpec
from queuectl.storage import open_store

LAST_USER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM jobs").fetchall()
conn.close()
"""


def test_a_second_open_keeps_the_first_stores_locks(tmp_path: Path) -> None:
    path = str(tmp_path / "q.db")
    first = open_store(path)
    try:
        first.enqueue([JobSpec(command="true", id="a", max_retries=0)])
        open_store(path).close()  # e.g. the Python API or a command, in the same process
        # Another process comes and goes: it must see that this one still has the store open.
        subprocess.run([sys.executable, "-c", LAST_USER, path], check=True, timeout=30)
        assert os.path.exists(path + "-wal"), "the write-ahead log was taken for unused"
        first.enqueue([JobSpec(command="true", id="b", max_retries=0)])
        assert sorted(j.id for j in first.list_jobs(limit=None)) == ["a", "b"]
    finally:
        first.close()


def test_a_store_made_new_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "q.db"
    open_store(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
