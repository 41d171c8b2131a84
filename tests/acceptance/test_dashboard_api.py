"""The dashboard's JSON API, /metrics and access rules, against a real server process."""

from __future__ import annotations

import re
import signal
import subprocess
from urllib.parse import quote

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboard_server import dashboard, wait_answering
from tests.helpers import QUEUECTL, Cli

ODD_ID = 'a/b c?d#e%f "q" <i>é</i>'


def enc(job_id: str) -> str:
    return quote(job_id, safe="")


@pytest.fixture
def finished(cli: Cli) -> dict[str, str]:
    """A store with a completed, a dead and a pending job; workers stopped again."""
    cli.inline("config", "set", "backoff-base", "1")
    ids = {"ok": cli.enqueue("echo hello; echo world", "--id", ODD_ID),
           "dead": cli.enqueue("echo boom >&2; exit 3", "--max-retries", "0")}
    cli.start_workers(1)
    cli.wait_state(ids["ok"], "completed")
    cli.wait_state(ids["dead"], "dead")
    cli.ok("worker", "stop")
    ids["pending"] = cli.enqueue("true", "--delay", "1h")
    return ids


@pytest.mark.smoke
def test_read_endpoints_match_the_cli(cli: Cli, finished: dict[str, str]) -> None:
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        assert http.get("/api/status").json() == cli.json("status")
        assert http.get("/api/jobs").json() == cli.json("list")
        assert http.get("/api/jobs", params={"state": "dead"}).json() == cli.json(
            "list", "--state", "dead")
        assert [j["id"] for j in http.get("/api/jobs", params={"limit": 1}).json()] == [
            finished["pending"]]
        assert http.get("/api/jobs", params={"queue": "nope"}).json() == []
        bad = http.get("/api/jobs", params={"state": "sleeping"})
        assert bad.status_code == 400 and "pending" in bad.json()["error"]
        shown = http.get(f"/api/jobs/{enc(ODD_ID)}")
        assert shown.status_code == 200 and shown.json() == cli.json("show", ODD_ID)
        assert shown.json()["attempts_log"][0]["exit_code"] == 0
        logs = http.get(f"/api/jobs/{enc(ODD_ID)}/logs").json()
        assert logs["output"] == "hello\nworld\n" and logs["finished"] is True
        missing = http.get("/api/jobs/nope")
        assert missing.status_code == 404 and missing.json() == {"error": "job 'nope' not found"}
        assert http.get("/api/jobs/nope/logs").status_code == 404
        assert http.get(f"/api/jobs/{finished['pending']}/logs").status_code == 404


def test_retry_and_cancel(cli: Cli, finished: dict[str, str]) -> None:
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        retried = http.post(f"/api/jobs/{finished['dead']}/retry")
        assert retried.status_code == 200
        assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
        again = http.post(f"/api/jobs/{finished['dead']}/retry")
        assert again.status_code == 409 and "pending" in again.json()["error"]
        cancelled = http.post(f"/api/jobs/{finished['pending']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert cli.job(finished["pending"])["state"] == "cancelled"
        refused = http.post(f"/api/jobs/{enc(ODD_ID)}/cancel")
        assert refused.status_code == 409 and "completed" in refused.json()["error"]
        assert http.post("/api/jobs/nope/cancel").status_code == 404
        assert http.post("/api/jobs/nope/retry").status_code == 404
        assert http.get(f"/api/jobs/{finished['dead']}/retry").status_code == 405


@pytest.mark.smoke
def test_prometheus_text_parses(cli: Cli, finished: dict[str, str]) -> None:
    with dashboard(cli) as base:
        reply = httpx.get(base + "/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(reply.text)}
    jobs = {s.labels["state"]: s.value for s in families["queuectl_jobs"].samples}
    assert jobs == {k: float(v) for k, v in cli.json("status")["counts"].items()}
    attempts = families["queuectl_attempts_last_hour"].samples
    outcomes = {s.labels["outcome"]: s.value for s in attempts}
    assert outcomes["succeeded"] == 1.0 and outcomes["failed"] == 1.0
    run = families["queuectl_attempt_run_seconds"]
    assert run.type == "histogram"
    assert [s.value for s in run.samples if s.labels.get("le") == "+Inf"] == [2.0]
    assert "queuectl_workers" in families


def test_events_stream_announces_changes(cli: Cli) -> None:
    with dashboard(cli) as base, httpx.stream("GET", base + "/events", timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert "event: change" in _until(lines, "event: change")  # the state on connecting
        cli.enqueue("true")
        assert "event: change" in _until(lines, "event: change")  # and after a change


def _until(lines: object, wanted: str) -> list[str]:
    seen = []
    for line in lines:  # type: ignore[attr-defined]
        seen.append(line)
        if line == wanted:
            return seen
    return seen


def test_pages_render_and_escape_job_text(cli: Cli) -> None:
    job = cli.enqueue("echo '<script>alert(1)</script>'", "--id", "<b>bold</b>")
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        for path in ("/", "/jobs", "/dlq", f"/jobs/{enc(job)}", "/jobs?state=pending&q=bold"):
            page = http.get(path)
            assert page.status_code == 200, path
            assert "<script>alert" not in page.text and "<b>bold" not in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in http.get(f"/jobs/{enc(job)}").text
        assert http.get("/jobs/unknown").status_code == 404


def _row(page: str, job_id: str) -> str:
    """The jobs table's row for ``job_id``."""
    return next(row for row in page.split("<tr") if f">{job_id}</a>" in row)


def test_waiting_jobs_say_when_they_will_run(cli: Cli) -> None:
    cli.inline("config", "set", "backoff-base", "100")  # its first retry waits 100 s
    failed = cli.enqueue("exit 1", "--max-retries", "2")
    cli.start_workers(1)
    cli.wait_state(failed, "failed")
    cli.ok("worker", "stop")
    scheduled, ready = cli.enqueue("true", "--delay", "2h"), cli.enqueue("true")
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        jobs = http.get("/jobs").text
        for job_id, words in ((failed, r"in 1m[0-3]\ds"), (scheduled, r"in 1h59m")):
            run_at = cli.job(job_id)["run_at"]
            when = f'<span class="when" title="runs at {run_at}">({words})</span>'
            assert re.search(when, _row(jobs, job_id)), _row(jobs, job_id)
            assert re.search(when, http.get(f"/jobs/{job_id}").text)
        assert 'class="when"' not in _row(jobs, ready)


ODD_NUMBERS = [  # (address, status): digits that are no ASCII number, or too large for a store
    ("/jobs?page=%C2%B2", 200), ("/jobs?page=99999999999999999999", 200),
    ("/jobs/{id}?attempt=%C2%B2", 200), ("/jobs/{id}?attempt=99999999999999999999", 200),
    ("/jobs/{id}?attempt=2147483647", 200),
    ("/api/jobs/{id}/logs?attempt=%C2%B2", 400),
    ("/api/jobs/{id}/logs?attempt=99999999999999999999", 400),
    ("/api/jobs/{id}/logs?attempt=2147483647", 404),
    ("/api/jobs?limit=99999999999999999999", 400), ("/api/jobs?limit=%C2%B2", 400),
]


def test_odd_numbers_in_the_address_get_an_answer_never_a_500(cli: Cli) -> None:
    job = cli.enqueue("true")
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        answers = {path: http.get(path.format(id=job)) for path, _ in ODD_NUMBERS}
    assert {path: answers[path].status_code for path, _ in ODD_NUMBERS} == dict(ODD_NUMBERS)
    for path, status in ODD_NUMBERS:
        if status >= 400:
            error = answers[path].json()["error"]
            assert error.startswith(("invalid ", f"job '{job}' has no attempt")), error


def test_token_is_required_everywhere(cli: Cli) -> None:
    token = "t0ken-for-tests"
    with dashboard(cli, "--token", token) as base:
        for path in ("/", "/api/status", "/api/jobs", "/metrics", "/events", "/static/app.js"):
            assert httpx.get(base + path).status_code == 401, path
        bearer = {"authorization": f"Bearer {token}"}
        assert httpx.get(base + "/api/status", headers=bearer).status_code == 200
        assert httpx.get(base + "/api/status", headers={"authorization": "Bearer no"}
                         ).status_code == 401
        with httpx.Client(base_url=base) as browser:
            opened = browser.get("/", params={"token": token})
            assert opened.status_code == 303 and opened.headers["location"] == "/"
            cookie = opened.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie and token not in cookie
            assert browser.get("/api/status").status_code == 200  # the cookie now suffices
            job = cli.enqueue("true", "--delay", "1h")
            # The cookie alone cannot write without proof of origin (CSRF).
            assert browser.post(f"/api/jobs/{job}/cancel").status_code == 403
            same = browser.post(f"/api/jobs/{job}/cancel", headers={"origin": base})
            assert same.status_code == 200


def test_cross_origin_writes_are_refused(cli: Cli) -> None:
    job = cli.enqueue("true", "--delay", "1h")
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        for headers in ({"origin": "http://evil.example"}, {"referer": "http://evil.example/"},
                        {"sec-fetch-site": "cross-site"}, {"origin": "null"}):
            refused = http.post(f"/api/jobs/{job}/cancel", headers=headers)
            assert refused.status_code == 403, headers
            assert "error" in refused.json()
        assert cli.job(job)["state"] == "pending"
        rebound = http.get("/api/status", headers={"host": "attacker.example"})
        assert rebound.status_code == 403  # DNS rebinding onto the loopback server


def test_public_bind_without_token_is_refused(cli: Cli) -> None:
    env_free = {k: v for k, v in cli.env.items() if k != "QUEUECTL_DASHBOARD_TOKEN"}
    cli.env = env_free
    proc = cli.run("dashboard", "--host", "0.0.0.0", "--port", "0", timeout=20)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "token" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_suggests_the_token_variable_not_the_flag() -> None:
    """A token typed as an argument is visible to every user of the machine in `ps`."""
    shown = subprocess.run([QUEUECTL, "dashboard", "--help"], capture_output=True, text=True,
                           check=True).stdout
    examples = [line for line in shown.splitlines() if "queuectl dashboard " in line]
    assert examples, shown
    assert not any("--token" in line for line in examples), shown
    assert any("QUEUECTL_DASHBOARD_TOKEN=" in line and "--host 0.0.0.0" in line
               for line in examples), shown
    option = " ".join(shown.split("--token T", 1)[1].split())
    assert option.startswith("Require this bearer token"), shown
    assert "Prefer setting QUEUECTL_DASHBOARD_TOKEN" in option and " ps" in option, shown


def test_busy_port_is_one_clear_error(cli: Cli) -> None:
    with dashboard(cli) as base:
        port = base.rsplit(":", 1)[1]
        proc = cli.run("dashboard", "--port", port, timeout=20)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_dashboard_stopped_by_a_signal_exits_0(cli: Cli, stop: signal.Signals) -> None:
    """As a worker pool does: a stop that was asked for and done is a success (systemd's
    `stop` sends SIGTERM)."""
    proc = subprocess.Popen([QUEUECTL, "dashboard", "--port", "0"], env=cli.env, cwd=cli.cwd,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_answering(proc)
        proc.send_signal(stop)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
