"""Unique keys in the store, against every backend: what `dlq retry` does when a
dead job's key is held."""

from __future__ import annotations

import pytest

from queuectl.errors import UniqueKeyTaken
from queuectl.models import State
from queuectl.storage.base import Storage
from queuectl.transitions import after_attempt
from tests.contract.test_storage import FAIL, policy, register, spec


def _kill(store: Storage, worker: str, job_id: str) -> None:
    job = store.claim(worker)
    assert job is not None and job.id == job_id
    store.finish(job, worker, FAIL, after_attempt(job, FAIL, policy))


def test_retrying_every_dead_job_brings_back_one_per_key(store: Storage) -> None:
    """Two dead jobs of one key and an unrelated one: `dlq retry --all` retries the first of
    the key and the unrelated one, the other stays dead (it was refused whole before, and
    retried nothing); naming it alone is refused, naming who holds the key."""
    store.enqueue([spec("exit 1", id="k1", unique_key="K", max_retries=0)])
    worker = register(store, "w")
    _kill(store, worker, "k1")
    store.enqueue([spec("exit 1", id="k2", unique_key="K", max_retries=0),
                   spec("exit 1", id="other", max_retries=0)])
    _kill(store, worker, "k2")
    _kill(store, worker, "other")
    back = store.retry_dead(None)
    assert sorted(job.id for job in back) == ["k1", "other"]
    k2 = store.get_job("k2")
    assert k2 is not None and k2.state is State.DEAD
    with pytest.raises(UniqueKeyTaken):
        store.retry_dead(["k2"])
