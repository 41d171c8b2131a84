"""Job policies as a user gives them (`--success-exit`, `--no-retry-exit`, ...) and how the
embedded worker applies them, on both stores, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from queuectl import Queue
from queuectl.errors import InvalidJob, InvalidValue
from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    """The dashboard and its JSON API on the test's store."""
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


def test_success_exit_codes_complete_the_job(clocked_cli: InProcessCli, worker: Worker) -> None:
    cli = clocked_cli
    ok = cli.json("enqueue", "-c", "exit 3", "--success-exit", "2,3-4", "--id", "ok")
    assert (ok["success_exit"], ok["no_retry_exit"]) == ([2, "3-4"], [])
    assert worker.work_until_idle() == 1
    done = cli.job("ok")
    assert (done["state"], done["exit_code"], done["attempts"]) == ("completed", 3, 1)
    assert done["last_error"] is None
    assert done["attempts_log"][0]["outcome"] == "succeeded"
    plain = cli.json("enqueue", '{"id": "plain", "command": "true"}')
    assert (plain["success_exit"], plain["no_retry_exit"]) == ([], [])


def test_no_retry_exit_goes_dead_at_once(clocked_cli: InProcessCli, worker: Worker) -> None:
    cli = clocked_cli
    cli.ok("enqueue", '{"id": "bk", "command": "exit 2", "max_retries": 5, '
                      '"no_retry_exit": [2, "64-78"]}')
    assert worker.work_until_idle() == 1
    dead = cli.job("bk")
    assert (dead["state"], dead["attempts"], dead["exit_code"]) == ("dead", 1, 2)
    assert dead["last_error"] == "exit code 2 (no retry)"
    assert dead["no_retry_exit"] == [2, "64-78"]
    # Other codes are retried as usual.
    cli.ok("enqueue", "-c", "exit 1", "--no-retry-exit", "2", "--id", "other")
    assert worker.work_until_idle() == 1
    assert cli.job("other")["state"] == "failed"


def test_policies_survive_a_retry_and_a_rerun(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("enqueue", "-c", "exit 9", "--success-exit", "7", "--no-retry-exit", "9",
           "--id", "first")
    assert worker.work_until_idle() == 1
    new_id = cli.ok("rerun", "first").strip()
    rerun = cli.job(new_id)
    assert (rerun["success_exit"], rerun["no_retry_exit"]) == ([7], [9])
    changed = cli.job(cli.ok("rerun", "first", "--no-retry-exit", "1-2").strip())
    assert (changed["success_exit"], changed["no_retry_exit"]) == ([7], ["1-2"])


@pytest.mark.parametrize("flag", ["--success-exit", "--no-retry-exit"])
@pytest.mark.parametrize("value", ["1-x", "9-3", "256", "-1"])
def test_bad_codes_are_refused_and_nothing_written(cli: InProcessCli, flag: str,
                                                   value: str) -> None:
    done = cli.run("enqueue", "-c", "true", flag, value)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "exit codes 0-255" in done.stderr
    field = flag.strip("-").replace("-", "_")
    as_json = cli.run("enqueue", f'{{"command": "true", "{field}": ["{value}"]}}')
    assert as_json.returncode == 2 and "exit codes 0-255" in as_json.stderr
    assert cli.json("list") == []


def test_queue_takes_the_policies(db_url: str, worker: Worker, clocked_cli: InProcessCli
                                  ) -> None:
    with Queue(db_url) as q:
        job = q.enqueue("exit 64", success_exit="0-1", no_retry_exit=[2, "64-78"])
        assert (job.success_exit, job.no_retry_exit) == (("0-1",), (2, "64-78"))
        with pytest.raises(InvalidJob, match="no_retry_exit"):
            q.enqueue("true", no_retry_exit=[300])
        assert worker.work_until_idle() == 1
        ended = q.get(job.id)
        assert (ended.state, ended.last_error) == ("dead", "exit code 64 (no retry)")
        assert ended.to_dict()["no_retry_exit"] == [2, "64-78"]


def test_dashboard_and_api_show_the_policies(cli: InProcessCli, api: TestClient) -> None:
    job_id = cli.enqueue("true", "--success-exit", "3,10-12", "--no-retry-exit", "2")
    doc = api.get(f"/api/jobs/{job_id}").json()
    assert (doc["success_exit"], doc["no_retry_exit"]) == ([3, "10-12"], [2])
    page = api.get(f"/jobs/{job_id}").text
    assert '<dd id="job-success-exit">3,10-12</dd>' in page
    assert '<dd id="job-no-retry-exit">2</dd>' in page
    shown = cli.ok("show", job_id)
    assert "3,10-12" in shown and "no_retry_exit" in shown
    timed = cli.enqueue("true", "--deadline", "2h", "--expires", "2099-01-01T00:00:00Z")
    page = api.get(f"/jobs/{timed}").text
    assert '<dd id="job-deadline">2h from the first start</dd>' in page
    assert '<dd id="job-expires">2099-01-01T00:00:00.000Z</dd>' in page
    assert api.get(f"/api/jobs/{timed}").json()["expires_at"] == "2099-01-01T00:00:00.000Z"
    after = cli.enqueue("true", "--after-any", job_id, "--after-failure", timed)
    page = api.get(f"/jobs/{after}").text
    assert 'id="job-after-any"' in page and 'id="job-after-failure"' in page
    with Queue(cli.db_url) as q:
        job = q.enqueue("true", after_any=[job_id], after_failure=timed)
        assert (job.after_any, job.after_failure) == ((job_id,), (timed,))


def test_expired_job_is_cancelled_when_a_worker_meets_it(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()
    job = cli.json("enqueue", "-c", "echo ran", "--expires", "10s", "--id", "exp")
    assert job["expires_at"] is not None and job["deadline"] is None
    cli.ok("enqueue", "-c", "true", "--id", "next", "--after", "exp")
    clock.move(11)
    worker.work_until_idle()  # claims it (a claim counts) and ends it unstarted
    gone = cli.job("exp")
    assert (gone["state"], gone["last_error"], gone["attempts"]) == ("cancelled", "expired", 0)
    assert gone["attempts_log"] == []
    assert cli.job("next")["last_error"] == "dependency 'exp' cancelled"


def test_housekeeping_cancels_expired_jobs_that_are_not_due(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()
    cli.ok("enqueue", "-c", "true", "--delay", "1h", "--expires", "30s", "--id", "later")
    cli.ok("enqueue", "-c", "true", "--delay", "1h", "--expires", "2h", "--id", "kept")
    clock.move(31)
    worker.work_until_idle()
    assert cli.job("later")["state"] == "cancelled"
    assert cli.job("later")["last_error"] == "expired"
    assert cli.job("kept")["state"] == "pending"


def test_a_deadline_kills_the_running_attempt(clocked_cli: InProcessCli, worker: Worker
                                             ) -> None:
    cli = clocked_cli
    job = cli.json("enqueue", "-c", "sleep 30", "--deadline", "1s", "--max-retries", "5",
                   "--id", "slow")
    assert job["deadline"] == 1.0
    assert worker.work_until_idle() == 1
    dead = cli.job("slow")
    assert (dead["state"], dead["last_error"], dead["attempts"]) == (
        "dead", "deadline exceeded", 1)
    assert dead["attempts_log"][0]["error"].startswith("timed out")


def test_a_retry_past_the_deadline_goes_dead_at_once(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()
    cli.ok("enqueue", "-c", "exit 1", "--deadline", "3s", "--max-retries", "5", "--id", "d")
    assert worker.work_until_idle() == 1
    assert cli.job("d")["state"] == "failed"  # retried in 2 s: within the deadline
    clock.move(2)
    assert worker.work_until_idle() == 1
    dead = cli.job("d")  # the next retry (4 s later) would come past it
    assert (dead["state"], dead["last_error"], dead["attempts"]) == (
        "dead", "deadline exceeded", 2)
    cli.ok("dlq", "retry", "d")  # the deadline counts again from the next start
    assert worker.work_until_idle() == 1
    assert cli.job("d")["state"] == "failed"


def test_no_attempt_starts_past_the_deadline(
    clocked_cli: InProcessCli, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()
    cli.ok("enqueue", "-c", "exit 1", "--deadline", "3s", "--max-retries", "5", "--id", "d")
    assert worker.work_until_idle() == 1
    clock.move(10)  # the retry was due at 2 s; no worker came before the deadline
    worker.work_until_idle()
    dead = cli.job("d")
    assert (dead["state"], dead["last_error"]) == ("dead", "deadline exceeded")
    assert len(dead["attempts_log"]) == 1


@pytest.mark.parametrize(("args", "code"), [
    (["--deadline", "0"], 1), (["--deadline", "-5m"], 1), (["--deadline", "soon"], 2),
    (["--expires", "0s"], 1), (["--expires", "2020-01-01T00:00:00Z"], 1),
    (["--expires", "whenever"], 2),
])
def test_bad_deadlines_and_expiries_are_refused(cli: InProcessCli, args: list[str],
                                                code: int) -> None:
    done = cli.run("enqueue", "-c", "true", *args)
    assert done.returncode == code, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert cli.json("list") == []


def test_queue_takes_deadline_and_expiry(db_url: str) -> None:
    from datetime import timedelta

    with Queue(db_url) as q:
        job = q.enqueue("true", deadline="2h", expires=timedelta(minutes=5))
        assert job.deadline == 7200 and job.expires_at is not None
        assert q.get(job.id).to_dict()["deadline"] == 7200
        with pytest.raises(InvalidJob, match="deadline"):
            q.enqueue("true", deadline=0)


@pytest.fixture
def url_worker(clocked_store: Storage, clock: MovingClock, db_url: str) -> Worker:
    """The embedded worker, telling its jobs the store (QUEUECTL_DB), as a pool's do."""
    return Worker(clocked_store, (), clocks=clock.clocks, url=db_url)


def test_snooze_sends_the_job_back_without_spending_a_retry(
    clocked_cli: InProcessCli, clock: MovingClock, url_worker: Worker,
) -> None:
    cli = clocked_cli
    clock.freeze()
    # The first attempt snoozes, then fails: still back in 10 s, no retry spent.
    cli.ok("enqueue", "-c", 'if [ "$QUEUECTL_ATTEMPT" = 1 ]; then queuectl snooze 10s; '
                            'exit 3; fi; echo second', "--id", "s", "--max-retries", "0")
    assert url_worker.work_until_idle() == 1
    job = cli.job("s")
    assert (job["state"], job["attempts"], job["snoozes"]) == ("pending", 0, 1)
    assert job["attempts_log"][0]["exit_code"] == 3
    clock.move(9.9)
    assert url_worker.work_until_idle() == 0
    clock.move(0.2)
    assert url_worker.work_until_idle() == 1
    done = cli.job("s")
    assert (done["state"], done["attempts"], done["snoozes"]) == ("completed", 1, 1)


def test_snooze_past_max_snoozes_is_refused_and_the_attempt_ends_as_usual(
    clocked_cli: InProcessCli, url_worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("config", "set", "max-snoozes", "0")
    cli.ok("enqueue", "-c", "queuectl snooze 1m 2>err; echo $? > code; exit 4",
           "--id", "s", "--max-retries", "0")
    assert url_worker.work_until_idle() == 1
    job = cli.job("s")
    assert (job["state"], job["snoozes"], job["last_error"]) == ("dead", 0, "exit code 4")
    assert (cli.cwd / "code").read_text().strip() == "1"
    assert "max-snoozes" in (cli.cwd / "err").read_text()


def test_snooze_outside_a_job_is_refused(cli: InProcessCli) -> None:
    done = cli.run("snooze", "5m")
    assert done.returncode == 1 and "only inside a job" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with Queue(cli.db_url) as q, pytest.raises(InvalidValue, match="only inside a job"):
        q.snooze("5m")


def test_after_any_runs_once_the_job_ends_in_any_way(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    for first, command in (("ok", "true"), ("bad", "exit 1")):
        cli.ok("enqueue", "-c", command, "--id", first, "--max-retries", "0")
        job = cli.json("enqueue", "-c", "true", "--after-any", first, "--id", f"after-{first}")
        assert (job["after_any"], job["waiting_for"], job["after"]) == ([first], [first], [])
    cli.ok("enqueue", "-c", "true", "--delay", "1h", "--id", "gone")
    cli.ok("enqueue", "-c", "true", "--after-any", "gone", "--id", "after-gone")
    cli.ok("cancel", "gone")
    assert worker.work_until_idle() == 5
    for name in ("after-ok", "after-bad", "after-gone"):
        done = cli.job(name)
        assert (done["state"], done["waiting_for"]) == ("completed", []), name


def test_after_failure_runs_only_when_the_job_fails(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("enqueue", "-c", "exit 1", "--id", "bad", "--max-retries", "0")
    cli.ok("enqueue", "-c", "true", "--id", "good")
    cli.ok("enqueue", "-c", "echo alert", "--after-failure", "bad", "--id", "alert-bad")
    cli.ok("enqueue", "-c", "echo alert", "--after-failure", "good", "--id", "alert-good")
    # The not-needed job's own dependents follow the usual rules.
    cli.ok("enqueue", "-c", "true", "--after", "alert-good", "--id", "then")
    cli.ok("enqueue", "-c", "true", "--after-any", "alert-good", "--id", "anyway")
    assert worker.work_until_idle() == 4  # bad, good, alert-bad, anyway
    assert cli.job("alert-bad")["state"] == "completed"
    skipped = cli.job("alert-good")
    assert skipped["state"] == "cancelled"
    assert skipped["last_error"] == "not needed: 'good' completed"
    assert skipped["after_failure"] == ["good"]
    assert cli.job("then")["last_error"] == "dependency 'alert-good' cancelled"
    assert cli.job("anyway")["state"] == "completed"
    refused = cli.run("enqueue", "-c", "true", "--after-failure", "good")
    assert refused.returncode == 1 and "completed" in refused.stderr


def test_a_long_chain_after_a_job_not_needed_is_cancelled_to_its_end(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    # Each job cancelled down the chain is one more level of the store's own recursion
    # (SQLite allows 1,000 trigger levels): 600 deep must still end as one finish.
    cli = clocked_cli
    chain = [f"c{n}" for n in range(600)]
    jobs = ['{"id": "good", "command": "true"}',
            '{"id": "alert", "command": "true", "after_failure": "good"}']
    jobs += [f'{{"id": "{job}", "command": "true", "after": ["{before}"]}}'
             for before, job in zip(["alert", *chain], chain, strict=False)]
    (cli.cwd / "chain.jsonl").write_text("\n".join(jobs))
    cli.ok("enqueue", "--file", "chain.jsonl")
    assert worker.work_until_idle() == 1
    assert cli.job("good")["state"] == "completed"
    last = cli.job(chain[-1])
    cause = f"dependency '{chain[-2]}' cancelled"
    assert (last["state"], last["last_error"]) == ("cancelled", cause)


def test_a_bulk_file_mixes_the_three_kinds(clocked_cli: InProcessCli, worker: Worker) -> None:
    cli = clocked_cli
    jobs = "\n".join([
        '{"id": "a", "command": "exit 1", "max_retries": 0}',
        '{"id": "b", "command": "true", "after_any": ["a"]}',
        '{"id": "c", "command": "true", "after_failure": "a", "after": ["b"]}',
        '{"id": "d", "command": "true", "after": ["a"]}',
    ])
    (cli.cwd / "jobs.jsonl").write_text(jobs)
    cli.ok("enqueue", "--file", "jobs.jsonl")
    assert worker.work_until_idle() == 3
    assert [cli.job(j)["state"] for j in "abcd"] == ["dead", "completed", "completed", "pending"]
    both = cli.run("enqueue", '{"command": "true", "after": ["a"], "after_any": ["a"]}')
    assert both.returncode == 1 and "both after and after_any" in both.stderr


def test_waiting_on_a_dead_job_is_said_and_wait_returns_at_once(
    clocked_cli: InProcessCli, worker: Worker, db_url: str,
) -> None:
    cli = clocked_cli
    cli.ok("enqueue", "-c", "exit 1", "--id", "build", "--max-retries", "0")
    cli.ok("enqueue", "-c", "true", "--id", "test", "--after", "build")
    cli.ok("enqueue", "-c", "true", "--id", "deploy", "--after", "test")
    cli.ok("enqueue", "-c", "true", "--id", "notify", "--after-any", "build")
    assert worker.work_until_idle() == 2  # build (dead), notify
    done = cli.run("wait", "deploy")  # down the chain: deploy -> test -> build
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "'build', which is dead" in done.stderr
    listed = cli.ok("list")
    assert listed.count("waiting for build (dead)") == 2
    assert "waiting for build (dead)" in cli.ok("show", "deploy")
    with Queue(db_url) as q:
        [job] = q.wait("deploy")
        assert job.state == "pending" and job.waiting_for == ("test",)
    cli.ok("dlq", "retry", "build")  # resumes the chain
    assert "(dead)" not in cli.ok("list")


def test_cron_jobs_carry_the_schedules_policies(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "nightly", "@daily", "-c", "exit 2", "--no-retry-exit", "2,64-78",
           "--success-exit", "3", "--deadline", "2h", "--max-retries", "4")
    [listed] = cli.json("cron", "list")
    assert (listed["no_retry_exit"], listed["success_exit"], listed["deadline"]) == (
        [2, "64-78"], [3], 7200)
    job_id = cli.ok("cron", "run", "nightly").strip()
    job = cli.job(job_id)
    assert (job["no_retry_exit"], job["success_exit"], job["deadline"]) == (
        [2, "64-78"], [3], 7200)
    assert worker.work_until_idle() == 1
    assert cli.job(job_id)["last_error"] == "exit code 2 (no retry)"
    cli.ok("cron", "add", "fresh", "@hourly", "-c", "true", "--expires", "10m")
    fresh = cli.job(cli.ok("cron", "run", "fresh").strip())
    from datetime import datetime

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    assert (at(fresh["expires_at"]) - at(fresh["created_at"])).total_seconds() == 600
    assert [c["expires"] for c in cli.json("cron", "list")] == [600, None]
    bad = cli.run("cron", "add", "x", "@daily", "-c", "true", "--no-retry-exit", "9-3")
    assert bad.returncode == 2
    assert [c["name"] for c in cli.json("cron", "list")] == ["fresh", "nightly"]  # no x
    zero = cli.run("cron", "add", "y", "@daily", "-c", "true", "--expires", "0s")
    assert zero.returncode == 1 and "more than 0" in zero.stderr


def test_a_pools_jobs_find_their_store_for_snooze(cli: InProcessCli) -> None:
    cli.ok("enqueue", "-c", 'if [ "$QUEUECTL_ATTEMPT" = 1 ]; then queuectl snooze 0.2s; fi',
           "--id", "s", "--max-retries", "0")
    # The pool names its store by --db alone: its jobs learn it from their worker.
    cli.start_workers(1, "--db", cli.db_url,
                      env={"QUEUECTL_DB": str(cli.cwd / "elsewhere" / "none.db")})
    done = cli.wait_state("s", "completed", "dead")
    assert (done["state"], done["snoozes"], done["attempts"]) == ("completed", 1, 1)
    assert len(done["attempts_log"]) == 2
