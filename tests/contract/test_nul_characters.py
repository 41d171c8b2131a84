"""A NUL character in a user-given string is bad input, never an outage, on both stores.

PostgreSQL's text cannot hold a NUL and its driver refuses to send one; nothing with one
is ever written to SQLite either. So a lookup by such a key (a job id, a queue, a schedule,
a search) finds nothing, as any unknown key does, and a write that would store one is
refused as an invalid value; the store is left as it was and keeps answering. Checked at
the store, the Python API, the CLI (in-process) and the dashboard's /api.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from queuectl import InvalidJob, JobNotFound, Queue
from queuectl.errors import ScheduleNotFound
from queuectl.models import JobSpec
from queuectl.recurring import CronSpec
from queuectl.storage.base import Storage

NUL_ID = "a\x00b"


@pytest.fixture
def seeded(store: Storage) -> Storage:
    store.enqueue([JobSpec("true", id="a", max_retries=0, queue="q")])
    store.cron_add(CronSpec(name="nightly", schedule="0 3 * * *", tz="UTC", command="true"))
    return store


def snapshot(store: Storage) -> dict[str, Any]:
    return {"jobs": [job.to_dict() for job in store.list_jobs(limit=None)],
            "crons": [cron.name for cron in store.cron_list()]}


FINDS_NOTHING: dict[str, Callable[[Storage], object]] = {
    "get_job": lambda s: s.get_job(NUL_ID),
    "dependents": lambda s: s.dependents(NUL_ID),
    "attempts": lambda s: s.attempts(NUL_ID),
    "read_output": lambda s: s.read_output(NUL_ID),
    "list by queue": lambda s: s.list_jobs(queue="q\x00"),
    "list by search": lambda s: s.list_jobs(id_contains="a\x00"),
    "list by schedule": lambda s: s.list_jobs(cron="nightly\x00"),
    "cron_list": lambda s: s.cron_list("nightly\x00"),
    "cron_skipped": lambda s: s.cron_skipped("nightly\x00"),
}
NOT_FOUND: dict[str, tuple[Callable[[Storage], object], type[Exception]]] = {
    "cancel": (lambda s: s.cancel(["a", NUL_ID]), JobNotFound),
    "retry_dead": (lambda s: s.retry_dead([NUL_ID]), JobNotFound),
    "cron_get": (lambda s: s.cron_get("nightly\x00"), ScheduleNotFound),
    "cron_remove": (lambda s: s.cron_remove("nightly\x00"), ScheduleNotFound),
    "cron_set_paused": (lambda s: s.cron_set_paused("nightly\x00", True), ScheduleNotFound),
    "cron_run_now": (lambda s: s.cron_run_now("nightly\x00"), ScheduleNotFound),
}


@pytest.mark.parametrize("call", FINDS_NOTHING.values(), ids=list(FINDS_NOTHING))
def test_a_lookup_by_a_key_with_nul_finds_nothing(
    seeded: Storage, call: Callable[[Storage], object]
) -> None:
    before = snapshot(seeded)
    assert call(seeded) in (None, [])
    assert snapshot(seeded) == before  # and the store still answers


@pytest.mark.parametrize(("call", "error"), NOT_FOUND.values(), ids=list(NOT_FOUND))
def test_an_action_on_a_key_with_nul_is_refused_as_unknown(
    seeded: Storage, call: Callable[[Storage], object], error: type[Exception]
) -> None:
    before = snapshot(seeded)
    with pytest.raises(error):
        call(seeded)
    assert snapshot(seeded) == before


@pytest.fixture
def queue(db_url: str, seeded: Storage) -> Iterator[Queue]:
    with Queue(db_url) as q:
        yield q


def test_the_python_api_finds_nothing_and_refuses_nul_in_what_it_would_store(
    queue: Queue, seeded: Storage
) -> None:
    with pytest.raises(JobNotFound):
        queue.get(NUL_ID)
    with pytest.raises(JobNotFound):
        queue.cancel(NUL_ID)
    assert queue.list(queue="q\x00") == []
    before = snapshot(seeded)
    for kwargs in ({"command": "echo a\x00b"}, {"id": NUL_ID}, {"queue": "q\x00"},
                   {"env": {"A": "x\x00y"}}, {"unique_key": "k\x00"}, {"after": [NUL_ID]}):
        with pytest.raises(InvalidJob):
            queue.enqueue(**{"command": "true", **kwargs})  # type: ignore[arg-type]
    assert snapshot(seeded) == before


def test_the_cli_answers_as_for_any_unknown_key(
    db_url: str, seeded: Storage, capsys: pytest.CaptureFixture[str]
) -> None:
    from queuectl.cli.entry import main

    capsys.readouterr()
    assert main(["--db", db_url, "show", NUL_ID]) == 1
    assert capsys.readouterr().err == "queuectl: error: job 'a\\x00b' not found\n"
    assert main(["--db", db_url, "list", "--queue", "q\x00", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(["--db", db_url, "enqueue", '{"command": "echo a\\u0000b"}']) == 1
    err = capsys.readouterr().err
    assert err.startswith("queuectl: error: ") and "NUL" in err and "\n" not in err[:-1]
    assert [job.id for job in seeded.list_jobs()] == ["a"]


def test_the_dashboard_api_answers_not_found_never_unavailable(
    db_url: str, seeded: Storage
) -> None:
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        assert client.get("/api/jobs/a%00b").status_code == 404
        assert client.post("/api/jobs/a%00b/cancel").status_code == 404
        found = client.get("/api/jobs", params={"queue": "q\x00"})
        assert (found.status_code, found.json()) == (200, [])
        assert client.get("/healthz").status_code == 200
