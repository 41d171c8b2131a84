"""The pool as a service: `worker start` under a service manager's notify socket, and its
JSON log. The manager here is a real AF_UNIX datagram socket that the test binds, as
systemd's; the pool is the installed `queuectl`, stopped with SIGTERM as systemd does."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Cli, wait_until


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    """A SQLite store: what is tested here is the pool's side, the same on any store."""
    c = Cli(str(tmp_path / "q.db"), tmp_path / "home", cwd=tmp_path)
    c.inline("config", "set", "max-retries", "0")
    yield c
    c.cleanup()


class Manager:
    """The service manager's end of NOTIFY_SOCKET: every message, in order."""

    def __init__(self, tmp_path: Path, abstract: bool) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"\0queuectl-test-notify-{os.getpid()}-{id(self)}"
            self.value = "@" + name[1:]
        else:
            name = self.value = str(tmp_path / "notify.sock")
        self.sock.bind(name)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def seen(self, text: str) -> bool:
        """Whether a message with this line has come (reading what is waiting first)."""
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                break
        return any(text in m.splitlines() for m in self.messages)

    def index(self, line: str) -> int:
        return next(i for i, m in enumerate(self.messages) if line in m.splitlines())


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_ready_status_stopping_in_order(cli: Cli, tmp_path: Path, abstract: bool) -> None:
    manager = Manager(tmp_path, abstract)
    env = {"NOTIFY_SOCKET": manager.value, "WATCHDOG_USEC": "1000000"}
    pool = cli.start_workers(2, env=env)
    wait_until(lambda: manager.seen("READY=1"), timeout=20, what="READY=1")
    assert manager.seen("STATUS=2 worker(s): 0 busy, 2 idle")
    job = cli.enqueue("sleep 4; echo ${NOTIFY_SOCKET:-none} ${WATCHDOG_USEC:-none}")
    wait_until(lambda: manager.seen("STATUS=2 worker(s): 1 busy, 1 idle"), timeout=20,
               what="the busy count")
    os.kill(pool.pid, signal.SIGTERM)  # what `systemctl stop` sends (KillMode=mixed)
    wait_until(lambda: manager.seen("STOPPING=1"), timeout=20, what="STOPPING=1")
    assert manager.seen("STATUS=stopping: 1 job(s) still running")
    assert pool.wait(timeout=30) == 0  # graceful: the job ran to its end
    assert cli.job(job)["state"] == "completed"
    assert manager.seen("WATCHDOG=1")
    order = [manager.index(line) for line in (
        "READY=1", "STATUS=2 worker(s): 1 busy, 1 idle", "STOPPING=1", "STATUS=stopping")]
    assert order == sorted(order) and len(set(order)) == 4, manager.messages
    assert sum(m.startswith("READY=1") for m in manager.messages) == 1
    assert sum("WATCHDOG=1" in m.splitlines() for m in manager.messages) >= 2  # every 0.5 s
    assert cli.inline("logs", job) == "none none\n"  # the job never saw the manager's variables


def test_without_notify_socket_nothing_changes(cli: Cli) -> None:
    pool = cli.start_workers(1)
    job = cli.enqueue("echo ${NOTIFY_SOCKET:-none}")
    cli.wait_state(job, "completed")
    os.kill(pool.pid, signal.SIGTERM)
    assert pool.wait(timeout=30) == 0


@pytest.mark.smoke
def test_json_log_lines_parse_and_carry_the_fields(cli: Cli, tmp_path: Path) -> None:
    pool = cli.start_workers(2, "--log-format", "json")
    ok = cli.enqueue("echo fine", "--id", "ok")
    bad = cli.enqueue("exit 3", "--id", "bad")
    for job_id in (ok, bad):
        cli.wait_state(job_id, "completed", "dead")
    os.kill(pool.pid, signal.SIGTERM)
    assert pool.wait(timeout=30) == 0
    lines = (tmp_path / "workers-0.log").read_text().splitlines()
    docs = [json.loads(line) for line in lines]  # every line, not some: nothing else there
    for doc in docs:
        assert {"ts", "level", "pid", "worker", "event", "message"} <= set(doc), doc
        assert time.strptime(doc["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    events = [d["event"] for d in docs]
    assert events[0] == "pool_starting" and events.count("worker_started") == 2
    assert events.count("worker_stopped") == 2 and "pool_stopping" in events
    started = {d["job"]: d for d in docs if d["event"] == "job_started"}
    assert {j: (d["attempt"], d["command"], d["message"]) for j, d in started.items()} == {
        "ok": (1, "echo fine", "job ok started (attempt 1): echo fine"),
        "bad": (1, "exit 3", "job bad started (attempt 1): exit 3")}
    finished = {d["job"]: d for d in docs if d["event"] == "job_finished"}
    assert set(finished) == {"ok", "bad"}
    assert (finished["ok"]["state"], finished["ok"]["error"], finished["ok"]["exit_code"]) == (
        "completed", None, 0)
    assert (finished["bad"]["state"], finished["bad"]["error"]) == ("dead", "exit code 3")
    assert all(isinstance(d["took_s"], float) and d["worker"].startswith("w-")
               for d in finished.values())
    supervisor = [d for d in docs if d["event"] == "pool_stopping"]
    assert supervisor[0]["worker"] is None and supervisor[0]["pid"] == pool.pid
