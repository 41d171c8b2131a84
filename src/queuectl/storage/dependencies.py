"""What both stores share about jobs that wait for other jobs: the edges a batch writes,
which of its dependencies refuse it, and `after` / `waiting_for` read back onto jobs.

The stores run the SQL (named blocks lock_dependencies, insert_dependencies, block_waiting,
dependencies_of in each dialect); this module holds the flow around it, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from queuectl.errors import DependencyRefused
from queuectl.models import Job, JobSpec, State
from queuectl.records import replace

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any


def any_after(specs: Sequence[JobSpec]) -> bool:
    """Whether a batch has dependencies at all (the common batch has none: no statement
    more than before)."""
    return any(spec.after for spec in specs)


def edges(specs: Sequence[JobSpec], ids: Sequence[str]) -> list[tuple[str, str, int]]:
    """(job id, dependency id, position) for every dependency of the batch, in the order
    given; a dependency named twice by one job counts once."""
    out: list[tuple[str, str, int]] = []
    for spec, job_id in zip(specs, ids, strict=True):
        for position, dep in enumerate(dict.fromkeys(spec.after)):
            out.append((job_id, dep, position))
    return out


def targets(specs: Sequence[JobSpec]) -> list[str]:
    """Every job that some job of the batch runs after, once each, sorted."""
    return sorted({dep for spec in specs for dep in spec.after})


def check_cycles(specs: Sequence[JobSpec], ids: Sequence[str]) -> None:
    """Refuse a batch whose jobs wait for each other in a cycle (DependencyRefused naming
    the cycle's first job in batch order and the job it waits for): none could ever run."""
    from queuectl.dag import find_cycle  # only an enqueue with --after gets here

    cycle = find_cycle({job_id: spec.after for spec, job_id in zip(specs, ids, strict=True)})
    if cycle is not None:
        index = list(ids).index(cycle[0])
        raise DependencyRefused(index, cycle[1], "dependency cycle " + " -> ".join(cycle))


def check_targets(specs: Sequence[JobSpec], states: dict[str, str]) -> None:
    """Refuse the batch (DependencyRefused naming the first job, in batch order) when a
    dependency is unknown (absent from ``states``: id -> state, as the store found them,
    the batch's own jobs included) or cancelled: such a job could never run. A dead one
    is fine: `dlq retry` of it resumes the chain."""
    for index, spec in enumerate(specs):
        for dep in spec.after:
            state = states.get(dep)
            if state is None:
                raise DependencyRefused(index, dep, "no such job")
            if state == State.CANCELLED:
                raise DependencyRefused(index, dep, "it was cancelled")


def attach(jobs: Sequence[Job], rows: Iterable[Sequence[Any]]) -> list[Job]:
    """``jobs`` with ``after`` and ``waiting_for`` filled from dependencies_of rows: (job id,
    dependency id, its state or NULL when purged, whether the job still waits)."""
    after: dict[str, list[str]] = {job.id: [] for job in jobs}
    waiting: dict[str, list[str]] = {job.id: [] for job in jobs}
    for job_id, dep, state, waits in rows:
        if job_id not in after:
            continue
        after[job_id].append(dep)
        # A purged dependency had completed (purge never deletes one still needed).
        if waits and state is not None and state != State.COMPLETED:
            waiting[job_id].append(dep)
    return [replace(job, after=tuple(after[job.id]), waiting_for=tuple(waiting[job.id]))
            for job in jobs]
