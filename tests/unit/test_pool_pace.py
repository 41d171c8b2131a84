"""A pool's workers pace the chores that need not be done by each of them (judging overdue
schedules, looking for expired jobs) together: once per interval per pool, across fork."""

from __future__ import annotations

import os

from queuectl.pool.housekeeping import ALERTS, EXPIRY, PoolPace


def test_a_chore_is_due_once_per_interval_for_the_whole_pool() -> None:
    pace = PoolPace()
    assert pace.due(ALERTS, 5.0)
    assert not pace.due(ALERTS, 5.0)  # another worker, a moment later
    assert pace.due(EXPIRY, 1.0)  # each chore keeps its own time
    assert pace.due(ALERTS, 0.0)  # an interval later


def test_a_chore_that_left_work_is_due_again_at_once() -> None:
    pace = PoolPace()
    assert pace.due(EXPIRY, 60.0)
    pace.again(EXPIRY)
    assert pace.due(EXPIRY, 60.0)


def test_a_forked_worker_shares_the_pools_pace() -> None:
    pace = PoolPace()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os._exit(0 if pace.due(ALERTS, 60.0) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not pace.due(ALERTS, 60.0)  # the child did it
