"""The supervisor's relay (pool/relay.py): which worker a "work" goes to, and that a worker
that does not read its pipe is not sent work after work (the pipe's writes block)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from queuectl.errors import StoreUnavailable
from queuectl.pool.relay import IdleBoard, PoolListener, Relay
from queuectl.storage.base import WakeSource
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



def test_an_idle_worker_that_holds_a_connection_is_woken_first(tmp_path: Path) -> None:
    board = IdleBoard(3)
    relay = Relay(SQLiteStorage.pool_wakeups(str(tmp_path / "q.db")), board)
    write, read = _pipes(3)
    try:
        for slot in range(3):
            board.setter(slot)(True)
        os.write(relay.more_w, b"+")
        relay.pump(write, running=lambda slot: False, warm=lambda slot: slot == 2)
        assert [_unread(read[s]) for s in range(3)] == [b"", b"", b"w"]
        os.write(relay.more_w, b"+")  # none warm and idle left: by slot
        relay.pump(write, running=lambda slot: False, warm=lambda slot: slot == 2)
        assert [_unread(read[s]) for s in range(3)] == [b"w", b"", b""]
    finally:
        relay.close()
        for fd in (*write.values(), *read.values()):
            os.close(fd)

class FlakySource(WakeSource):
    """A wake-up source whose store can be listened to only when ``up``."""

    def __init__(self) -> None:
        self.up = False
        self.asked = 0

    def fds(self) -> list[int]:
        self.asked += 1
        if not self.up:
            raise StoreUnavailable("cannot listen on the test store")
        return [0]

    def drain(self) -> set[str]:
        return set()

    def close(self) -> None:
        pass


def test_a_store_that_cannot_be_listened_to_is_asked_again_after_a_backoff_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FlakySource()
    listener = PoolListener(source)
    assert listener.fds() == [] and source.asked == 1
    assert listener.fds() == [] and source.asked == 1  # not before its backoff
    listener._next_try = 0.0  # (the backoff has run out)
    assert listener.fds() == [] and source.asked == 2
    said = [r for r in caplog.records if "cannot listen for wake-ups" in r.getMessage()]
    assert len(said) == 1
    source.up = True
    listener._next_try = 0.0
    assert listener.fds() == [0]
    source.up = False  # lost once it listened: re-opened quietly (the workers say it)
    assert listener.fds() == []
    said = [r for r in caplog.records if "cannot listen for wake-ups" in r.getMessage()]
    assert len(said) == 1
