"""What `status`, `list` and `show` do once their arguments are parsed.

Shared by the click commands (cli/jobs.py) and the click-free fast path (cli/fastpath.py),
so that both print the same by construction; what they read, and the JSON documents, are
the application layer's (app/documents.py), shared with the dashboard and the Python API.
Scripts poll these commands: nothing here imports click, and output imports rich only when
a terminal table is drawn.
"""

from __future__ import annotations

from queuectl import output
from queuectl.app import documents
from queuectl.models import READY_STATES, State, iso, utcnow

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from queuectl.app.store import Storage
    from queuectl.models import Job

LIST_LIMIT = 100  # jobs `list` shows unless --limit says otherwise


def status(store: Storage, as_json: bool) -> None:
    """Counts per state, scheduled and blocked jobs, workers, paused queues and limits."""
    stats = documents.stats(store)
    if as_json:
        output.emit_json(stats.to_dict())
        return
    rows: list[tuple[str, Any]] = []
    for state, n in stats.counts.items():
        rows.append((state, n))
        if state == "pending":  # not states of their own: pending jobs not due yet
            rows.append(("  scheduled", stats.scheduled))
            rows.append(("  blocked", stats.blocked))
            if stats.held:  # held jobs are pending, or failed and waiting for a retry
                rows.append(("  held", stats.held))
    rows.append(("workers", f"{stats.workers_active} active, {stats.workers_busy} busy"))
    if stats.gpus:  # only when some pool owns GPUs, so the table reads as before
        busy = sum(use.job is not None for use in stats.gpus)
        hosts = len({use.host for use in stats.gpus}) > 1
        rows.append(("gpus", f"{len(stats.gpus)}, {busy} busy: "
                             f"{output.gpus_in_words(stats.gpus, hosts)}"))
    rows.append(("paused queues", ", ".join(stats.paused_queues) or "none"))
    limits = stats.queue_limits
    rows.append(("queue limits", ", ".join(f"{q}={n}" for q, n in limits.items()) or "none"))
    if stats.queue_rates:  # only when some queue has one, so the table reads as before
        rows.append(("queue rates", ", ".join(f"{q}={r}" for q, r in stats.queue_rates.items())))
    output.pairs(rows)


def list_jobs(store: Storage, state: str | None, queue: str | None, cron: str | None,
              limit: int, as_json: bool, *, tags: Sequence[str] = (),
              search: str | None = None) -> None:
    """Jobs, newest first; ``limit`` 0 lists all. Says on stderr when the limit cut the list,
    or when a search looked at the newest jobs only (documents.SEARCH_WINDOW)."""
    chosen = State(state) if state else None
    jobs = documents.list_jobs(store, chosen, queue, limit or None, cron=cron, tags=tags,
                               search=search)
    render_jobs(jobs, as_json, store)
    if limit and len(jobs) == limit and not as_json:
        output.note(f"(the newest {limit}; --limit 0 lists all)")
    searched = documents.searched_part(store, chosen, queue, cron, tags, search, limit or None,
                                       len(jobs))
    if searched is not None:  # said with --json too: the document cannot say it
        output.note(f"(searched the newest {searched:,} jobs only; --limit 0 searches all)")


def render_jobs(jobs: list[Job], as_json: bool, store: Storage | None = None) -> None:
    """The jobs as a table, or as one JSON list with ``as_json``; with ``store``, a job
    waiting for a dead one says so."""
    if as_json:
        output.emit_json(documents.job_docs(jobs))
        return
    now = utcnow()
    dead = documents.dead_blockers(store, jobs) if store is not None else {}
    rows = [
        (j.id, j.state, output.next_run(j, now, dead.get(j.id)),
         f"{j.attempts}/{j.max_retries + 1}", j.priority, j.queue,
         output.truncate(j.command, 50), iso(j.updated_at), j.last_error or "")
        for j in jobs
    ]
    output.table(["ID", "STATE", "NEXT RUN", "TRIES", "PRI", "QUEUE", "COMMAND", "UPDATED",
                  "LAST ERROR"], rows, state_col=1)


def show(store: Storage, job_id: str, as_json: bool) -> None:
    """One job with its attempts log; raises JobNotFound."""
    from queuectl.timeparse import format_duration

    job = documents.job_with_attempts(store, job_id)
    if as_json:
        output.emit_json(job.to_dict())
        return
    attempts = job.attempts_log or ()
    doc = job.to_dict()
    doc.pop("attempts_log", None)  # a table of its own below
    doc.pop("held_back", None)  # said below, for a waiting job
    doc["after"] = " ".join(job.after) or None
    doc["waiting_for"] = " ".join(job.waiting_for) or None
    doc["dependents"] = " ".join(job.dependents or ()) or None
    doc["tags"] = " ".join(job.tags) or None
    for policy in ("success_exit", "no_retry_exit"):
        doc[policy] = ",".join(map(str, doc[policy])) or None
    doc["env"] = " ".join(f"{k}={v}" for k, v in (job.env or {}).items()) or None
    doc["timeout"] = None if job.timeout is None else format_duration(job.timeout)
    doc["snapshot"] = job.snapshot.describe() if job.snapshot else None
    if job.state in READY_STATES:
        dead = documents.dead_blockers(store, [job]).get(job.id)
        doc["run_at"] = f"{doc['run_at']} ({output.next_run(job, utcnow(), dead)})"
        if job.held_back:
            doc["held back"] = job.held_back
    output.pairs(list(doc.items()))
    if attempts:
        output.line()
        rows = [(a.number, a.worker, iso(a.started_at), iso(a.finished_at), a.exit_code,
                 a.outcome or "running", a.error) for a in attempts]
        output.table(["#", "WORKER", "STARTED", "FINISHED", "EXIT", "OUTCOME", "ERROR"], rows)
