"""The wall clock steps under running pools (NTP at boot, `date -s`, a resumed VM): a live
worker's job is not taken for lost after a step forward, and after a step back a job due
now runs at once and an `every` schedule keeps firing.

Every queuectl process here runs under libfaketime, whose offset the test rewrites: each
wall clock a process reads (the C library's, Python's) steps, and the monotonic and
boot-time clocks do not. On PostgreSQL the server's clock is the store's and cannot be
stepped here (tests/contract/test_clock_steps.py steps it as the server would see it): the
hosts' clocks stepping must change nothing there."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.acceptance.process_tools import freeze
from tests.helpers import Cli, wait_until

LIBS = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
if not LIBS and os.environ.get("CI") != "true":
    pytest.skip("libfaketime is not installed (apt-get install faketime)",
                allow_module_level=True)
HOUR = 3600  # seconds
LEASE = 5  # seconds, as in the report
HEARTBEAT = LEASE / 3  # seconds: a worker's heartbeat interval, and a pool's looks


# libfaketime (0.9.10) with the monotonic clocks left alone fails every clock_nanosleep on
# them with EINVAL, and so every time.sleep() of a process under it: this, preloaded before
# it, passes the call straight to the kernel.
SLEEP_SHIM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem) {
    return syscall(SYS_clock_nanosleep, c, flags, req, rem) == -1 ? errno : 0;
}
"""


@pytest.fixture(scope="session")
def sleep_shim(tmp_path_factory: pytest.TempPathFactory) -> str:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no C compiler to build the sleep shim for libfaketime")
        pytest.skip("no C compiler to build the sleep shim for libfaketime")
    folder = tmp_path_factory.mktemp("faketime")
    (folder / "shim.c").write_text(SLEEP_SHIM)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(folder / "shim.so"),
                    str(folder / "shim.c")], check=True)
    return str(folder / "shim.so")


class WallClock:
    """A wall-clock offset shared by every process started with ``env``."""

    def __init__(self, folder: Path, shim: str) -> None:
        assert LIBS, "libfaketime is not installed (apt-get install faketime)"
        self.file = folder / "faketime"
        self.set(0)
        self.env = {
            "LD_PRELOAD": f"{shim} {LIBS[0]}", "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def set(self, offset_s: int) -> None:
        tmp = self.file.with_suffix(".new")
        tmp.write_text(f"{offset_s:+d}\n")
        tmp.replace(self.file)  # a process never reads half a file


@pytest.fixture
def clock(cli: Cli, tmp_path: Path, sleep_shim: str) -> WallClock:
    found = WallClock(tmp_path, sleep_shim)
    cli.env.update(found.env)
    cli.inline("config", "set", "lease-timeout", str(LEASE))
    return found


def test_a_step_forward_takes_no_live_worker_for_lost(cli: Cli, clock: WallClock) -> None:
    cli.start_workers(1)
    cli.start_workers(1)
    job_id = cli.enqueue("sleep 12")
    cli.wait_state(job_id, "processing")
    holder = holder_pid(cli, job_id)
    # A pool judges silence only once it has watched the store work for a whole lease
    # itself (a silence may be an outage it shared): the step must come after that, as it
    # does to pools that have run for a while. Nothing the pools show marks the moment.
    time.sleep(LEASE + 1)
    # The step comes before the holder's next heartbeat (held back, for well under a
    # lease, so that the other pool surely looks meanwhile): a heartbeat the step let
    # through first would have hidden it.
    freeze(holder, cli.db_url)
    try:
        clock.set(HOUR)
        time.sleep(HEARTBEAT * 1.5)
    finally:
        os.kill(holder, signal.SIGCONT)
    done = cli.wait_state(job_id, "completed", "dead", "failed", timeout=40)
    assert [a["error"] for a in done["attempts_log"]] == [None]
    assert done["state"] == "completed"


def test_a_step_back_keeps_due_jobs_and_every_schedules_going(
        cli: Cli, clock: WallClock) -> None:
    cli.start_workers(1)
    cli.ok("cron", "add", "beat", "every 2s", "-c", "true", "--overlap", "allow")
    wait_until(lambda: len(ticks(cli)) >= 1, timeout=20, what="a first tick")
    busy = cli.enqueue("sleep 3")
    cli.wait_state(busy, "processing")
    due = cli.enqueue("true")  # due now; the only worker is busy
    clock.set(-HOUR)
    cli.wait_state(due, "completed", timeout=20)
    before = len(ticks(cli))
    wait_until(lambda: len(ticks(cli)) >= before + 2, timeout=20, what="two more ticks")


def test_a_step_forward_starts_no_delayed_job_early(cli: Cli, clock: WallClock) -> None:
    """A claim that comes right after a step, before any look has moved the waits, must
    not read them on the stepped clock."""
    cli.start_workers(1)
    delayed = cli.enqueue("true", "--delay", "60s")
    clock.set(HOUR)
    woken = cli.enqueue("true")  # wakes the idle worker at once
    cli.wait_state(woken, "completed", timeout=20)
    assert cli.job(delayed)["state"] == "pending"


def holder_pid(cli: Cli, job_id: str) -> int:
    [pid] = [w["pid"] for w in cli.json("worker", "list") if w["current_job"] == job_id]
    return int(pid)


def ticks(cli: Cli) -> list[object]:
    return list(cli.json("list", "--cron", "beat", "--limit", "0"))
