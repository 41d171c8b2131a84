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


# Edge kinds, as job_dependencies.kind holds them: what of the dependency's end releases
# the job. "completed": `--after`; "any": `--after-any` (completed, dead or cancelled);
# "failure": `--after-failure` (dead or cancelled; completed makes the job not needed).
KIND_OF = {"after": "completed", "after_any": "any", "after_failure": "failure"}
# The dependency states that release a job waiting by each kind.
SATISFIED = {"completed": frozenset({State.COMPLETED}),
             "any": frozenset({State.COMPLETED, State.DEAD, State.CANCELLED}),
             "failure": frozenset({State.DEAD, State.CANCELLED})}


def kinds(spec: JobSpec) -> list[tuple[str, str]]:
    """(dependency id, kind) of every dependency of ``spec``, in the order given."""
    return [*((dep, "completed") for dep in spec.after),
            *((dep, "any") for dep in spec.after_any),
            *((dep, "failure") for dep in spec.after_failure)]


def any_after(specs: Sequence[JobSpec]) -> bool:
    """Whether a batch has dependencies at all (the common batch has none: no statement
    more than before)."""
    return any(spec.after or spec.after_any or spec.after_failure for spec in specs)


def edges(specs: Sequence[JobSpec], ids: Sequence[str]) -> list[tuple[str, str, int, str]]:
    """(job id, dependency id, position, kind) for every dependency of the batch, in the
    order given; a dependency named twice by one job counts once."""
    out: list[tuple[str, str, int, str]] = []
    for spec, job_id in zip(specs, ids, strict=True):
        for position, (dep, kind) in enumerate(dict(kinds(spec)).items()):
            out.append((job_id, dep, position, kind))
    return out


def targets(specs: Sequence[JobSpec]) -> list[str]:
    """Every job that some job of the batch runs after, once each, sorted."""
    return sorted({dep for spec in specs for dep, _ in kinds(spec)})


def check_cycles(specs: Sequence[JobSpec], ids: Sequence[str]) -> None:
    """Refuse a batch whose jobs wait for each other in a cycle (DependencyRefused naming
    the cycle's first job in batch order and the job it waits for): none could ever run."""
    from queuectl.dag import find_cycle  # only an enqueue with --after gets here

    cycle = find_cycle({job_id: tuple(dep for dep, _ in kinds(spec))
                        for spec, job_id in zip(specs, ids, strict=True)})
    if cycle is not None:
        index = list(ids).index(cycle[0])
        raise DependencyRefused(index, cycle[1], "dependency cycle " + " -> ".join(cycle))


def check_targets(specs: Sequence[JobSpec], states: dict[str, str]) -> None:
    """Refuse the batch (DependencyRefused naming the first job, in batch order) when a
    dependency is unknown (absent from ``states``: id -> state, as the store found them,
    the batch's own jobs included), or has ended so that the job could never run: a
    cancelled one for `--after`, a completed one for `--after-failure`. A dead one is
    fine: `dlq retry` of it resumes the chain."""
    for index, spec in enumerate(specs):
        for dep, kind in kinds(spec):
            state = states.get(dep)
            if state is None:
                raise DependencyRefused(index, dep, "no such job")
            if state == State.CANCELLED and kind == "completed":
                raise DependencyRefused(index, dep, "it was cancelled")
            if state == State.COMPLETED and kind == "failure":
                raise DependencyRefused(index, dep, "it completed: the job would never run")


def attach(jobs: Sequence[Job], rows: Iterable[Sequence[Any]]) -> list[Job]:
    """``jobs`` with ``after``, ``after_any``, ``after_failure`` and ``waiting_for`` filled
    from dependencies_of rows: (job id, dependency id, its state or NULL when purged,
    whether the job still waits, the edge's kind)."""
    found: dict[str, dict[str, list[str]]] = {
        job.id: {"completed": [], "any": [], "failure": []} for job in jobs}
    waiting: dict[str, list[str]] = {job.id: [] for job in jobs}
    for job_id, dep, state, waits, kind in rows:
        if job_id not in found:
            continue
        found[job_id][kind or "completed"].append(dep)
        # A purged dependency had ended (purge never deletes one still needed).
        if waits and state is not None and state not in SATISFIED[kind or "completed"]:
            waiting[job_id].append(dep)
    return [replace(job, after=tuple(found[job.id]["completed"]),
                    after_any=tuple(found[job.id]["any"]),
                    after_failure=tuple(found[job.id]["failure"]),
                    waiting_for=tuple(waiting[job.id]))
            for job in jobs]
