"""An operator's hands on single jobs, in-process on both stores: `remove` deletes ended
jobs with their history, all or nothing; `rerun` makes a new job from an ended one; a held
job is never claimed until released; tags and search filter `list`. The jobs are run by
the embedded worker on the test's clock. The bulk forms (`--all` with filters) act on
every job a filter matches, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from queuectl import InvalidJob, Queue
from queuectl.app import control
from queuectl.errors import JobNeeded, WrongState
from queuectl.models import JobSpec
from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    """The dashboard's JSON API on the test's store."""
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


def _ended(cli: InProcessCli, worker: Worker) -> tuple[str, str, str]:
    """A completed, a dead and a cancelled job (the first two with output)."""
    done = cli.enqueue("echo remove-me")
    dead = cli.enqueue("echo dying; exit 1", "--max-retries", "0")
    cancelled = cli.enqueue("true", "--delay", "1h")
    cli.ok("cancel", cancelled)
    assert worker.work_until_idle() == 2
    return done, dead, cancelled


def test_remove_deletes_ended_jobs_with_their_attempts_and_output(
    clocked_cli: InProcessCli, clocked_store: Storage, worker: Worker,
) -> None:
    cli = clocked_cli
    done, dead, cancelled = _ended(cli, worker)
    kept = cli.enqueue("true", "--delay", "1h")
    assert cli.ok("remove", done, dead).splitlines() == [done, dead]
    assert cli.json("remove", cancelled, cancelled) == {
        "count": 1, "ids": [cancelled], "skipped": 0}
    for gone in (done, dead, cancelled):
        assert cli.run("show", gone).returncode == 1
        assert clocked_store.attempts(gone) == [] and clocked_store.read_output(gone) is None
    assert [job["id"] for job in cli.json("list")] == [kept]


def test_remove_is_all_or_nothing(
    clocked_cli: InProcessCli, clocked_store: Storage, worker: Worker,
) -> None:
    cli = clocked_cli
    done, dead, _ = _ended(cli, worker)
    waiting = cli.enqueue("true", "--delay", "1h")
    before = cli.json("list")
    refused = cli.run("remove", done, waiting, dead)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (f"queuectl: error: job '{waiting}' is pending, "
                              "not completed, dead or cancelled\n")
    assert cli.run("remove", done, "ghost").stderr == "queuectl: error: job 'ghost' not found\n"
    assert cli.json("list") == before
    assert clocked_store.read_output(done) is not None


def test_a_dead_job_a_waiting_job_needs_is_not_removed(
    clocked_cli: InProcessCli, clocked_store: Storage, worker: Worker,
) -> None:
    cli = clocked_cli
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    assert worker.work_until_idle() == 1
    waiting = cli.enqueue("true", "--after", dead)
    with pytest.raises(WrongState):
        control.remove(clocked_store, [waiting])
    refused = cli.run("remove", dead)
    assert refused.returncode == 1
    assert refused.stderr == (f"queuectl: error: job '{dead}' is dead and job '{waiting}' "
                              "waits for it\n")
    with pytest.raises(JobNeeded):
        control.remove(clocked_store, [dead])
    cli.ok("cancel", waiting)  # nothing waits for it now
    assert control.remove(clocked_store, [dead, waiting]) == [dead, waiting]
    assert clocked_store.list_jobs() == []


def test_remove_from_python_and_the_json_api(
    clocked_cli: InProcessCli, worker: Worker, api: TestClient, db_url: str,
) -> None:
    cli = clocked_cli
    done, dead, cancelled = _ended(cli, worker)
    waiting = cli.enqueue("true", "--delay", "1h")
    with Queue(db_url) as q:
        with pytest.raises(WrongState, match=f"job '{waiting}' is pending"):
            q.remove(done, waiting)
        assert q.remove(done) == [done]
    answer = api.post(f"/api/jobs/{dead}/remove")
    assert (answer.status_code, answer.json()) == (200, {"count": 1, "ids": [dead], "skipped": 0})
    refused = api.post(f"/api/jobs/{waiting}/remove")
    assert refused.status_code == 409 and "is pending" in refused.json()["error"]
    assert api.post("/api/jobs/ghost/remove").status_code == 404
    assert api.get(f"/api/jobs/{cancelled}/remove").status_code == 405
    assert [job["id"] for job in cli.json("list")] == [waiting, cancelled]


def test_rerun_makes_a_new_job_from_an_ended_one_the_flags_winning(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    first = cli.enqueue("exit 1", "--id", "first", "--delay", "2h")
    dep = cli.enqueue("echo dep")
    assert worker.work_until_idle() == 1
    job = cli.enqueue("echo again", "--id", "orig", "-p", "3", "--timeout", "5m",
                      "--max-retries", "0", "--queue", "q", "-e", "A=1", "--after", dep,
                      "--unique-key", "k", "--delay", "1h")
    cli.ok("cancel", first)
    clock.move(3600)
    assert worker.work_until_idle() == 1
    assert cli.job(job)["state"] == "completed"
    new = cli.ok("rerun", job).strip()
    doc = cli.job(new)
    assert new != job and doc["rerun_of"] == job and doc["state"] == "pending"
    assert {k: doc[k] for k in ("command", "priority", "timeout", "max_retries", "queue",
                                "env")} == {"command": "echo again", "priority": 3,
                                            "timeout": 300, "max_retries": 0, "queue": "q",
                                            "env": {"A": "1"}}
    assert (doc["after"], doc["unique_key"], doc["run_at"]) == ([], None, doc["created_at"])
    flagged = cli.json("rerun", job, "-p", "9", "--id", "mine", "-e", "B=2", "--delay", "1m")
    assert (flagged["id"], flagged["priority"], flagged["env"]) == ("mine", 9, {"B": "2"})
    assert flagged["rerun_of"] == job and flagged["run_at"] != flagged["created_at"]
    assert cli.json("rerun", first)["command"] == "exit 1"  # cancelled: ended too
    assert cli.job(job)["rerun_of"] is None
    refused = cli.run("rerun", new)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (f"queuectl: error: job '{new}' is pending, not completed, "
                              "dead or cancelled\n")


def test_rerun_from_python_the_json_api_and_the_job_page(
    clocked_cli: InProcessCli, worker: Worker, api: TestClient, db_url: str,
) -> None:
    cli = clocked_cli
    done = cli.enqueue("echo hi", "-p", "2")
    waiting = cli.enqueue("true", "--delay", "1h")
    assert worker.work_until_idle() == 1
    with Queue(db_url) as q:
        again = q.rerun(done, priority=7)
        assert (again.rerun_of, again.priority, again.command) == (done, 7, "echo hi")
        assert q.get(again.id).rerun_of == done
        with pytest.raises(WrongState, match="is pending"):
            q.rerun(waiting)
        with pytest.raises(InvalidJob, match="unknown job field"):
            q.rerun(done, colour="red")
    answer = api.post(f"/api/jobs/{done}/rerun")
    assert answer.status_code == 200 and answer.json()["rerun_of"] == done
    assert api.post(f"/api/jobs/{waiting}/rerun").status_code == 409
    assert api.post("/api/jobs/ghost/rerun").status_code == 404
    assert 'id="job-rerun"' in api.get(f"/jobs/{done}").text
    assert 'id="job-rerun"' not in api.get(f"/jobs/{waiting}").text


def test_a_held_job_is_never_claimed_until_released(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    held = cli.enqueue("echo held", "--hold")
    assert cli.job(held)["held"] is True
    dep = cli.enqueue("echo dep", "--delay", "10s")
    after = cli.enqueue("echo after", "--after", dep, "--hold")
    retried = cli.enqueue("exit 1", "--max-retries", "1")
    assert worker.work_until_idle() == 1  # only the retried one: held jobs are passed over
    assert cli.job(retried)["state"] == "failed"
    assert cli.ok("hold", retried) == f"{retried}\n"
    clock.move(3600)  # the dependency completes and the backoff ends: still held, both
    assert worker.work_until_idle() == 1
    assert cli.job(dep)["state"] == "completed"
    assert [(j["id"], j["held"]) for j in cli.json("list", "--state", "pending")] == [
        (after, True), (held, True)]
    assert "held" in cli.ok("list", "--state", "failed").splitlines()[1].split()
    status = cli.json("status")
    assert (status["counts"]["pending"], status["counts"]["failed"]) == (2, 1)
    assert (status["held"], status["blocked"], status["scheduled"]) == (3, 0, 0)
    assert ["held", "3"] in [line.split() for line in cli.ok("status").splitlines()]
    released = cli.json("release", held, after, retried)
    assert [j["held"] for j in released] == [False, False, False]
    assert worker.work_until_idle() == 3
    assert [cli.job(j)["state"] for j in (held, after, retried)] == [
        "completed", "completed", "dead"]
    assert cli.json("status")["held"] == 0


def test_hold_and_release_are_all_or_nothing(clocked_cli: InProcessCli, worker: Worker) -> None:
    cli = clocked_cli
    waiting = cli.enqueue("true", "--delay", "1h")
    done = cli.enqueue("true")
    assert worker.work_until_idle() == 1
    before = cli.json("list")
    for args, said in [
        (("hold", waiting, done), f"job '{done}' is completed, not pending or failed"),
        (("release", waiting), f"job '{waiting}' is pending, not held"),
        (("hold", waiting, "ghost"), "job 'ghost' not found"),
    ]:
        refused = cli.run(*args)
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == f"queuectl: error: {said}\n"
    assert cli.json("list") == before
    cli.ok("hold", waiting)
    refused = cli.run("hold", waiting)
    assert refused.stderr == f"queuectl: error: job '{waiting}' is pending and held already\n"
    cli.ok("cancel", waiting)  # a cancelled job is no longer held
    assert cli.job(waiting)["held"] is False


def test_hold_and_release_from_python_the_json_api_and_the_job_page(
    clocked_cli: InProcessCli, api: TestClient, db_url: str,
) -> None:
    cli = clocked_cli
    with Queue(db_url) as q:
        job = q.enqueue("true", held=True)
        assert job.held and q.get(job.id).held
        assert q.release(job.id) == [job.id] and not q.get(job.id).held
        assert q.hold(job.id) == [job.id]
        with pytest.raises(WrongState, match="held already"):
            q.hold(job.id)
    page = api.get(f"/jobs/{job.id}").text
    assert 'id="job-release"' in page and 'id="job-hold"' not in page
    answer = api.post(f"/api/jobs/{job.id}/release")
    assert answer.status_code == 200 and answer.json()["held"] is False
    page = api.get(f"/jobs/{job.id}").text
    assert 'id="job-hold"' in page and 'id="job-release"' not in page
    assert api.post(f"/api/jobs/{job.id}/release").status_code == 409
    assert api.post(f"/api/jobs/{job.id}/hold").json()["held"] is True
    assert api.post("/api/jobs/ghost/hold").status_code == 404
    assert api.get("/api/status").json()["held"] == 1
    assert cli.json("status")["held"] == 1


def test_tags_and_search_filter_list_with_state_and_queue(
    clocked_cli: InProcessCli, worker: Worker, api: TestClient, db_url: str,
) -> None:
    cli = clocked_cli
    build = cli.enqueue("make Build", "--id", "b1", "--tag", "ci", "--tag", "nightly")
    assert cli.job(build)["tags"] == ["ci", "nightly"]
    deploy = cli.enqueue("./deploy.sh", "--id", "Deploy-1", "--tag", "ci", "--queue", "ops")
    plain = cli.enqueue("echo été", "--id", "p1", "--delay", "1h")
    assert cli.job(plain)["tags"] == []
    many = cli.json("enqueue", '{"command": "true", "tags": ["été", "a b", "ci", "ci"]}')
    assert many["tags"] == ["été", "a b", "ci"]
    assert worker.work_until_idle() == 3

    def ids(*args: str) -> list[str]:
        return [job["id"] for job in cli.json("list", *args)]

    assert ids("--tag", "ci") == [many["id"], deploy, build]
    assert ids("--tag", "ci", "--tag", "nightly") == [build]
    assert ids("--tag", "ci", "--queue", "ops") == [deploy]
    assert ids("--tag", "été") == [many["id"]] and ids("--tag", "a") == []
    assert ids("--search", "BUILD") == [build]
    assert ids("--search", "deploy") == [deploy]  # the id or the command, any case
    assert ids("--search", "make", "--state", "pending") == []
    assert ids("--search", "é", "--state", "pending") == [plain]
    assert ids("--search", "%") == [] and ids("--search", "_") == []  # text, not patterns
    assert ids("--search", "e", "--tag", "ci", "--state", "failed") == [deploy, build]
    found = api.get("/api/jobs", params=[("tag", "ci"), ("tag", "nightly")])
    assert [job["id"] for job in found.json()] == [build]
    assert [job["id"] for job in api.get("/api/jobs?search=DEPLOY").json()] == [deploy]
    assert '<dd id="job-tags">ci, nightly</dd>' in api.get(f"/jobs/{build}").text
    with Queue(db_url) as q:
        assert [job.id for job in q.list(tags=["ci"], search="make")] == [build]
        tagged = q.enqueue("true", tags=["x"], held=True)
        assert q.get(tagged.id).tags == ("x",)
    cli.ok("cancel", build)
    again = cli.json("rerun", build)
    assert again["tags"] == ["ci", "nightly"]
    assert cli.json("rerun", build, "--tag", "other")["tags"] == ["other"]


def test_bulk_actions_take_every_job_a_filter_matches(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker, api: TestClient,
) -> None:
    cli = clocked_cli
    tagged = [cli.enqueue(f"echo {n}", "--tag", "t", "--delay", "1h") for n in range(5)]
    other = cli.enqueue("sleep 1", "--delay", "1h", "--queue", "q")
    before = cli.json("list")
    assert cli.ok("hold", "--all", "--tag", "t", "--dry-run").split() == tagged
    assert cli.json("list") == before  # --dry-run writes nothing
    assert cli.json("hold", "--all", "--tag", "t", "--json") == {
        "count": 5, "ids": tagged, "skipped": 0}
    assert cli.ok("hold", "--all") == "1\n"  # only the one not held yet
    assert cli.json("status")["held"] == 6
    assert cli.json("release", "--all", "--queue", "q", "--json")["ids"] == [other]
    assert cli.json("release", "--all", "--search", "ECHO 3", "--json")["ids"] == [tagged[3]]
    assert cli.ok("cancel", "--all", "--state", "pending", "--tag", "t") == "5\n"
    clock.move(60)
    assert cli.json("cancel", "--all", "--older-than", "1m", "--json")["ids"] == [other]
    dead = cli.enqueue("exit 1", "--max-retries", "0", "--tag", "d")
    assert worker.work_until_idle() == 1
    assert cli.json("dlq", "retry", "--all", "--tag", "d", "--dry-run", "--json")["ids"] == [
        dead]
    assert cli.json("dlq", "retry", "--all", "--tag", "d", "--json")["ids"] == [dead]
    assert worker.work_until_idle() == 1
    answer = api.post("/api/jobs/bulk", json={"action": "remove", "filter": {
        "state": "cancelled", "tag": ["t"]}, "dry_run": True})
    assert answer.json() == {"count": 5, "ids": tagged, "skipped": 0}
    answer = api.post("/api/jobs/bulk", json={"action": "remove", "filter": {}})
    assert answer.json()["count"] == 7
    assert cli.json("list") == []
    assert api.post("/api/jobs/bulk", json={"action": "purge"}).status_code == 400
    assert api.post("/api/jobs/bulk", json={"action": "cancel", "filter": {
        "older_than": "soon"}}).status_code == 400


def test_bulk_goes_in_batches_and_skips_jobs_that_changed(store: Storage) -> None:
    ids = store.enqueue_ids([JobSpec(command="true", max_retries=0) for _ in range(5)])
    store.cancel([ids[2]])  # left the matching state after the match
    done, skipped = control._each_or_skip(lambda todo: store.hold(todo), ids)
    assert (done, skipped) == ([ids[0], ids[1], ids[3], ids[4]], 1)
    assert control.bulk(store, "release", control.JobFilter(), batch=2) == {
        "count": 4, "ids": [ids[0], ids[1], ids[3], ids[4]], "skipped": 0}
    assert control.bulk(store, "cancel", control.JobFilter(state="failed")) == {
        "count": 0, "ids": [], "skipped": 0}


def test_bulk_remove_matches_no_job_a_waiting_job_needs(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    dead = cli.enqueue("exit 1", "--max-retries", "0")
    done = cli.enqueue("true")
    assert worker.work_until_idle() == 2
    waiting = cli.enqueue("true", "--after", dead)
    assert cli.json("remove", "--all", "--dry-run", "--json")["ids"] == [done]
    assert cli.json("remove", "--all", "--json") == {"count": 1, "ids": [done], "skipped": 0}
    assert {job["id"] for job in cli.json("list")} == {dead, waiting}


def test_the_jobs_page_searches_text_and_tags_and_offers_the_bulk_actions(
    clocked_cli: InProcessCli, api: TestClient,
) -> None:
    cli = clocked_cli
    found = cli.enqueue("echo Report", "--tag", "nightly", "--delay", "1h")
    cli.enqueue("echo report", "--delay", "1h")
    cli.enqueue("make build", "--tag", "nightly", "--delay", "1h")
    page = api.get("/jobs", params={"q": "REPORT", "tag": "nightly", "state": "pending"}).text
    assert found in page and page.count('<td class="id">') == 1
    assert ('data-filter=\'{"queue": null, "search": "REPORT", "state": "pending", '
            '"tag": ["nightly"]}\'') in page
    for action in ("cancel", "retry", "hold", "release"):
        assert f'data-bulk="{action}"' in page
    assert 'value="REPORT"' in page and 'value="nightly"' in page
    everything = api.get("/jobs").text
    assert everything.count('<td class="id">') == 3
    assert '"search": null, "state": null, "tag": []' in everything
