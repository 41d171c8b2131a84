"""What both stores share about steered queues (SPEC 6): reading their rows, and how long
an idle worker waits while a limit holds jobs back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from queuectl.models import QueueInfo, QueueSettings, State

# Seconds an idle worker waits before looking again while a due job of a queue it serves
# waits for that queue's limit: a place frees up when a job of the queue ends, on any
# host; the worker that ends it claims the next one at once if it serves the queue, and
# this bounds the pickup of the others.
LIMIT_POLL = 0.25


def held_back(due_in: float | None, held: bool) -> float | None:
    """seconds_until_due's answer: the wait until the next claimable job (None: none
    waits), shortened to LIMIT_POLL while a due job waits for its queue's limit."""
    if not held:
        return due_in
    return LIMIT_POLL if due_in is None else min(due_in, LIMIT_POLL)


def queue_infos(
    counts: Iterable[Sequence[Any]], steered: Sequence[QueueSettings]
) -> list[QueueInfo]:
    """`queue list`'s lines from rows (queue, state, count) and the steered queues: every
    queue that has jobs or settings, by name."""
    per_queue: dict[str, dict[str, int]] = {}
    for queue, state, n in counts:
        per_queue.setdefault(queue, {str(s): 0 for s in State})[state] = int(n)
    settings = {q.name: q for q in steered}
    names = sorted(set(per_queue) | set(settings))
    return [
        QueueInfo(name, per_queue.get(name) or {str(s): 0 for s in State},
                  settings.get(name, QueueSettings(name)).paused,
                  settings.get(name, QueueSettings(name)).limit)
        for name in names
    ]


def queue_from_row(row: Sequence[Any]) -> QueueSettings:
    """A row of queue_settings / queue_get: name, paused, concurrency_limit."""
    return QueueSettings(row[0], bool(row[1]), None if row[2] is None else int(row[2]))
