"""SQLite's statements that take a list of job ids find the jobs by id.

A queuectl store has no planner statistics (nothing runs ANALYZE), and without them SQLite
prefers an equality on jobs_state to the ids: `cancel_jobs` then walked every pending job
of the store for each call (a bulk cancel of 100,000 jobs read them all for every batch
of 500), and retention's `prune_lock` every finished job under the write lock (0.45 s per
batch of 100 at a million). The plans are read from the store's own schema and queries.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from queuectl.storage import open_store
from queuectl.storage.sql import queries

BY_ID = "USING INDEX sqlite_autoindex_jobs_1 (id=?)"
PARAMS = {"ids": json.dumps(["a", "b"]), "now": 0, "older_ms": 0}


@pytest.mark.parametrize("name", ["cancel_jobs", "cancel_dependents", "prune_lock",
                                  "remove_lock", "finished_unneeded"])
def test_jobs_named_by_id_are_found_by_id(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / "q.db")
    open_store(path).close()
    conn = sqlite3.connect(path)
    try:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + queries("sqlite")[name],
                                               PARAMS)]
    finally:
        conn.close()
    jobs = [step for step in plan if step.startswith(("SEARCH jobs ", "SCAN jobs"))]
    assert any(BY_ID in step for step in jobs), plan
    assert not any("jobs_state" in step for step in jobs), plan
