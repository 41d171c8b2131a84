"""How far a pool has been asked to stop: the level the supervisor and its workers share.

A level only rises. The supervisor relays the level it has reached to each worker over a
pipe, one digit per level reached, and a worker takes the highest it has heard of (its own
signals, the supervisor, the store's `worker stop`).
"""

from __future__ import annotations

from enum import IntEnum


class StopLevel(IntEnum):
    NONE = 0  # work on
    GRACEFUL = 1  # finish the current job, then exit
    ABORT = 2  # kill the running job's process group and hand the job back for retry

    @classmethod
    def reached(cls, requests: int) -> StopLevel:
        """The level ``requests`` stop requests (signals, or a level heard of) amount to:
        the first asks for a graceful stop, any after it for an abort."""
        return cls(min(max(requests, cls.NONE), cls.ABORT))
