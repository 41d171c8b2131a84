"""What each page shows, read from a store in one go (runs on a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from queuectl import output
from queuectl.app import documents
from queuectl.app.store import Stats, Storage
from queuectl.metrics import Metrics, compute, timeline, window
from queuectl.models import Attempt, Job, State, WorkerInfo, iso, utcnow
from queuectl.timeparse import format_age, format_duration, format_relative
from queuectl.web import charts
from queuectl.web.params import whole_number

CHART_SECONDS = 3600.0  # the overview charts cover the last hour
THROUGHPUT_BUCKETS = 60  # one bar a minute
LATENCY_BUCKETS = 12  # one bar per five minutes
PAGE_SIZE = 50  # jobs per page
OUTPUT_TAIL_BYTES = 64 * 1024  # the job page shows the end; the API has the whole output
CANCELLABLE = frozenset({State.PENDING, State.FAILED, State.PROCESSING})


@dataclass(frozen=True)
class WorkerRow:
    info: WorkerInfo
    heartbeat_age: float  # seconds since its last heartbeat


@dataclass(frozen=True)
class Overview:
    stats: Stats
    workers: list[WorkerRow]
    hour: Metrics
    throughput: charts.Chart
    latency: charts.Chart


def overview(store: Storage) -> Overview:
    now = utcnow()
    since = window(now, CHART_SECONDS)
    rows = store.finished_attempts(since)
    workers = [WorkerRow(w, max(0.0, (now - w.heartbeat_at).total_seconds()))
               for w in documents.workers(store)]
    return Overview(
        stats=documents.stats(store), workers=workers,
        hour=compute(rows, store.dead_since(since), since, now),
        throughput=charts.throughput(timeline(rows, since, now, THROUGHPUT_BUCKETS), since, now),
        latency=charts.latency(timeline(rows, since, now, LATENCY_BUCKETS), since, now),
    )


@dataclass(frozen=True)
class JobFilter:
    state: State | None = None
    queue: str | None = None
    search: str | None = None  # part of the id or the command, any case (`list --search`)
    tag: str | None = None  # a tag the jobs hold (`list --tag`)
    page: int = 1

    @classmethod
    def parse(cls, params: Any) -> JobFilter:
        """From query parameters; anything malformed falls back to "no filter"."""
        state = params.get("state") or None
        return cls(
            state=State(state) if state in set(State) else None,
            queue=(params.get("queue") or "").strip() or None,
            search=(params.get("q") or "").strip() or None,
            tag=(params.get("tag") or "").strip() or None,
            page=whole_number(params.get("page") or "", lowest=1) or 1,
        )

    @property
    def narrowed(self) -> bool:
        """Whether the filter leaves any job out (the page offers to clear it)."""
        return any((self.state, self.queue, self.search, self.tag))

    def query(self, **changes: Any) -> dict[str, str]:
        """Query parameters for this filter with ``changes`` applied (for links)."""
        values = {"state": self.state, "queue": self.queue, "q": self.search, "tag": self.tag,
                  "page": self.page, **changes}
        return {k: str(v) for k, v in values.items()
                if v not in (None, "") and not (k == "page" and v == 1)}

    def bulk(self) -> dict[str, Any]:
        """The filter as POST /api/jobs/bulk takes it: the jobs listed, on every page."""
        return {"state": self.state and str(self.state), "queue": self.queue,
                "search": self.search, "tag": [self.tag] if self.tag else []}


@dataclass(frozen=True)
class JobPage:
    filter: JobFilter
    jobs: list[Job]
    has_next: bool
    counts: dict[str, int] = field(default_factory=dict)
    searched: int | None = None  # a search looked at the newest this many jobs only


def jobs(store: Storage, flt: JobFilter) -> JobPage:
    tags = [flt.tag] if flt.tag else []
    found = documents.list_jobs(store, flt.state, flt.queue, PAGE_SIZE + 1,
                                offset=(flt.page - 1) * PAGE_SIZE, search=flt.search,
                                tags=tags)
    searched = documents.searched_part(store, flt.state, flt.queue, None, tags, flt.search,
                                       PAGE_SIZE + 1, len(found))
    return JobPage(flt, found[:PAGE_SIZE], len(found) > PAGE_SIZE,
                   documents.stats(store).counts, searched)


@dataclass(frozen=True)
class JobDetail:
    job: Job
    attempts: list[Attempt]
    asked: int | None  # the attempt named in the address; None: the latest, whichever it is
    output: str | None  # the shown attempt's output (its tail), None if it has none
    output_attempt: int | None  # the attempt shown: the one asked for, else the latest
    cut_bytes: int  # bytes before the shown tail (dropped by the store or by the page)
    following: bool  # the shown attempt is still running: its output grows
    dependents: list[str]  # ids of the jobs that run after this one

    @property
    def query(self) -> dict[str, str]:
        """Query parameters that show this job with this same attempt (for live updates)."""
        return {"id": self.job.id, **({"attempt": str(self.asked)} if self.asked else {})}


def job(store: Storage, job_id: str, attempt: int | None = None) -> JobDetail | None:
    """A job's page: its fields, attempts, and the output of ``attempt`` (default latest)."""
    found = store.get_job(job_id)
    if found is None:
        return None
    out = store.read_output(job_id, attempt)
    text, cut = None, 0
    if out is not None:
        data = out.data[-OUTPUT_TAIL_BYTES:]
        text, cut = data.decode("utf-8", "replace"), out.dropped + len(out.data) - len(data)
    shown = attempt if attempt is not None else out.attempt if out else None
    return JobDetail(found, store.attempts(job_id), attempt, text, shown, cut,
                     following=out is not None and not out.finished,
                     dependents=store.dependents(job_id))


def dead(store: Storage, page: int) -> JobPage:
    flt = JobFilter(state=State.DEAD, page=page)
    return jobs(store, flt)


@dataclass(frozen=True)
class CronRow:
    """One schedule as the cron page shows it."""

    name: str
    schedule: str
    words: str  # the schedule in words
    tz: str
    next_run: str  # ISO UTC, "" when paused or never
    next_in: str  # "in 4m", "paused", "never"
    last_job: str | None
    last_state: str | None
    paused: bool
    skipped: int
    alert_after: str = ""  # "26h", "" without --alert-after
    overdue: bool = False
    last_success: str = ""  # ISO UTC of its latest success's completion, "" for none
    suspect: str | None = None  # why its latest success looks like none


def crons(store: Storage) -> list[CronRow]:
    now = utcnow()
    rows = []
    for c in documents.schedules(store):
        when = c.next_run_at
        next_in = ("paused" if c.paused else "never" if when is None
                   else format_relative((when - now).total_seconds()))
        rows.append(CronRow(
            c.name, c.spec.schedule, c.spec.parsed.describe(), c.spec.tz,
            iso(when) or "", next_in, c.last_job, str(c.last_state) if c.last_state else None,
            c.paused, c.skipped,
            format_duration(c.spec.alert_after) if c.spec.alert_after else "", c.overdue,
            iso(c.last_success_at) or "", c.suspect,
        ))
    return rows


def since(ts: datetime | None) -> str:
    """How long ago ``ts`` was, in the words the CLI shows: "12m28s ago", "now"."""
    return "" if ts is None else format_age((utcnow() - ts).total_seconds())


def next_run(found: Job) -> str:
    """When a job that waits for its run_at (scheduled, or backing off after a failure) will
    run, in `list`'s words (output.next_run): "in 4h59m"; "" for a job that is due (its
    state badge says enough) or waits for nothing."""
    now = utcnow()
    return "" if found.run_at <= now else output.next_run(found, now)
