"""Schedules left unattended: --alert-after (overdue, judged on read and marked once per
episode across pools) and suspect successes (flagged once), on both stores, with the test's
clock."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from queuectl.web import prom, views
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

HOUR = 3600

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")


def _metrics(store: Storage) -> dict[str, dict[str, float]]:
    """The cron figures of /metrics, as a scrape reads them now (by name, then schedule)."""
    snap = prom.Snapshot(store, datetime.now(UTC))
    out: dict[str, dict[str, float]] = {}
    for family in prom._crons(snap):
        for sample in family.samples:
            out.setdefault(sample.name, {})[sample.labels["name"]] = sample.value
    return out


def _judge_at_once(stores: list[Storage]) -> list[str]:
    """Every store judges overdue schedules at the same moment; what each began."""
    began: list[str] = []
    gate = threading.Barrier(len(stores))

    def judge(store: Storage) -> None:
        gate.wait()
        began.extend(store.cron_judge_overdue())

    threads = [threading.Thread(target=judge, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return began


def test_overdue_is_judged_on_read_with_no_pool_running(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "nightly", "@daily", "-c", "true", "--tz", "UTC",
           "--alert-after", "26h")
    cli.ok("cron", "add", "plain", "@daily", "-c", "true", "--tz", "UTC")
    [doc, plain] = cli.json("cron", "list")
    assert (doc["alert_after"], doc["overdue"], doc["last_success_at"]) == (93600, False, None)
    assert (plain["alert_after"], plain["overdue"]) == (None, False)
    clock.move(26 * HOUR + 1)  # no pool ran: no job, no success since it was added
    assert cli.json("cron", "list")[0]["overdue"] is True
    assert cli.json("cron", "show", "nightly")["overdue"] is True
    table = cli.ok("cron", "list")
    assert "OVERDUE" in table.splitlines()[1] and "ALERT" in table.splitlines()[0]
    [row, _] = views.crons(clocked_store)
    assert row.overdue and row.alert_after == "1d2h"
    figures = _metrics(clocked_store)
    assert figures["queuectl_cron_overdue"] == {"nightly": 1.0, "plain": 0.0}
    assert figures.get("queuectl_cron_last_success_timestamp_seconds", {}) == {}


def test_an_overdue_episode_begins_once_across_pools_and_again_after_a_success(
    clocked_cli: InProcessCli, clocked_store: Storage, second_store: Storage,
    clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "nightly", "@daily", "-c", "true", "--tz", "UTC",
           "--alert-after", "26h")
    assert _judge_at_once([clocked_store, second_store]) == []
    clock.move(27 * HOUR)
    assert _judge_at_once([clocked_store, second_store]) == ["nightly"]
    assert _judge_at_once([clocked_store, second_store]) == []  # the same episode
    assert clocked_store.cron_get("nightly").overdue_since is not None
    # A pool runs the latest missed tick (catch-up latest); its success ends the episode.
    assert worker.work_until_idle() == 1
    [doc] = cli.json("cron", "list")
    assert doc["overdue"] is False and doc["last_success_at"] is not None
    assert _judge_at_once([clocked_store, second_store]) == []
    assert clocked_store.cron_get("nightly").overdue_since is None
    last = datetime.fromisoformat(doc["last_success_at"]).timestamp()
    assert _metrics(clocked_store)["queuectl_cron_last_success_timestamp_seconds"] == {
        "nightly": last}
    clock.move(27 * HOUR)  # no pool again: a new episode, begun once
    assert _judge_at_once([clocked_store, second_store]) == ["nightly"]


def test_a_failing_schedule_stays_overdue(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "broken", "@hourly", "-c", "exit 3", "--tz", "UTC",
           "--alert-after", "2h", "--max-retries", "0")
    for _ in range(3):
        clock.move(HOUR)
        worker.work_until_idle()
    assert [j["state"] for j in cli.json("list", "--cron", "broken")] == ["dead"] * 3
    [doc] = cli.json("cron", "list")
    assert doc["overdue"] is True and doc["last_success_at"] is None


def test_the_dashboard_and_metrics_show_overdue_with_every_pool_down(
    cli: InProcessCli, db_url: str,
) -> None:
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    cli.ok("cron", "add", "nightly", "@daily", "-c", "true", "--alert-after", "1m")
    _age_schedule(db_url, "nightly", 120_000)
    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as http:
        assert "OVERDUE" in http.get("/cron").text
        families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
        [overdue] = families["queuectl_cron_overdue"].samples
        assert (overdue.labels["name"], overdue.value) == ("nightly", 1.0)
        assert http.get("/api/cron").json()[0]["overdue"] is True


def _age_schedule(db_url: str, name: str, ms: int) -> None:
    """As if the schedule had been added ``ms`` ago."""
    sql = "UPDATE cron_schedules SET created_at = created_at - {} WHERE name = {}"
    if db_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.format("%s", "%s").encode(), (ms, name))
        return
    with sqlite3.connect(db_url) as conn:
        conn.execute(sql.format("?", "?"), (ms, name))


def _judge_suspects_at_once(stores: list[Storage]) -> list[str]:
    flagged: list[str] = []
    gate = threading.Barrier(len(stores))

    def judge(store: Storage) -> None:
        gate.wait()
        flagged.extend(store.cron_judge_suspects())

    threads = [threading.Thread(target=judge, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return flagged


def test_a_quiet_success_is_flagged_suspect_once_across_pools(
    clocked_cli: InProcessCli, clocked_store: Storage, second_store: Storage,
    clock: MovingClock, worker: Worker, tmp_path: Path,
) -> None:
    """Five runs print 4 KiB; the sixth prints nothing and exits 0: suspect, flagged once
    whichever pools judge it (the worker's own pass or two stores at the same moment)."""
    cli = clocked_cli
    quiet = tmp_path / "quiet"
    cli.ok("cron", "add", "dump", "every 1h", "-c",
           f"[ -e {quiet} ] || head -c 4096 /dev/zero", "--overlap", "allow")
    for _ in range(5):
        clock.move(HOUR)
        assert worker.work_until_idle() == 1
    _judge_suspects_at_once([clocked_store, second_store])
    [doc] = cli.json("cron", "list")
    assert (doc["suspect"], doc["suspects"]) == (None, 0)
    quiet.touch()
    clock.move(HOUR)
    assert worker.work_until_idle() == 1
    last = cli.json("cron", "list")[0]["last_job"]
    assert cli.json("show", last)["state"] == "completed"
    again = _judge_suspects_at_once([clocked_store, second_store])
    assert again in ([], [last])  # the worker's own pass may have flagged it first
    assert _judge_suspects_at_once([clocked_store, second_store]) == []
    [doc] = cli.json("cron", "list")
    assert doc["suspect"] == "printed 0 B, usually 4.0 KiB" and doc["suspects"] == 1
    shown = cli.json("cron", "show", "dump")
    assert shown["suspect_jobs"] == [{"job": last, "suspect": doc["suspect"]}]
    assert [j["suspect"] for j in shown["recent_jobs"]][:2] == [doc["suspect"], None]
    assert "suspect successes (1 in all):" in cli.ok("cron", "show", "dump")
    assert "SUSPECT" in cli.ok("cron", "list")
    assert _metrics(clocked_store)["queuectl_cron_suspect_total"] == {"dump": 1.0}
    # The next loud run is no suspect; the schedule's latest success is then clean.
    quiet.unlink()
    clock.move(HOUR)
    assert worker.work_until_idle() == 1
    _judge_suspects_at_once([clocked_store, second_store])
    [doc] = cli.json("cron", "list")
    assert (doc["suspect"], doc["suspects"]) == (None, 1)


def test_two_pools_log_an_overdue_episode_once(
    clocked_cli: InProcessCli, clocked_store: Storage, second_store: Storage,
    clock: MovingClock, caplog: pytest.LogCaptureFixture,
) -> None:
    """Two workers, each on its own connection as two pools on two hosts are, pass their
    idle housekeeping at the same moment: the episode begins (and is logged) once."""
    cli = clocked_cli
    cli.ok("cron", "add", "nightly", "@daily", "-c", "exit 1", "--tz", "UTC",
           "--alert-after", "26h", "--max-retries", "0")
    clock.move(27 * HOUR)
    workers = [Worker(store, (), clocks=clock.clocks) for store in (clocked_store,
                                                                      second_store)]
    gate = threading.Barrier(2)

    def idle_pass(worker: Worker) -> None:
        gate.wait()
        worker.work_until_idle()

    with caplog.at_level("WARNING", logger="queuectl.worker"):
        threads = [threading.Thread(target=idle_pass, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    said = [r for r in caplog.records if "is overdue" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert clocked_store.cron_get("nightly").overdue_since is not None
