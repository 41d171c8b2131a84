"""Recurring jobs through the real CLI and real pools, on both stores: one job per tick from
two pools (two host ids), a pool killed -9 at a tick, overlap skip, pause/resume, bad input."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from urllib.parse import quote

import pytest

from tests.helpers import Cli, wait_until

HOSTS = ("host-a", "host-b")


def ticks(cli: Cli, name: str) -> list[float]:
    """The ticks of the schedule's jobs (epoch seconds, from their ids), oldest first."""
    jobs = cli.look("list", "--cron", name, "--limit", "0")
    out = []
    for job in jobs:
        assert job["cron"] == name
        stamp = job["id"].split("@", 1)[1]
        out.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    return sorted(out)


def assert_every_tick_once(found: list[float], step: float) -> None:
    assert len(found) == len(set(found))
    gaps = [round(b - a, 3) for a, b in zip(found, found[1:], strict=False)]
    assert set(gaps) <= {step}, gaps  # no tick lost between the first and the last


@pytest.mark.slow
def test_two_pools_on_two_hosts_enqueue_one_job_per_tick(cli: Cli) -> None:
    for host in HOSTS:
        cli.start_workers(2, env={"QUEUECTL_HOST_ID": host})
    cli.ok("cron", "add", "beat", "every 1s", "-c", "true", "--overlap", "allow")
    wait_until(lambda: len(ticks(cli, "beat")) >= 11, timeout=40, what="11 ticks")
    cli.ok("cron", "pause", "beat")
    found = ticks(cli, "beat")
    assert len(found) >= 11
    assert_every_tick_once(found, 1.0)
    hosts = {w["host"] for w in cli.json("worker", "list")}
    assert hosts == set(HOSTS)


@pytest.mark.slow
def test_a_pool_killed_at_a_tick_neither_loses_nor_doubles_it(cli: Cli) -> None:
    cli.ok("cron", "add", "beat", "every 2s", "-c", "true", "--overlap", "allow")
    pool = cli.start_workers(1)
    wait_until(lambda: len(ticks(cli, "beat")) >= 2, timeout=20, what="2 ticks")
    # Kill the whole pool (supervisor and worker) right at the next tick.
    now = time.time()
    time.sleep(2 - now % 2 + 0.002)
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait()
    cli.start_workers(1)  # back within the 2 s before the following tick
    before = len(ticks(cli, "beat"))
    wait_until(lambda: len(ticks(cli, "beat")) >= before + 2, timeout=20, what="more ticks")
    cli.ok("cron", "pause", "beat")
    assert_every_tick_once(ticks(cli, "beat"), 2.0)


def test_overlap_skip_never_runs_two_jobs_at_once_and_records_skips(cli: Cli) -> None:
    cli.start_workers(2)
    cli.ok("cron", "add", "slow", "every 1s", "-c", "sleep 2.5")
    wait_until(lambda: cli.look("cron", "show", "slow")["skipped"] >= 2, timeout=20,
               what="skipped ticks")
    cli.ok("cron", "pause", "slow")
    shown = cli.json("cron", "show", "slow")
    assert len(shown["skipped_ticks"]) >= 2
    assert shown["last_job"] is not None
    jobs = [j for j in shown["recent_jobs"] if j["started_at"]]
    spans = sorted((j["started_at"], j["finished_at"] or "9") for j in jobs)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, spans  # one at a time


def test_pause_and_resume(cli: Cli) -> None:
    cli.start_workers(1)
    cli.ok("cron", "add", "beat", "every 1s", "-c", "true", "--overlap", "allow")
    wait_until(lambda: len(ticks(cli, "beat")) >= 1, timeout=20, what="a tick")
    cli.ok("cron", "pause", "beat")
    assert cli.json("cron", "list")[0]["paused"] is True
    count = len(ticks(cli, "beat"))
    time.sleep(2.5)
    assert len(ticks(cli, "beat")) <= count + 1  # (one may have been firing as we paused)
    paused_count = len(ticks(cli, "beat"))
    cli.ok("cron", "resume", "beat")
    wait_until(lambda: len(ticks(cli, "beat")) >= paused_count + 2, timeout=20,
               what="ticks after resume")


@pytest.mark.smoke
def test_dashboard_cron_page_actions_and_metrics(cli: Cli) -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from tests.dashboard_server import dashboard

    odd = 'nightly <b>"x"</b>/é'
    cli.ok("cron", "add", odd, "0 2 * * 1-5", "-c", "true", "--tz", "Europe/Berlin")
    path = "/api/cron/" + quote(odd, safe="")
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        page = http.get("/cron")
        assert page.status_code == 200
        assert "nightly &lt;b&gt;" in page.text and "<b>" not in page.text  # escaped
        assert "Monday through Friday" in page.text and "Europe/Berlin" in page.text
        assert http.get("/api/cron").json() == cli.json("cron", "list")
        # State-changing requests follow the rules of every other action.
        refused = http.post(path + "/pause", headers={"origin": "http://evil.example"})
        assert refused.status_code == 403
        assert cli.json("cron", "list")[0]["paused"] is False
        assert http.post(path + "/pause").json()["paused"] is True
        assert http.post(path + "/resume").json()["paused"] is False
        ran = http.post(path + "/run").json()
        assert ran["cron"] == odd and cli.job(ran["id"])["state"] == "pending"
        assert http.post("/api/cron/nope/run").status_code == 404
        metrics = http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    [until] = families["queuectl_cron_next_tick_seconds"].samples
    assert until.labels["name"] == odd and 0 < until.value <= 4 * 86400
    skipped = families["queuectl_cron_skipped_ticks"]
    assert skipped.type == "counter" and [s.value for s in skipped.samples
                                          if s.name.endswith("_total")] == [0.0]


def plant_tick(cli: Cli, name: str, ms: int) -> None:
    """Move the schedule's next tick to ``ms`` (epoch ms), as if it had come then."""
    sql = "UPDATE cron_schedules SET next_run_at = {0} WHERE name = {0}"
    if cli.db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(cli.db_url, autocommit=True) as conn:
            conn.execute(sql.format("%s").encode(), (ms, name))
        return
    import sqlite3

    with sqlite3.connect(cli.db_url) as conn:
        conn.execute(sql.format("?"), (ms, name))


def test_catch_up_none_misses_a_tick_from_before_the_pool_and_runs_one_it_saw(cli: Cli) -> None:
    cli.ok("cron", "add", "late", "every 1h", "-c", "true", "--catch-up", "none")

    def planned_ahead() -> bool:
        [doc] = cli.json("cron", "list")
        return bool(datetime.fromisoformat(doc["next_run_at"]).timestamp() > time.time())

    # A tick 3 s before any pool ran: the pool that starts now fires it as missed.
    plant_tick(cli, "late", int(time.time() * 1000) - 3000)
    cli.start_workers(1)
    wait_until(lambda: cli.look("worker", "list") != [], timeout=30, what="the pool")
    wait_until(planned_ahead, timeout=30, what="the tick fired")
    assert cli.json("list", "--cron", "late") == []
    # A tick that came once the pool ran, fired late (as a busy pool fires one): it runs.
    [worker] = cli.json("worker", "list")
    started_ms = int(datetime.fromisoformat(worker["started_at"]).timestamp() * 1000)
    tick_ms = max(started_ms + 1, int(time.time() * 1000) - 3000)
    plant_tick(cli, "late", tick_ms)
    wait_until(lambda: len(ticks(cli, "late")) == 1, timeout=30, what="the late tick's job")
    assert ticks(cli, "late") == [tick_ms / 1000]
