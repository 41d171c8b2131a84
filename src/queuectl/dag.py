"""Cycles among jobs that wait for each other: pure, no I/O.

A batch of jobs (a bulk file) may name its own jobs in `after`, in any order; a cycle
would leave every job on it waiting forever, so the whole batch is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(after: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle of ``after`` (job id -> ids it runs after; ids absent from the mapping are
    outside the batch and end every path) as [a, b, ..., a], starting from the first job in
    the mapping's order that lies on one; None when there is none. Iterative: a chain of
    100,000 jobs does not overflow the stack."""
    done: set[str] = set()
    for start in after:
        cycle = _cycle_from(start, after, done)
        if cycle is not None:
            return _rotate(cycle, list(after))
    return None


def _cycle_from(start: str, after: Mapping[str, Sequence[str]], done: set[str]) -> list[str] | None:
    """Depth-first from ``start``; ``done`` holds jobs already known to reach no cycle."""
    if start in done:
        return None
    path: list[str] = [start]
    on_path = {start}
    stack = [iter(after.get(start, ()))]
    while stack:
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            node = path.pop()
            on_path.discard(node)
            done.add(node)
            continue
        if nxt in on_path:
            return path[path.index(nxt):] + [nxt]
        if nxt in done or nxt not in after:
            continue
        path.append(nxt)
        on_path.add(nxt)
        stack.append(iter(after[nxt]))
    return None


def _rotate(cycle: list[str], order: list[str]) -> list[str]:
    """The same cycle, starting at its member that comes first in ``order``."""
    ring = cycle[:-1]
    rank = {job_id: i for i, job_id in enumerate(order)}
    first = min(range(len(ring)), key=lambda i: rank.get(ring[i], len(order)))
    ring = ring[first:] + ring[:first]
    return ring + [ring[0]]
