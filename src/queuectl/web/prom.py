"""GET /metrics: Prometheus text, read from the store at scrape time.

Nothing is counted in this process: every scrape asks the store, so the figures are the
same whichever dashboard is scraped and survive its restarts. Job and worker figures are
current gauges. Attempt figures cover a sliding window (the last hour) rather than being
counters: the store's history can be purged, which a counter must never see, and a window
keeps each scrape's cost bounded however old the store is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from queuectl.app import documents
from queuectl.app.store import AttemptRow, Stats, Storage
from queuectl.metrics import compute, run_seconds, window
from queuectl.models import Outcome, State, utcnow
from queuectl.recurring import Cron
from queuectl.web.stores import StorePool

WINDOW_SECONDS = 3600.0
# Run-duration bucket bounds, seconds: from quick shell one-liners to long batch jobs.
RUN_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
WORKER_STATES = ("idle", "busy", "lost")  # as `worker list` shows them


class Snapshot:
    """What one scrape reads, in one borrowed store."""

    def __init__(self, store: Storage, now: datetime) -> None:
        since = window(now, WINDOW_SECONDS)
        self.stats: Stats = documents.stats(store)
        self.queues = documents.queues(store)
        self.workers = documents.workers(store)
        self.rows: list[AttemptRow] = store.finished_attempts(since)
        self.dead = store.dead_since(since)
        self.figures = compute(self.rows, self.dead, since, now)
        self.now = now
        self.crons: list[Cron] = documents.schedules(store)


class StoreCollector(Collector):
    def __init__(self, pool: StorePool) -> None:
        self.pool = pool

    def collect(self) -> Iterator[Metric]:
        snap = self.pool.call(lambda store: Snapshot(store, utcnow()))
        yield from _jobs(snap)
        yield from _workers(snap)
        yield from _queues(snap)
        yield from _attempts(snap)
        yield from _crons(snap)


def _jobs(snap: Snapshot) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("queuectl_jobs", "Jobs in the store by state.", labels=["state"])
    for state in State:
        jobs.add_metric([str(state)], snap.stats.counts.get(str(state), 0))
    yield jobs
    yield GaugeMetricFamily("queuectl_jobs_scheduled",
                            "Pending jobs whose run_at is still in the future.",
                            value=snap.stats.scheduled)


def _workers(snap: Snapshot) -> Iterator[Metric]:
    workers = GaugeMetricFamily("queuectl_workers", "Registered workers by state.",
                                labels=["state"])
    for state in WORKER_STATES:
        workers.add_metric([state], sum(w.state == state for w in snap.workers))
    yield workers
    yield GaugeMetricFamily("queuectl_workers_active", "Workers not lost.",
                            value=snap.stats.workers_active)


def _queues(snap: Snapshot) -> Iterator[Metric]:
    """Per queue: jobs running now, the concurrency limit (only for limited
    queues: no sample means no limit), and whether it is paused (1) or not (0)."""
    running = GaugeMetricFamily("queuectl_queue_running", "Jobs of the queue running now.",
                                labels=["queue"])
    limit = GaugeMetricFamily("queuectl_queue_limit",
                              "The queue's concurrency limit (absent: no limit).",
                              labels=["queue"])
    paused = GaugeMetricFamily("queuectl_queue_paused", "1 while the queue is paused.",
                               labels=["queue"])
    rate = GaugeMetricFamily("queuectl_queue_rate_starts",
                             "Starts the queue's rate allows per window (absent: no rate).",
                             labels=["queue"])
    window = GaugeMetricFamily("queuectl_queue_rate_window_seconds",
                               "The window of the queue's rate (absent: no rate).",
                               labels=["queue"])
    for q in snap.queues:
        running.add_metric([q.name], q.running)
        paused.add_metric([q.name], int(q.paused))
        if q.limit is not None:
            limit.add_metric([q.name], q.limit)
        if q.rate is not None:
            rate.add_metric([q.name], q.rate.count)
            window.add_metric([q.name], q.rate.window_ms / 1000)
    yield from (running, limit, paused, rate, window)


def _attempts(snap: Snapshot) -> Iterator[Metric]:
    attempts = GaugeMetricFamily("queuectl_attempts_last_hour",
                                 "Attempts that ended in the last hour, by outcome.",
                                 labels=["outcome"])
    for outcome in Outcome:
        attempts.add_metric([str(outcome)], snap.figures.outcomes.get(str(outcome), 0))
    yield attempts
    yield GaugeMetricFamily("queuectl_dead_last_hour", "Jobs that went dead in the last hour.",
                            value=snap.dead)
    durations = [d for d in (run_seconds(r) for r in snap.rows) if d is not None]
    yield _histogram(durations)


def _crons(snap: Snapshot) -> Iterator[Metric]:
    """Per schedule: seconds until its next tick (none while paused or never again), the
    ticks it skipped because its previous job was unfinished (a true counter, kept whole in
    the store: purging jobs never lowers it; removing the schedule ends it), whether it is
    overdue (judged on read, so it shows with every pool down) and when it last
    succeeded."""
    until = GaugeMetricFamily("queuectl_cron_next_tick_seconds",
                              "Seconds until the schedule's next tick (negative: overdue).",
                              labels=["name"])
    skipped = CounterMetricFamily("queuectl_cron_skipped_ticks",
                                  "Ticks skipped because the previous job was unfinished.",
                                  labels=["name"])
    overdue = GaugeMetricFamily("queuectl_cron_overdue",
                                "1 while the schedule has had no success within its "
                                "--alert-after, else 0.", labels=["name"])
    success = GaugeMetricFamily("queuectl_cron_last_success_timestamp_seconds",
                                "When the schedule's latest success completed (Unix time).",
                                labels=["name"])
    suspect = CounterMetricFamily("queuectl_cron_suspect",
                                  "Completed runs flagged suspect: far shorter or quieter than "
                                  "the schedule's previous ones.", labels=["name"])
    for cron in snap.crons:
        suspect.add_metric([cron.name], cron.suspects)
        if cron.next_run_at is not None:
            until.add_metric([cron.name], (cron.next_run_at - snap.now).total_seconds())
        skipped.add_metric([cron.name], cron.skipped)
        overdue.add_metric([cron.name], 1.0 if cron.overdue else 0.0)
        if cron.last_success_at is not None:
            success.add_metric([cron.name], cron.last_success_at.timestamp())
    yield until
    yield skipped
    yield overdue
    yield success
    yield suspect


def _histogram(durations: list[float]) -> Metric:
    buckets = [(_le(bound), float(sum(d <= bound for d in durations))) for bound in RUN_BUCKETS]
    buckets.append(("+Inf", float(len(durations))))
    return GaugeHistogramMetricFamily(
        "queuectl_attempt_run_seconds",
        "Run time of the attempts that ended in the last hour, seconds.",
        buckets=buckets, gsum_value=sum(durations),
    )


def _le(bound: float) -> str:
    """A bucket bound as Prometheus writes it (1.0, 0.5, 3600.0)."""
    return repr(float(bound))


def registry(pool: StorePool) -> CollectorRegistry:
    """A registry of our own: no process metrics of the dashboard, only the queue's."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector(pool))
    return reg
