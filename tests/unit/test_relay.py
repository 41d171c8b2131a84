"""The supervisor's relay (pool/relay.py): which worker a "work" goes to, and that a worker
that does not read its pipe is not sent work after work (the pipe's writes block)."""

from __future__ import annotations

import os
from pathlib import Path

from queuectl.pool.relay import IdleBoard, Relay
from queuectl.storage.sqlite import SQLiteStorage


def _pipes(count: int) -> tuple[dict[int, int], dict[int, int]]:
    ends = [os.pipe() for _ in range(count)]
    for r, _ in ends:
        os.set_blocking(r, False)
    return {slot: w for slot, (_, w) in enumerate(ends)}, {s: r for s, (r, _) in enumerate(ends)}


def _unread(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def test_one_idle_worker_is_woken_per_wake_and_an_unread_one_is_not_sent_more(
    tmp_path: Path,
) -> None:
    board = IdleBoard(3)
    # A SQLite store's source that watches nobody: it never hears anything in this test.
    relay = Relay(SQLiteStorage.pool_wakeups(str(tmp_path / "q.db")), board)
    write, read = _pipes(3)
    try:
        for slot in (1, 2):
            board.setter(slot)(True)
        os.write(relay.more_w, b"+")  # a worker claimed after a wake-up: wake one more
        relay.pump(write, running=lambda slot: False)
        assert [_unread(read[s]) for s in range(3)] == [b"", b"w", b""]

        # Two more: the one idle worker left (slot 2), then, with nobody idle, those not
        # running a job (one may be on its way to sleep): slot 0, not slot 1 again, which
        # has not read its pipe yet.
        os.write(relay.more_w, b"++")
        relay.pump(write, running=lambda slot: False)
        assert [_unread(read[s]) for s in range(3)] == [b"w", b"", b"w"]

        board.reader(1)()  # slot 1 has read its pipe now
        board.setter(1)(True)
        os.write(relay.more_w, b"+")
        relay.pump(write, running=lambda slot: False)
        assert _unread(read[1]) == b"w"
    finally:
        relay.close()
        for fd in (*write.values(), *read.values()):
            os.close(fd)
