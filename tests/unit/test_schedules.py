"""Schedules as pure functions over real zone data: parsing, ticks across daylight-saving
changes, and what fires after downtime."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from queuectl.errors import InvalidValue, MalformedValue
from queuectl.schedules import (
    CatchUp,
    Schedule,
    jitter_ms,
    next_tick,
    parse_schedule,
    plan_firing,
    previous_tick,
    tick_job_id,
    ticks_between,
    zone,
)
from queuectl.timeparse import local_to_utc


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ticks(expr: str, tz: str, after: str, n: int) -> list[str]:
    schedule, zone_ = parse_schedule(expr), ZoneInfo(tz)
    out, at = [], z(after)
    for _ in range(n):
        tick = next_tick(schedule, zone_, at)
        assert tick is not None
        out.append(tick.strftime("%Y-%m-%dT%H:%M:%SZ"))
        at = tick
    return out


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression"),
    [("*/5 * * * *", "*/5 * * * *"), ("0 2 * * mon-fri", "0 2 * * mon-fri"),
     ("  0   2 * *  1-5 ", "0 2 * * 1-5"), ("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"),
     ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"),
     ("@DAILY", "0 0 * * *")],
)
def test_cron_expressions_and_macros(text: str, expression: str) -> None:
    assert parse_schedule(text).expression == expression


@pytest.mark.parametrize(
    ("text", "ms"),
    [("every 30s", 30_000), ("every 10m", 600_000), ("every 1h30m", 5_400_000), ("EVERY 1s", 1000)],
)
def test_every(text: str, ms: int) -> None:
    assert parse_schedule(text).every_ms == ms


@pytest.mark.parametrize(
    "text",
    [
        "",
        "* * * *",
        "* * * * * *",
        "61 * * * *",
        "0 0 31 2 *",
        "0 0 * * 8",
        "@reboot",
        "@often",
        "every",
        "every soon",
        "every 5x",
        "bogus",
    ],
)
def test_text_that_is_no_schedule_is_malformed(text: str) -> None:
    with pytest.raises(MalformedValue):
        parse_schedule(text)


@pytest.mark.parametrize("text", ["every 0s", "every 500ms", "every -5m"])
def test_intervals_out_of_range_are_invalid(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_schedule(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "utc ", "../etc/passwd", "Europe/"])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(InvalidValue, match="unknown time zone"):
        zone(name)


def test_described_in_words() -> None:
    assert "Monday through Friday" in parse_schedule("0 2 * * 1-5").describe()
    assert parse_schedule("every 30s").describe() == "every 30s"


def test_tick_job_id() -> None:
    assert tick_job_id("backup", z("2026-11-22T02:00:00Z")) == "backup@2026-11-22T02:00:00.000Z"


# --- ticks across daylight-saving changes -----------------------------------------------------


def test_berlin_spring_gap_runs_once_right_after_it() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 never happens.
    assert ticks("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00Z", 3) == [
        "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"]


def test_berlin_every_quarter_hour_across_the_gap_runs_the_gap_once() -> None:
    # 01:45 CET, then 02:00-02:45 (skipped) and 03:00 CEST are one tick at 03:00 CEST.
    assert ticks("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:40Z", 3) == [
        "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"]


def test_berlin_repeated_hour_runs_once() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and at 01:30Z.
    assert ticks("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00Z", 2) == [
        "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]


def test_berlin_hourly_runs_the_repeated_hour_once() -> None:
    assert ticks("0 * * * *", "Europe/Berlin", "2026-10-24T22:30Z", 3) == [
        "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"]


def test_a_tick_asked_for_inside_the_second_pass_of_a_repeated_hour() -> None:
    # 01:10Z is 02:10 CET, the second 02:10 of the night: 02:30 has had its tick (00:30Z).
    assert ticks("30 2 * * *", "Europe/Berlin", "2026-10-25T01:10Z", 1) == ["2026-10-26T01:30:00Z"]


def test_new_york() -> None:
    assert ticks("30 2 * * *", "America/New_York", "2026-03-07T12:00Z", 2) == [
        "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]
    assert ticks("30 1 * * *", "America/New_York", "2026-10-31T12:00Z", 2) == [
        "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]


def test_lord_howe_half_hour_shift() -> None:
    # 2026-10-04: 02:00 (+10:30) becomes 02:30 (+11); 02:15 never happens.
    assert ticks("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T00:00Z", 2) == [
        "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"]
    # 2026-04-05: 02:00 (+11) becomes 01:30 (+10:30); 01:45 happens twice, runs once.
    assert ticks("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00Z", 2) == [
        "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]


def test_sydney_southern_hemisphere() -> None:
    # Clocks go forward in October (02:00 AEST -> 03:00 AEDT), back in April (03:00 -> 02:00).
    assert ticks("30 2 * * *", "Australia/Sydney", "2026-10-03T00:00Z", 2) == [
        "2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"]
    assert ticks("30 2 * * *", "Australia/Sydney", "2026-04-04T00:00Z", 2) == [
        "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"]


def test_every_ticks_on_multiples_of_its_interval_in_any_zone() -> None:
    assert ticks("every 10m", "Australia/Lord_Howe", "2026-10-03T15:25:01Z", 3) == [
        "2026-10-03T15:30:00Z", "2026-10-03T15:40:00Z", "2026-10-03T15:50:00Z"]


# --- never backwards, never a valid tick skipped ---------------------------------------------

EXPRESSIONS = ["*/15 * * * *", "30 2 * * *", "0 * * * *", "45 1 * * *", "*/7 1-3 * * *",
               "0 0 * * 0", "15,45 2 * * 1-5"]
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Australia/Sydney",
         "America/Santiago", "UTC"]
# Near the changes of 2026 (and a plain day), where a wrong start or filter would show.
CHANGES = [z(t) for t in ("2026-03-29T01:00Z", "2026-10-25T01:00Z", "2026-03-08T07:00Z",
                          "2026-11-01T06:00Z", "2026-04-04T15:00Z", "2026-10-03T15:30Z",
                          "2026-04-04T16:00Z", "2026-10-03T16:00Z", "2026-04-05T03:00Z",
                          "2026-09-06T04:00Z", "2026-06-15T12:00Z")]


def every_tick(expr: str, tz: ZoneInfo, around: datetime) -> list[datetime]:
    """Brute force: every wall-clock time that matches within days of ``around``, each as the
    instant it names (the rule of timeparse.local_to_utc), sorted and deduplicated."""
    wall = around.astimezone(tz).replace(tzinfo=None) - timedelta(days=10)
    found = set()
    for match in CronSim(expr, wall):
        if match > wall + timedelta(days=20):
            break
        found.add(local_to_utc(match, tz))
    return sorted(found)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(ZONES), st.sampled_from(CHANGES),
       st.integers(-4 * 3600_000, 4 * 3600_000))
def test_next_tick_never_goes_back_and_never_skips_a_tick(
    expr: str, tz_name: str, change: datetime, offset_ms: int
) -> None:
    tz, schedule = ZoneInfo(tz_name), parse_schedule(expr)
    after = change + timedelta(milliseconds=offset_ms)
    everyone = every_tick(expr, tz, after)
    later = [t for t in everyone if t > after]
    earlier = [t for t in everyone if t <= after]
    nxt = next_tick(schedule, tz, after)
    assert nxt is not None and nxt > after
    assert nxt == later[0]
    if earlier:
        assert previous_tick(schedule, tz, after) == earlier[-1]


@given(st.integers(1, 100_000), st.integers(0, 2**42))
def test_every_never_goes_back_and_never_skips(step_s: int, after_ms: int) -> None:
    schedule = Schedule(f"every {step_s}s", every_ms=step_s * 1000)
    after = datetime.fromtimestamp(after_ms / 1000, UTC)
    nxt = next_tick(schedule, UTC, after)
    prev = previous_tick(schedule, UTC, after)
    assert nxt is not None and prev is not None
    assert prev <= after < nxt
    assert (nxt - prev).total_seconds() == step_s


# --- after downtime: at most one job ---------------------------------------------------------

HOURLY = parse_schedule("@hourly")


# A pool that has run since long before the ticks below (its earliest live worker's start).
ALL_ALONG = z("2026-01-01T00:00Z")
LEASE = timedelta(seconds=30)  # the default lease-timeout
EVERY_SECOND = parse_schedule("every 1s")


def since(start: datetime | None) -> Callable[[datetime], bool]:
    """A pool that has run from ``start`` on (None: none runs): it saw the ticks after it."""
    return lambda tick: start is not None and tick >= start


def test_on_time_tick_fires_and_the_next_is_planned() -> None:
    plan = plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), z("2026-01-01T10:00:00.3Z"),
                       CatchUp.NONE, since(ALL_ALONG), LEASE)
    assert plan.tick == z("2026-01-01T10:00Z") and plan.next_at == z("2026-01-01T11:00Z")


@pytest.mark.parametrize(
    ("catch_up", "fired"), [(CatchUp.LATEST, "2026-01-01T13:00Z"), (CatchUp.NONE, None)]
)
def test_missed_ticks_fire_the_latest_once_or_nothing(catch_up: CatchUp, fired: str | None
                                                      ) -> None:
    started = z("2026-01-01T13:20Z")  # no pool ran before
    plan = plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), started, catch_up, since(started),
                       LEASE)
    assert plan.tick == (z(fired) if fired else None)
    assert plan.next_at == z("2026-01-01T14:00Z")


@pytest.mark.parametrize("late_s", [0.5, 5, 29, 31, 600])
def test_a_tick_before_the_pool_started_is_missed_for_catch_up_none_however_short_ago(
    late_s: float
) -> None:
    started = z("2026-01-01T10:00Z") + timedelta(seconds=late_s)
    assert plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), started, CatchUp.NONE,
                       since(started), LEASE).tick is None
    assert plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), started, CatchUp.LATEST,
                       since(started), LEASE).tick == z("2026-01-01T10:00Z")


def test_with_no_pool_running_a_tick_is_missed_for_catch_up_none_only() -> None:
    now = z("2026-01-01T10:00:01Z")
    assert plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), now, CatchUp.NONE,
                       since(None), LEASE).tick is None
    assert plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), now, CatchUp.LATEST,
                       since(None), LEASE).tick == z("2026-01-01T10:00Z")


@pytest.mark.parametrize("late_s", [0.5, 10, 31, 600, 3 * 3600])
@pytest.mark.parametrize("started", ["2026-01-01T09:59:59Z", "2026-01-01T10:00Z"])
def test_a_tick_a_running_pool_fires_late_runs_late_for_catch_up_none(late_s: float,
                                                                       started: str) -> None:
    now = z("2026-01-01T10:00Z") + timedelta(seconds=late_s)
    watched = z(started)  # the pool started just before the tick, or as it came
    plan = plan_firing(HOURLY, UTC, z("2026-01-01T10:00Z"), now, CatchUp.NONE, since(watched),
                      LEASE)
    assert plan.tick == previous_tick(HOURLY, UTC, now)  # the latest that came: never a burst


@pytest.mark.parametrize("catch_up", list(CatchUp))
@pytest.mark.parametrize("late_s", [1.2, 2.5, 29.5])
def test_a_running_pool_late_by_less_than_a_lease_fires_every_tick_in_turn(
    catch_up: CatchUp, late_s: float
) -> None:
    """A loaded pool that looks 2.5 s after a tick of `every 1s` is late, not down: the
    ticks it passed over each get their job, one firing after another."""
    due = z("2026-01-01T10:00Z")
    now = due + timedelta(seconds=late_s)
    fired = []
    while due <= now:
        plan = plan_firing(EVERY_SECOND, UTC, due, now, catch_up, since(ALL_ALONG), LEASE)
        fired.append(plan.tick)
        assert plan.next_at is not None
        due = plan.next_at
    assert fired == [z("2026-01-01T10:00Z") + timedelta(seconds=s)
                     for s in range(int(late_s) + 1)]
    assert due == next_tick(EVERY_SECOND, UTC, now)


@pytest.mark.parametrize("catch_up", list(CatchUp))
def test_a_pool_late_by_a_lease_or_more_fires_the_latest_only(catch_up: CatchUp) -> None:
    now = z("2026-01-01T10:00:31.5Z")  # the first tick passed over came 30.5 s ago
    plan = plan_firing(EVERY_SECOND, UTC, z("2026-01-01T10:00Z"), now, catch_up,
                       since(ALL_ALONG), LEASE)
    assert plan.tick == z("2026-01-01T10:00:31Z")
    assert plan.next_at == z("2026-01-01T10:00:32Z")


@pytest.mark.parametrize(("catch_up", "fired"),
                         [(CatchUp.LATEST, "2026-01-01T10:00:03Z"), (CatchUp.NONE, None)])
def test_ticks_before_a_pool_started_are_still_missed_however_short_ago(
    catch_up: CatchUp, fired: str | None
) -> None:
    started = z("2026-01-01T10:00:03.5Z")  # the first pool, after four ticks
    plan = plan_firing(EVERY_SECOND, UTC, z("2026-01-01T10:00Z"), started, catch_up,
                       since(started), LEASE)
    assert plan.tick == (z(fired) if fired else None)
    assert plan.next_at == z("2026-01-01T10:00:04Z")


@pytest.mark.parametrize(("catch_up", "fired"),
                         [(CatchUp.LATEST, "2026-01-01T10:00Z"), (CatchUp.NONE, None)])
def test_a_pool_that_started_between_two_ticks_runs_the_second_on_time(
    catch_up: CatchUp, fired: str | None
) -> None:
    now = z("2026-01-01T10:00:01.5Z")
    plan = plan_firing(EVERY_SECOND, UTC, z("2026-01-01T10:00Z"), now, catch_up,
                       since(z("2026-01-01T10:00:00.5Z")), LEASE)
    assert plan.tick == (z(fired) if fired else None)
    assert plan.next_at == z("2026-01-01T10:00:01Z")  # fired next, as a pool saw it come


def test_a_schedules_job_is_told_its_name_and_tick() -> None:
    from queuectl.recurring import job_env

    made = z("2026-01-01T10:00:03.5Z")
    assert job_env("a@b@2026-01-01T10:00:00.000Z", "a@b", made) == {
        "QUEUECTL_CRON": "a@b", "QUEUECTL_TICK": "2026-01-01T10:00:00.000Z"}
    assert job_env("a@run-x1y2", "a", made)["QUEUECTL_TICK"] == "2026-01-01T10:00:03.500Z"


# --- jitter: the same offset on every host -------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(ZONES), st.sampled_from(CHANGES),
       st.text(min_size=1, max_size=20), st.integers(1, 7 * 86_400_000))
def test_jitter_is_one_offset_per_tick_within_the_range_whatever_the_zone(
    expr: str, tz_name: str, change: datetime, name: str, jitter: int
) -> None:
    """Across daylight-saving changes: each tick (an instant) gets one offset in
    [0, jitter), the same however the instant is written (a host in another zone), and the
    jittered due times keep the ticks' order when the jitter is under their spacing."""
    tz = ZoneInfo(tz_name)
    ticks = every_tick(expr, tz, change)[:40]
    offsets = [jitter_ms(name, t, jitter) for t in ticks]
    assert all(0 <= o < jitter for o in offsets)
    assert offsets == [jitter_ms(name, t.astimezone(tz), jitter) for t in ticks]
    assert offsets == [jitter_ms(name, t.astimezone(ZoneInfo("Asia/Tokyo")), jitter)
                       for t in ticks]
    gaps = [(b - a) / timedelta(milliseconds=1) for a, b in zip(ticks, ticks[1:], strict=False)]
    if gaps and jitter <= min(gaps):
        due = [t + timedelta(milliseconds=o) for t, o in zip(ticks, offsets, strict=True)]
        assert due == sorted(due)


def test_jitter_is_a_fixed_function_of_name_and_tick() -> None:
    """Not Python's salted hash(): the same on every host and run (these values are
    pinned), different for another name or tick, and none without a jitter."""
    tick = z("2026-01-01T02:00Z")
    assert jitter_ms("backup", tick, 3_600_000) == jitter_ms("backup", tick, 3_600_000)
    assert jitter_ms("backup", tick, 3_600_000) == 441_702
    assert jitter_ms("backup", tick, 0) == 0
    spread = {jitter_ms("backup", tick + timedelta(days=d), 3_600_000) for d in range(50)}
    assert len(spread) > 40  # the ticks spread over the range


# --- backfill: every tick of a range, each once ------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(EXPRESSIONS), st.sampled_from(ZONES), st.sampled_from(CHANGES),
       st.integers(-2 * 86_400_000, 0), st.integers(0, 3 * 86_400_000))
def test_ticks_between_are_every_tick_of_the_range_once_across_clock_changes(
    expr: str, tz_name: str, change: datetime, start_ms: int, span_ms: int
) -> None:
    tz, schedule = ZoneInfo(tz_name), parse_schedule(expr)
    start = change + timedelta(milliseconds=start_ms)
    end = start + timedelta(milliseconds=span_ms)
    want = [t for t in every_tick(expr, tz, start) if start <= t <= end]
    got = ticks_between(schedule, tz, start, end, limit=10_000)
    assert got == want
    assert len({tick_job_id("n", t) for t in got}) == len(got)  # one id per tick
    capped = ticks_between(schedule, tz, start, end, limit=3)
    assert capped == want[:4]  # a caller tells "too many" by one more than the limit


def test_ticks_between_includes_both_ends() -> None:
    start, end = z("2026-01-01T10:00Z"), z("2026-01-01T12:00Z")
    assert ticks_between(HOURLY, UTC, start, end) == [
        start, z("2026-01-01T11:00Z"), end]
    assert ticks_between(HOURLY, UTC, end, end) == [end]
    assert ticks_between(HOURLY, UTC, z("2026-01-01T10:01Z"), z("2026-01-01T10:59Z")) == []
