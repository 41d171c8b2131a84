"""`queue window Q WINDOW --tz ZONE`: jobs of Q start only inside the window, enforced in the
claim; an idle worker sleeps until the window opens, and once a stretch has ended its
housekeeping works out the next. (The windows themselves, daylight saving included, are
property-tested in tests/unit/test_windows.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from queuectl.models import Job
from queuectl.pool.worker import Worker
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def to(clock: MovingClock, when: str) -> None:
    """Move the frozen clock on to the instant ``when`` (ISO, UTC)."""
    target = datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()
    assert target >= clock.now()
    clock.move(target - clock.now())


@pytest.fixture
def frozen(clock: MovingClock) -> MovingClock:
    clock.freeze()
    to(clock, "2030-01-04T10:00:00")  # a Friday; 11:00 in Berlin
    return clock


@pytest.fixture
def web(db_url: str) -> Iterator[TestClient]:
    """The dashboard on the test's store."""
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


def test_jobs_start_only_inside_the_window(
    clocked_cli: InProcessCli, worker: Worker, frozen: MovingClock, web: TestClient,
) -> None:
    cli = clocked_cli
    said = cli.ok("queue", "window", "night", "22:00-06:00", "--tz", "Europe/Berlin").strip()
    assert said == "queue night: window 22:00-06:00 Europe/Berlin"
    night = [cli.enqueue("true", "--queue", "night") for _ in range(2)]
    day = cli.enqueue("true")
    assert worker.work_until_idle() == 1 and cli.job(day)["state"] == "completed"
    assert "queue closed until 22:00 Europe/Berlin" in cli.ok("show", night[0])
    [listed] = [q for q in cli.json("queue", "list") if q["name"] == "night"]
    assert (listed["window"], listed["tz"], listed["open"]) == (
        "22:00-06:00", "Europe/Berlin", False)
    assert "22:00-06:00 Europe/Berlin (closed)" in cli.ok("queue", "list")
    # (whether it reads open or closed: the page's store is not on the test's clock
    # everywhere)
    assert '<td class="window">22:00-06:00 Europe/Berlin (' in web.get("/queues").text
    plan = worker.store.claim_or_plan(worker.id)
    assert not isinstance(plan, Job) and plan.due == pytest.approx(11 * 3600, abs=1)
    to(frozen, "2030-01-04T20:59:59")
    assert worker.work_until_idle() == 0
    to(frozen, "2030-01-04T21:00:00")  # 22:00 in Berlin
    assert worker.work_until_idle() == 2
    assert [q["open"] for q in cli.json("queue", "list") if q["name"] == "night"] == [True]
    # Past the end of the stretch the queue is closed, and a worker works out the next one.
    to(frozen, "2030-01-05T05:00:00")
    late = cli.enqueue("true", "--queue", "night")
    assert worker.work_until_idle() == 0
    assert cli.job(late)["state"] == "pending"
    plan = worker.store.claim_or_plan(worker.id)
    assert not isinstance(plan, Job) and plan.due == pytest.approx(16 * 3600, abs=1)
    to(frozen, "2030-01-05T21:00:00")
    assert worker.work_until_idle() == 1
    cli.ok("queue", "window", "night", "none")
    assert [q["window"] for q in cli.json("queue", "list") if q["name"] == "night"] == [None]


def test_days_and_a_window_that_opens_in_a_daylight_saving_gap(
    clocked_cli: InProcessCli, worker: Worker, frozen: MovingClock,
) -> None:
    cli = clocked_cli
    # Sundays 02:30-04:00 in Berlin; on 2030-03-31 the clocks skip 02:00-03:00 (01:00Z), so
    # that day's window opens right after the gap, at 03:00 CEST.
    cli.ok("queue", "window", "w", "sun 02:30-04:00", "--tz", "Europe/Berlin")
    to(frozen, "2030-03-31T00:59:59")
    job = cli.enqueue("true", "--queue", "w")
    assert worker.work_until_idle() == 0
    to(frozen, "2030-03-31T01:00:00")
    assert worker.work_until_idle() == 1
    assert cli.job(job)["state"] == "completed"
    to(frozen, "2030-03-31T02:00:00")  # 04:00 CEST: closed until next Sunday
    other = cli.enqueue("true", "--queue", "w")
    assert worker.work_until_idle() == 0
    assert "queue closed until sun 02:30 Europe/Berlin" in cli.ok("show", other)


def test_the_default_zone_is_this_machines_by_name(
    clocked_cli: InProcessCli, frozen: MovingClock, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("queuectl.localzone.local_zone_name", lambda: "America/New_York")
    doc = clocked_cli.json("queue", "window", "q", "mon-fri", "09:00-17:00")
    assert (doc["window"], doc["tz"]) == ("mon-fri 09:00-17:00", "America/New_York")
    assert "windows: q=mon-fri 09:00-17:00 America/New_York" in clocked_cli.run(
        "worker", "list").stderr


@pytest.mark.parametrize(("args", "code", "says"), [
    (["9-17"], 2, "invalid window '9-17'"),
    (["25:00-06:00"], 1, "25:00 is no time of day"),
    (["funday", "09:00-10:00"], 1, "days are mon"),
    (["09:00-09:00"], 1, "opens and closes at the same time"),
    (["09:00-17:00", "--tz", "Mars/Olympus"], 1, "unknown time zone 'Mars/Olympus'"),
])
def test_a_bad_window_is_refused_and_nothing_written(
    cli: InProcessCli, args: list[str], code: int, says: str,
) -> None:
    done = cli.run("queue", "window", "q", *args)
    assert done.returncode == code and says in done.stderr, done.stderr
    assert cli.json("queue", "list") == []
