"""Job policies as a user gives them (`--success-exit`, `--no-retry-exit`, ...) and how the
embedded worker applies them, on both stores, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from queuectl import Queue
from queuectl.errors import InvalidJob
from queuectl.pool.worker import Worker
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
