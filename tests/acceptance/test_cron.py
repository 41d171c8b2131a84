"""Recurring jobs through the real CLI and real pools, on both stores: one job per tick from
two pools (two host ids), an overdue hook fired once by two pools, a pool killed -9 at a
tick, the dashboard's cron page. (Overlap
skip, pause/resume and catch-up run in-process: tests/contract/test_cron_run.py.)"""

from __future__ import annotations

import os
import signal
import time
from urllib.parse import quote

import pytest

from tests.helpers import Cli, ticks, wait_until

HOSTS = ("host-a", "host-b")


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
def test_two_pools_on_two_hosts_fire_an_overdue_hook_once(cli: Cli) -> None:
    """Every worker of both pools judges the overdue schedules every ALERT_INTERVAL (5 s);
    the episode begins once across the fleet, so its hook job is enqueued once."""
    cli.ok("hook", "add", "page", "--on", "overdue", "-c", "true")
    cli.ok("cron", "add", "nightly", "0 3 * * *", "-c", "true", "--alert-after", "1s")
    for host in HOSTS:
        cli.start_workers(2, env={"QUEUECTL_HOST_ID": host})

    def hook_jobs() -> list[dict[str, object]]:
        return [j for j in cli.json("list", "--queue", "hooks", "--limit", "0")
                if j["hook"] is not None]

    wait_until(lambda: len(hook_jobs()) >= 1, timeout=30, what="the overdue hook's job")
    # Let each of the four workers judge at least once more (a wait for what must not
    # come: nothing to wait on but the judging interval, twice over).
    time.sleep(11)
    found = hook_jobs()
    assert [j["hook"]["event"] for j in found] == ["overdue"], found  # type: ignore[index]
    assert {w["host"] for w in cli.json("worker", "list")} == set(HOSTS)


@pytest.mark.slow
def test_a_pool_killed_at_a_tick_neither_loses_nor_doubles_it(cli: Cli) -> None:
    # 4 s apart: the new pool must be up before the tick after the one it was killed at (with
    # the default catch-up, a pool that comes later runs the latest missed tick only, by
    # design); a loaded CI run once took over 2 s to start one.
    step = 4
    cli.ok("cron", "add", "beat", f"every {step}s", "-c", "true", "--overlap", "allow")
    pool = cli.start_workers(1)
    wait_until(lambda: len(ticks(cli, "beat")) >= 2, timeout=30, what="2 ticks")
    # Kill the whole pool (supervisor and worker) right at the next tick.
    now = time.time()
    time.sleep(step - now % step + 0.002)
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait()
    cli.start_workers(1)  # back within the interval before the following tick
    before = len(ticks(cli, "beat"))
    wait_until(lambda: len(ticks(cli, "beat")) >= before + 2, timeout=30, what="more ticks")
    cli.ok("cron", "pause", "beat")
    assert_every_tick_once(ticks(cli, "beat"), float(step))


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
