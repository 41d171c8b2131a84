"""A batch comes back exactly as given: odd text, numbers at their bounds, and its order."""

from __future__ import annotations

from datetime import UTC, datetime

from queuectl.models import JobSpec
from queuectl.storage.base import Storage

ODD = "echo \"a\\b\" 'q'\n\ttab \x01\x1f\x7f\x85 é 😀 \u2028 end"


def test_odd_text_and_bounds_round_trip(store: Storage) -> None:
    specs = [
        JobSpec(command=ODD, id="odd", max_retries=7, priority=-(2**31 - 1), timeout=1.5,
                queue="q😀", cwd="/tmp/é", env={"K": ODD}, run_at=datetime(2030, 1, 1, tzinfo=UTC)),
        JobSpec(command="true", max_retries=0, timeout=30.0),
        JobSpec(command="x", max_retries=1_000_000, priority=2**31 - 1),
    ]
    jobs = store.enqueue(specs)
    for job in jobs:
        stored = store.get_job(job.id)
        assert stored is not None and stored.to_dict() == job.to_dict()
    assert store.get_job("odd").env == {"K": ODD}  # type: ignore[union-attr]


def test_a_batch_keeps_its_order(store: Storage) -> None:
    ids = store.enqueue_ids([JobSpec(command="true", max_retries=0) for _ in range(300)])
    assert [job.id for job in store.list_jobs(limit=None)] == ids[::-1]  # newest first
