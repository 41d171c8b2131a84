"""What both stores share about queue settings: reading their rows.

An idle worker does not poll while a queue's limit holds due jobs back: every end of a
job of a limited queue whose worker claims nothing more of that queue wakes an idle worker
(queuectl_finish on PostgreSQL, the finish's `limited` on SQLite), as does a recovery that
hands a job back, and `queue limit` and `queue resume` wake every idle worker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from queuectl.models import QueueInfo, QueueSettings, Rate, State

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any


def queue_infos(
    counts: Iterable[Sequence[Any]], settings: Sequence[QueueSettings], now_ms: int
) -> list[QueueInfo]:
    """`queue list`'s lines from rows (queue, state, count) and the queues with settings:
    every queue that has jobs or settings, by name; whether a window is open is judged at
    ``now_ms`` (the store's clock)."""
    per_queue: dict[str, dict[str, int]] = {}
    for queue, state, n in counts:
        per_queue.setdefault(queue, {str(s): 0 for s in State})[state] = int(n)
    by_name = {q.name: q for q in settings}
    names = sorted(set(per_queue) | set(by_name))
    infos = []
    for name in names:
        q = by_name.get(name, QueueSettings(name))
        infos.append(QueueInfo(name, per_queue.get(name) or {str(s): 0 for s in State},
                               q.paused, q.limit, q.rate, q.window, q.window_tz,
                               window_open(q, now_ms)))
    return infos


def window_open(queue: QueueSettings, now_ms: int) -> bool:
    """Whether ``queue`` may start jobs at ``now_ms`` by its window (True without one)."""
    if queue.window is None or queue.window_tz is None:
        return True
    from queuectl import windows
    from queuectl.schedules import zone

    return windows.is_open(windows.parse_window(queue.window), zone(queue.window_tz),
                           windows.from_ms(now_ms))


def queue_from_row(row: Sequence[Any]) -> QueueSettings:
    """A row of queue_settings / queue_get: name, paused, concurrency_limit, rate_count,
    rate_ms, window_spec, window_tz."""
    rate = None if row[3] is None else Rate(int(row[3]), int(row[4]))
    return QueueSettings(row[0], bool(row[1]), None if row[2] is None else int(row[2]), rate,
                         row[5], row[6])
