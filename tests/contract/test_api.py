"""The Python API (`from queuectl import Queue`) on both stores, checked against the CLI:
the same documents (`to_dict()` is `show --json`), the same refusals in the same words,
nothing written when a job is refused."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import queuectl
from queuectl import InvalidJob, Job, JobNotFound, Queue, State
from queuectl.errors import DuplicateJob, NoOutput, WrongState
from queuectl.models import AttemptResult, Outcome, WorkerInfo, utcnow
from queuectl.retry import after_failure
from queuectl.storage import open_store
from queuectl.storage.liveness import HOST_ID
from queuectl.transitions import after_attempt
from tests.helpers import Cli


@pytest.fixture
def q(cli: Cli) -> Iterator[Queue]:
    with Queue(cli.db_url) as queue:
        yield queue


def _run_once(db_url: str, outcome: Outcome, output: bytes) -> None:
    """Play a worker for one attempt of the next ready job, through the store."""
    store = open_store(db_url)
    try:
        now = utcnow()
        store.register_worker(WorkerInfo("w1", HOST_ID, os.getpid(), "idle", None, now, now))
        job = store.claim("w1")
        assert job is not None
        code = 0 if outcome is Outcome.SUCCEEDED else 3
        result = AttemptResult(outcome, code, None if code == 0 else "exit code 3", output)
        store.finish(job, "w1", result, after_attempt(
            job, result, lambda j: after_failure(j.attempts, j.max_retries, 2, 3600)))
        store.unregister_worker("w1")
    finally:
        store.close()


def test_enqueue_gives_a_frozen_job_whose_dict_is_the_clis(q: Queue, cli: Cli) -> None:
    job = q.enqueue("echo hi", id="a1", priority=5, max_retries=1, timeout="5m", queue="q",
                    cwd="/tmp", env={"A": "1"})
    plain: str = "pending"  # a state is its plain string too
    assert isinstance(job, Job) and job.state == State.PENDING and job.state == plain
    assert (job.id, job.priority, job.max_retries, job.timeout, job.queue, job.cwd, job.env) == (
        "a1", 5, 1, 300.0, "q", "/tmp", {"A": "1"})
    for ts in (job.run_at, job.created_at, job.updated_at):
        assert ts.tzinfo is not None and ts.utcoffset() == timedelta(0)
    with pytest.raises(AttributeError):
        job.state = State.DEAD  # type: ignore[misc]
    assert "attempts_log" not in job.to_dict()  # as `enqueue --json` and `list --json`
    assert cli.json("list") == [job.to_dict()]
    assert q.get("a1").to_dict() == cli.json("show", "a1")


def test_get_after_an_attempt_matches_show_json(q: Queue, cli: Cli) -> None:
    q.enqueue("false", id="f", max_retries=0)
    _run_once(cli.db_url, Outcome.FAILED, b"boom\n")
    job = q.get("f")
    assert job.state is State.DEAD and job.exit_code == 3 and job.attempts == 1
    assert job.attempts_log is not None and [a.number for a in job.attempts_log] == [1]
    assert job.to_dict() == cli.json("show", "f")
    assert job.to_dict()["attempts_log"][0]["error"] == "exit code 3"
    with pytest.raises(JobNotFound, match="job 'ghost' not found") as info:
        q.get("ghost")
    assert isinstance(info.value, LookupError)


def test_defaults_come_from_config_and_the_current_directory(
    q: Queue, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("config", "set", "max-retries", "7")
    cli.ok("config", "set", "job-timeout", "90")
    monkeypatch.chdir(tmp_path)
    job = q.enqueue("true")
    assert (job.max_retries, job.timeout, job.cwd, job.queue, job.priority) == (
        7, 90.0, str(tmp_path), "default", 0)


def test_run_at_and_delay_take_python_values(q: Queue) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert q.enqueue("true", run_at=when).run_at == when
    assert q.enqueue("true", run_at="2030-01-02T03:04:05.678Z").run_at == when
    naive = datetime(2030, 6, 1, 12, 0)  # local time, as the CLI reads a time without zone
    assert q.enqueue("true", run_at=naive).run_at == naive.astimezone(UTC)
    before = datetime.now(UTC)
    for delay in (timedelta(hours=1), 3600, "1h"):
        run_at = q.enqueue("true", delay=delay).run_at
        assert timedelta(minutes=59) < run_at - before < timedelta(minutes=61)
    assert q.status()["scheduled"] == 6


# Each bad job in the API's words and as the CLI's JSON argument: the same message.
REFUSED = [
    ({"command": ""}, '{"command": ""}'),
    ({"command": "x", "priority": "high"}, '{"command": "x", "priority": "high"}'),
    ({"command": "x", "max_retries": -1}, '{"command": "x", "max_retries": -1}'),
    ({"command": "x", "env": {"1BAD": "v"}}, '{"command": "x", "env": {"1BAD": "v"}}'),
    ({"command": "x", "id": "a\nb"}, '{"command": "x", "id": "a\\nb"}'),
    ({"command": "x", "delay": "1h", "run_at": "2030-01-01T00:00:00Z"},
     '{"command": "x", "delay": "1h", "run_at": "2030-01-01T00:00:00Z"}'),
    ({"command": "x", "timeout": "soon"}, '{"command": "x", "timeout": "soon"}'),
    ({"command": "x", "queue": ""}, '{"command": "x", "queue": ""}'),
]


@pytest.mark.parametrize(("kwargs", "as_json"), REFUSED)
def test_a_refused_job_has_the_clis_message_and_writes_nothing(
    q: Queue, cli: Cli, kwargs: dict[str, object], as_json: str
) -> None:
    proc = cli.run("enqueue", as_json)
    assert proc.returncode in (1, 2) and proc.stderr.startswith("queuectl: error: ")
    cli_message = proc.stderr.removeprefix("queuectl: error: ").strip()
    rest = dict(kwargs)  # the same dict serves both stores: never change it
    command = rest.pop("command")
    with pytest.raises(InvalidJob) as info:
        q.enqueue(command, **rest)  # type: ignore[arg-type]
    assert str(info.value) == cli_message
    assert isinstance(info.value, ValueError)
    assert q.list() == [] and q.status()["counts"]["pending"] == 0


def test_duplicate_id_is_refused_and_the_first_job_kept(q: Queue) -> None:
    q.enqueue("echo first", id="dup")
    with pytest.raises(DuplicateJob, match="job 'dup' already exists"):
        q.enqueue("echo second", id="dup")
    assert q.get("dup").command == "echo first"


def test_enqueue_many_is_one_transaction(q: Queue) -> None:
    jobs = q.enqueue_many([{"command": "true", "id": "m1"},
                           {"command": "echo 2", "priority": 3, "delay": timedelta(seconds=60)},
                           {"command": "echo 3", "env": {"X": "y"}, "queue": "other"}])
    assert [j.command for j in jobs] == ["true", "echo 2", "echo 3"]
    assert {j.id for j in q.list(limit=None)} == {j.id for j in jobs}
    with pytest.raises(InvalidJob, match=r"^entry 2: invalid priority 2147483648"):
        q.enqueue_many([{"command": "true", "id": "n1"}, {"command": "x", "priority": 2**31}])
    with pytest.raises(InvalidJob, match="^entry 1: unknown job field 'bogus'"):
        q.enqueue_many([{"command": "true", "bogus": 1}])
    with pytest.raises(InvalidJob, match="^entry 2: job 'n2' appears twice in the batch"):
        q.enqueue_many([{"command": "true", "id": "n2"}, {"command": "true", "id": "n2"}])
    with pytest.raises(DuplicateJob, match="'m1' already exists"):
        q.enqueue_many([{"command": "true", "id": "n3"}, {"command": "true", "id": "m1"}])
    with pytest.raises(InvalidJob, match="^entry 2: expected a mapping of job fields, not str"):
        q.enqueue_many([{"command": "true"}, "echo hi"])  # type: ignore[list-item]
    assert len(q.list(limit=None)) == 3  # none of the refused batches left a job
    assert q.enqueue_many([]) == []


def test_list_filters_like_the_cli(q: Queue, cli: Cli) -> None:
    for n in range(3):
        q.enqueue("true", id=f"j{n}", queue="a" if n % 2 else "b")
    q.cancel("j0")
    assert [j.id for j in q.list()] == ["j2", "j1", "j0"]
    assert [j.id for j in q.list(limit=2)] == ["j2", "j1"]
    assert [j.id for j in q.list(queue="a")] == ["j1"]
    assert [j.id for j in q.list(state="cancelled")] == ["j0"]
    assert [j.id for j in q.list(state=State.PENDING, queue="b")] == ["j2"]
    assert [j.to_dict() for j in q.list()] == cli.json("list")
    with pytest.raises(ValueError, match="invalid state 'done'; valid: pending, processing"):
        q.list(state="done")
    with pytest.raises(ValueError, match="invalid limit -1"):
        q.list(limit=-1)


def test_cancel_retry_and_their_refusals(q: Queue, cli: Cli) -> None:
    q.enqueue("true", id="c")
    cancelled = q.cancel("c")
    assert cancelled.state is State.CANCELLED and q.get("c").state is State.CANCELLED
    with pytest.raises(WrongState, match="job 'c' is cancelled"):
        q.cancel("c")
    with pytest.raises(WrongState, match="job 'c' is cancelled, not dead"):
        q.retry("c")
    with pytest.raises(JobNotFound):
        q.cancel("ghost")
    q.enqueue("false", id="d", max_retries=0)
    _run_once(cli.db_url, Outcome.FAILED, b"")
    again = q.retry("d")
    assert (again.state, again.attempts) == (State.PENDING, 0)


def test_logs_wait_and_status(q: Queue, cli: Cli) -> None:
    q.enqueue("echo hi", id="l")
    assert q.logs("l") == b""  # not run yet
    _run_once(cli.db_url, Outcome.SUCCEEDED, b"hi\n\xff")
    assert q.logs("l") == q.logs("l", attempt=1) == b"hi\n\xff"  # bytes as captured
    with pytest.raises(NoOutput, match="job 'l' has no attempt 2"):
        q.logs("l", attempt=2)
    with pytest.raises(JobNotFound):
        q.logs("ghost")
    q.enqueue("sleep 60", id="p")
    [done] = q.wait("l")
    assert done.state is State.COMPLETED
    jobs = q.wait(["l", "p"], timeout=0.3)  # p never runs: the timeout ends the wait
    assert [(j.id, j.state) for j in jobs] == [("l", State.COMPLETED), ("p", State.PENDING)]
    with pytest.raises(JobNotFound):
        q.wait(["l", "ghost"])
    assert q.status() == cli.json("status")
    assert q.status()["counts"] == {"pending": 1, "processing": 0, "completed": 1,
                                    "failed": 0, "dead": 0, "cancelled": 0}


def test_queue_opens_the_store_the_cli_would(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUECTL_DB", cli.db_url)
    with Queue() as q:
        q.enqueue("true", id="from-env")
        assert "***" not in q.url or "@" in q.url
    assert [j["id"] for j in cli.json("list")] == ["from-env"]
    with pytest.raises(RuntimeError, match="closed"):
        q.get("from-env")
    q.close()  # twice is fine


def test_one_queue_shared_by_threads_and_one_per_thread(q: Queue, cli: Cli) -> None:
    errors: list[BaseException] = []

    def produce(queue: Queue, n: int) -> None:
        try:
            for i in range(15):
                job = queue.enqueue(f"echo {n}-{i}", id=f"t{n}-{i}")
                assert queue.get(job.id).command == f"echo {n}-{i}"
                queue.status()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def own_queue(n: int) -> None:
        with Queue(cli.db_url) as mine:
            produce(mine, n)

    threads = [threading.Thread(target=produce, args=(q, n)) for n in range(4)]
    threads += [threading.Thread(target=own_queue, args=(n,)) for n in range(4, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(q.list(limit=None)) == 8 * 15
    assert {j["id"] for j in cli.json("list", "--limit", "0")} == {
        f"t{n}-{i}" for n in range(8) for i in range(15)}


def test_after_reaches_the_same_checks_as_the_cli(q: Queue, cli: Cli) -> None:
    """Whatever `enqueue` says of a JSON job's "after", the API says of after=."""
    q.enqueue("true", id="first")
    proc = cli.run("enqueue", json.dumps({"command": "true", "after": ["ghost"]}))
    with pytest.raises(InvalidJob) as info:
        q.enqueue("true", after=["ghost"])
    assert str(info.value) == proc.stderr.removeprefix("queuectl: error: ").strip()
    assert [j.id for j in q.list()] == ["first"]


def test_after_and_unique_key(q: Queue) -> None:
    first = q.enqueue("true", id="first")
    job = q.enqueue("true", after=[first.id], unique_key="k")
    assert job.to_dict()["after"] == ["first"]
    assert job.to_dict()["waiting_for"] == ["first"]
    again = q.enqueue("true", unique_key="k")
    assert again.id == job.id and again.duplicate


def test_the_package_exports_the_api_lazily() -> None:
    import subprocess
    import sys

    code = ("import sys, queuectl\nassert 'queuectl.api' not in sys.modules\n"
            "from queuectl import Queue, Job, InvalidJob, JobNotFound, State\n"
            "assert 'queuectl.api' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert set(queuectl.__all__) >= {"Queue", "Job", "InvalidJob", "JobNotFound"}
    with pytest.raises(AttributeError):
        queuectl.Nope  # noqa: B018
