"""The notify protocol against a real AF_UNIX datagram socket made here, as systemd's."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from queuectl.pool.notify import Notifier, PoolReport, address


@pytest.fixture(params=["path", "abstract"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A bound datagram socket standing in for the service manager, and the value of
    NOTIFY_SOCKET that names it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        name = str(tmp_path / "notify")
        sock.bind(name)
        value = name
    else:
        name = f"\0queuectl-test-{os.getpid()}-{id(sock)}"
        sock.bind(name)
        value = "@" + name[1:]
    sock.settimeout(5)
    yield value, sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every message waiting on the socket, in order."""
    out = []
    sock.settimeout(0.05)
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


def test_addresses() -> None:
    assert address("/run/systemd/notify") == "/run/systemd/notify"
    assert address("@abstract") == "\0abstract"
    assert address("@") is None and address("vsock:2:1234") is None and address("rel") is None


def test_from_environ_takes_the_variables_away(manager: tuple[str, socket.socket]) -> None:
    value, sock = manager
    env = {"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid()),
           "KEEP": "1"}
    notifier = Notifier.from_environ(env)
    assert notifier is not None and env == {"KEEP": "1"}  # jobs must not inherit them
    assert notifier.watchdog_interval == 2.0  # half of WATCHDOG_USEC
    assert notifier.send("READY=1", "STATUS=hello")
    assert sock.recv(4096) == b"READY=1\nSTATUS=hello"
    notifier.close()
    assert Notifier.from_environ({}) is None
    other = Notifier.from_environ({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "4000000",
                                   "WATCHDOG_PID": "1"})
    assert other is not None and other.watchdog_interval is None  # pid 1's watchdog
    other.close()


def test_pool_report_in_order(manager: tuple[str, socket.socket]) -> None:
    value, sock = manager
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": value, "WATCHDOG_USEC": "2000000"})
    assert notifier is not None
    report = PoolReport(notifier, count=2)
    report.update(up=0, busy=0, stopping=False, now=100.0)
    report.update(up=1, busy=0, stopping=False, now=100.1)
    report.update(up=2, busy=0, stopping=False, now=100.2)
    report.update(up=2, busy=0, stopping=False, now=100.3)  # nothing changed: nothing sent
    report.update(up=2, busy=1, stopping=False, now=100.4)
    assert report.watchdog_due() == 101.0
    report.update(up=2, busy=1, stopping=False, now=101.0)  # only the watchdog is due
    report.update(up=1, busy=1, stopping=False, now=101.1)  # a worker died mid-job
    report.update(up=2, busy=0, stopping=False, now=101.2)  # restarted: READY only once
    report.update(up=2, busy=2, stopping=True, now=101.3)
    report.update(up=0, busy=0, stopping=True, now=101.4)
    assert received(sock) == [
        "STATUS=0 of 2 worker(s) up: 0 busy, 0 idle\nWATCHDOG=1",
        "STATUS=1 of 2 worker(s) up: 0 busy, 1 idle",
        "READY=1\nSTATUS=2 worker(s): 0 busy, 2 idle",
        "STATUS=2 worker(s): 1 busy, 1 idle",
        "WATCHDOG=1",
        "STATUS=1 of 2 worker(s) up: 1 busy, 0 idle",
        "STATUS=2 worker(s): 0 busy, 2 idle",
        "STOPPING=1\nSTATUS=stopping: 2 job(s) still running",
        "STATUS=stopping",
    ]
    notifier.close()


def test_a_gone_manager_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "nobody-listens"))
    with caplog.at_level(logging.WARNING, logger="queuectl.notify"):
        assert not notifier.send("READY=1")
        assert not notifier.send("STATUS=x")
    assert len(caplog.records) == 1 and "cannot notify" in caplog.records[0].getMessage()
    notifier.close()
