"""Nothing lost, nothing stuck: workers killed mid-job, jobs that kill their worker, stop
requests from another terminal, Ctrl-C (once and twice) and SIGTERM, --detach, a worker
frozen past the lease. (A worker of another host lost by silence, and one back from a long
silence, run in-process: tests/contract/test_recovery_run.py.)"""

from __future__ import annotations

import fcntl
import os
import pty
import shutil
import signal
import subprocess
import termios
import time
from pathlib import Path

import pytest

from queuectl.pool.supervisor import log_path
from tests.acceptance.process_tools import alive, assert_group_gone, freeze, read_pid
from tests.helpers import QUEUECTL, Cli, wait_until


def short_lease(cli: Cli) -> None:
    cli.inline("config", "set", "lease-timeout", "2")
    cli.inline("config", "set", "backoff-base", "1")


def holder_pid(cli: Cli, job_id: str) -> int:
    found: list[int] = []

    def held() -> bool:
        found[:] = [w["pid"] for w in cli.json("worker", "list") if w["current_job"] == job_id]
        return bool(found)

    wait_until(held, what=f"a worker to hold {job_id}")
    return found[0]


def exits(proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
    return proc.wait(timeout=timeout)


@pytest.mark.smoke
def test_killed_worker_job_is_completed_by_another(cli: Cli, tmp_path: Path) -> None:
    short_lease(cli)
    # The job runs until the test says "go": a first attempt that ended by itself before its
    # worker was killed (a busy machine, a slow look at the worker list) would prove nothing.
    job_id = cli.enqueue("echo $$ > sh.pid; until [ -e go ]; do sleep 0.05; done; echo done")
    cli.start_workers(2)
    first_shell = read_pid(tmp_path / "sh.pid")
    victim = holder_pid(cli, job_id)
    os.kill(victim, signal.SIGKILL)
    # Its job does not run on beside the retry: the supervisor kills the orphaned group.
    assert_group_gone(first_shell, timeout=3)
    (tmp_path / "go").touch()
    done = cli.wait_state(job_id, "completed", timeout=30)
    log = done["attempts_log"]
    assert [a["error"] for a in log] == ["worker lost", None]
    assert log[0]["outcome"] == "worker_lost"
    assert log[0]["worker"] != log[1]["worker"]
    assert done["attempts"] == 2
    assert cli.inline("logs", job_id) == "done\n"
    assert cli.json("status")["counts"]["processing"] == 0


def test_a_job_that_kills_its_worker_ends_in_the_dlq(cli: Cli) -> None:
    short_lease(cli)
    # The job's shell is a child of the worker process: $PPID is the worker.
    job_id = cli.enqueue("kill -9 $PPID; sleep 5", "--max-retries", "2")
    cli.start_workers(1)
    dead = cli.wait_state(job_id, "dead", timeout=40)
    assert dead["attempts"] == 3
    assert [a["error"] for a in dead["attempts_log"]] == ["worker lost"] * 3
    assert cli.json("status")["counts"]["processing"] == 0
    after = cli.enqueue("echo still-serving")
    cli.wait_state(after, "completed", timeout=20)


def test_worker_stop_from_another_terminal(cli: Cli) -> None:
    job_id = cli.enqueue("sleep 3; echo finished")
    pool = cli.start_workers(2)
    cli.wait_state(job_id, "processing")
    stopped = cli.run("worker", "stop", "--timeout", "20")
    assert stopped.returncode == 0, stopped.stderr
    assert cli.job(job_id)["state"] == "completed"  # finished its job first
    assert exits(pool) == 0
    assert cli.json("worker", "list") == []
    assert cli.json("status")["workers"]["active"] == 0


def test_worker_stop_without_workers_returns_at_once(cli: Cli) -> None:
    assert cli.run("worker", "stop").returncode == 0


def job_is_running(cli: Cli) -> None:
    """Wait until the job's own shell runs (it touches ``running``), not only until it is
    claimed: a signal sent to the pool's group while a job is being spawned reaches the job
    too (it is in the group until its new session starts) and kills it, a known race of
    the spawn that these tests of a graceful stop are not about."""
    wait_until(lambda: (cli.cwd / "running").exists(), what="the job to run")


def test_one_ctrl_c_is_graceful(cli: Cli) -> None:
    job_id = cli.enqueue("touch running; sleep 3; echo finished")
    pool = cli.start_workers(2)
    job_is_running(cli)
    os.killpg(pool.pid, signal.SIGINT)  # what a terminal does: every process of the group
    assert exits(pool) == 0
    job = cli.job(job_id)
    assert job["state"] == "completed"
    assert cli.inline("logs", job_id) == "finished\n"
    assert cli.json("worker", "list") == []


@pytest.mark.parametrize("how", ["ctrl-c to the group", "sigterm to the supervisor"])
def test_two_signals_kill_the_job_and_hand_it_back(cli: Cli, tmp_path: Path, how: str) -> None:
    job_id = cli.enqueue("echo $$ > sh.pid; sleep 300 & echo $! > child.pid; wait")
    pool = cli.start_workers(1)
    sh_pid, child_pid = read_pid(tmp_path / "sh.pid"), read_pid(tmp_path / "child.pid")

    def send() -> None:
        if how == "ctrl-c to the group":
            os.killpg(pool.pid, signal.SIGINT)
        else:
            os.kill(pool.pid, signal.SIGTERM)

    send()
    time.sleep(0.3)
    assert cli.job(job_id)["state"] == "processing"  # still running after one
    send()
    # As a shell reports a command its signal interrupted: 128 + SIGINT, 128 + SIGTERM.
    assert exits(pool, timeout=10) == (130 if how == "ctrl-c to the group" else 143)
    assert_group_gone(sh_pid, child_pid)
    job = cli.job(job_id)
    assert job["state"] == "pending"
    assert job["attempts"] == 0
    assert job["attempts_log"][0]["outcome"] == "interrupted"
    assert cli.json("status")["counts"]["processing"] == 0
    assert cli.json("worker", "list") == []


def test_sigterm_to_the_supervisor_only_is_graceful(cli: Cli) -> None:
    job_id = cli.enqueue("sleep 3; echo finished")
    pool = cli.start_workers(2)
    cli.wait_state(job_id, "processing")
    os.kill(pool.pid, signal.SIGTERM)
    assert exits(pool) == 0
    assert cli.job(job_id)["state"] == "completed"
    assert cli.json("worker", "list") == []


def test_detach_prints_pids_and_worker_stop_stops_them(cli: Cli) -> None:
    started = cli.run("worker", "start", "--detach", "--count", "2", timeout=40)
    assert started.returncode == 0, started.stderr
    pids = [int(line) for line in started.stdout.split()]
    try:
        assert len(pids) == 2 and all(alive(p) for p in pids)
        assert sorted(w["pid"] for w in cli.json("worker", "list")) == sorted(pids)
        job_id = cli.enqueue("echo detached")
        cli.wait_state(job_id, "completed")
        assert cli.run("worker", "stop", "--timeout", "20").returncode == 0
        wait_until(lambda: not any(alive(p) for p in pids), timeout=10, what="workers to exit")
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert os.path.exists(log_path(cli.db_url))  # the store's own pool log


def test_killed_job_group_and_stop_leave_nothing_processing(cli: Cli, tmp_path: Path) -> None:
    """A job killed by a signal nobody in queuectl sent is a plain failed attempt."""
    job_id = cli.enqueue("echo $$ > sh.pid; sleep 30", "--max-retries", "0")
    cli.start_workers(1)
    sh_pid = read_pid(tmp_path / "sh.pid")
    os.killpg(sh_pid, signal.SIGKILL)
    dead = cli.wait_state(job_id, "dead")
    assert dead["last_error"] == "killed by signal SIGKILL"
    assert_group_gone(sh_pid)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_supervisor_killed_workers_finish_their_job_and_exit(cli: Cli, tmp_path: Path) -> None:
    # The job runs until the test lets it end: finding its worker must not race its end.
    job_id = cli.enqueue("echo $$ > sh.pid; while [ ! -e go ]; do sleep 0.05; done; "
                         "echo finished")
    pool = cli.start_workers(1)
    read_pid(tmp_path / "sh.pid")
    worker = holder_pid(cli, job_id)
    os.kill(pool.pid, signal.SIGKILL)  # the supervisor only
    pool.wait()
    before, started = cpu_seconds(worker), time.monotonic()
    time.sleep(1)
    # Not a benchmark: an orphaned worker used to spin on its dead supervisor's pipe (a
    # whole core); waiting on its job it should need next to nothing.
    assert cpu_seconds(worker) - before < 0.5 * (time.monotonic() - started)
    (tmp_path / "go").touch()
    done = cli.wait_state(job_id, "completed")
    assert done["attempts_log"][0]["outcome"] == "succeeded"
    wait_until(lambda: not alive(worker), timeout=10, what="the orphaned worker to exit")
    assert cli.json("worker", "list") == []


def test_a_short_lease_never_takes_a_busy_worker_for_lost(cli: Cli) -> None:
    """Heartbeats keep pace with the lease while a job runs, however short the lease."""
    cli.inline("config", "set", "lease-timeout", "1")
    job_id = cli.enqueue("sleep 2.5; echo ok", "--max-retries", "0")
    cli.start_workers(2)  # the idle one recovers whatever looks lost
    done = cli.wait_state(job_id, "completed", "dead", timeout=20)
    assert [a["outcome"] for a in done["attempts_log"]] == ["succeeded"]


def test_a_frozen_worker_that_wakes_up_drops_the_recovered_job(cli: Cli, tmp_path: Path) -> None:
    """SIGSTOP past the lease: another worker takes the job over; on SIGCONT the first one
    rejoins, kills its own copy, and does not overwrite the outcome."""
    cli.inline("config", "set", "lease-timeout", "1")
    cli.inline("config", "set", "backoff-base", "1")
    job_id = cli.enqueue("echo $$ >> shells.txt; sleep 3; echo done")
    cli.start_workers(2)
    wait_until(lambda: (tmp_path / "shells.txt").exists(), what="the first attempt")
    frozen = holder_pid(cli, job_id)
    freeze(frozen, cli.db_url)  # never inside a transaction: the store would freeze with it
    try:
        wait_until(lambda: len((tmp_path / "shells.txt").read_text().split()) == 2,
                   timeout=20, what="the job to be taken over")
    finally:
        os.kill(frozen, signal.SIGCONT)
    first_shell = int((tmp_path / "shells.txt").read_text().split()[0])
    assert_group_gone(first_shell, timeout=5)  # the woken worker killed its stale copy
    done = cli.wait_state(job_id, "completed", "dead", timeout=20)
    assert [a["outcome"] for a in done["attempts_log"]] == ["worker_lost", "succeeded"]
    assert done["state"] == "completed" and done["attempts"] == 2
    assert alive(frozen)  # it rejoined instead of dying
    wait_until(lambda: len(cli.json("worker", "list")) == 2, what="the frozen worker to rejoin")


def test_a_worker_stopped_alone_stops_the_pool_gracefully(cli: Cli) -> None:
    """SIGTERM to one worker: it exits, and the pool follows (never half-supervised)."""
    job_id = cli.enqueue("sleep 3; echo finished")
    pool = cli.start_workers(2)
    busy = holder_pid(cli, job_id)
    idle = [w["pid"] for w in cli.json("worker", "list") if w["pid"] != busy]
    os.kill(idle[0], signal.SIGTERM)
    assert exits(pool) == 0
    assert cli.job(job_id)["state"] == "completed"  # the busy one finished its job first
    assert cli.json("worker", "list") == []


def test_the_terminal_going_away_is_a_graceful_stop(cli: Cli) -> None:
    """SIGHUP to the whole foreground group (its terminal closed): jobs finish, then exit."""
    job_id = cli.enqueue("touch running; sleep 3; echo finished")
    pool = cli.start_workers(2)
    job_is_running(cli)
    os.killpg(pool.pid, signal.SIGHUP)
    assert exits(pool) == 0
    assert cli.job(job_id)["state"] == "completed"
    assert cli.json("worker", "list") == []


def test_a_terminal_closing_under_the_pool_hangs_up_once_however_often_it_says_so(
    cli: Cli, tmp_path: Path
) -> None:
    """The pool's controlling terminal closes while a job runs: the kernel hangs up the
    foreground group, and a shell sends its own SIGHUP on top. However many hang-ups reach
    the supervisor and the workers, the job finishes and the pool exits 0."""
    job_id = cli.enqueue("echo $$ > sh.pid; while [ ! -e go ]; do sleep 0.05; done; echo finished")
    primary, secondary = pty.openpty()

    def take_terminal() -> None:  # after setsid: the pty becomes the controlling terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    pool = subprocess.Popen([QUEUECTL, "worker", "start", "--count", "2"], env=cli.env,
                            cwd=cli.cwd, stdin=secondary, stdout=secondary, stderr=secondary,
                            start_new_session=True, preexec_fn=take_terminal)
    cli.procs.append(pool)
    os.close(secondary)
    wait_until(lambda: cli.workers_of(pool.pid) == 2, what="the workers to register")
    shell = read_pid(tmp_path / "sh.pid")
    os.close(primary)  # the terminal goes: the kernel hangs up the foreground group
    # Every worker heard it once the idle one is gone (the busy one wakes as fast).
    wait_until(lambda: cli.workers_of(pool.pid) <= 1, what="the idle worker to stop")
    for _ in range(3):  # then the shell's own, to the group and to the supervisor alone,
        time.sleep(0.2)  # apart: a signal sent while the same one is pending merges with it
        os.killpg(pool.pid, signal.SIGHUP)
        os.kill(pool.pid, signal.SIGHUP)
    time.sleep(0.3)  # (time for an abort, if one were taken, to kill the job)
    assert alive(shell) and cli.job(job_id)["state"] == "processing"
    (tmp_path / "go").touch()
    assert exits(pool) == 0
    job = cli.job(job_id)
    assert (job["state"], job["attempts_log"][0]["outcome"]) == ("completed", "succeeded")
    assert cli.inline("logs", job_id) == "finished\n"
    assert cli.json("worker", "list") == []


def test_a_whole_pool_killed_leaves_no_job_running_beside_its_retry(
    cli: Cli, tmp_path: Path
) -> None:
    """kill -9 of the supervisor and its workers at once: nobody is left who knows the
    job's process group, yet the worker that recovers the job kills what is left of it
    before the retry can start."""
    short_lease(cli)
    job_id = cli.enqueue(
        "if [ -e ran ]; then echo again; else touch ran; echo $$ > sh.pid; sleep 60; fi")
    pool = cli.start_workers(1)
    first_shell = read_pid(tmp_path / "sh.pid")
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait()
    time.sleep(0.5)
    assert alive(first_shell)  # its own session: the pool's death did not reach it
    cli.start_workers(1)
    assert_group_gone(first_shell, timeout=15)
    done = cli.wait_state(job_id, "completed", timeout=30)
    assert [a["outcome"] for a in done["attempts_log"]] == ["worker_lost", "succeeded"]
    assert cli.inline("logs", job_id) == "again\n"


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0,
                    reason="needs unshare(1) and root for a PID namespace")
def test_a_pool_in_another_pid_namespace_never_takes_a_live_worker_for_dead(
    cli: Cli, tmp_path: Path
) -> None:
    """Two pools on one host name (no QUEUECTL_HOST_ID), the second in a PID namespace of
    its own, as in a container sharing the host's network: the host pool's worker pids
    do not exist there, yet its worker is alive, and its job must run on undisturbed."""
    job_id = cli.enqueue("echo $$ > sh.pid; while [ ! -e go ]; do sleep 0.05; done; echo done")
    cli.start_workers(1)
    shell = read_pid(tmp_path / "sh.pid")
    holder = holder_pid(cli, job_id)
    with open(tmp_path / "namespaced.log", "wb") as log:
        namespaced = subprocess.Popen(
            ["unshare", "--pid", "--fork", QUEUECTL, "worker", "start"], env=cli.env,
            cwd=cli.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    cli.procs.append(namespaced)
    wait_until(lambda: len(cli.json("worker", "list")) == 2, what="the second pool's worker")
    # Its worker looks for lost workers as it starts, before it claims anything: once it
    # has run a job, it has judged the host pool's worker.
    probe = cli.enqueue("true")
    ran = cli.wait_state(probe, "completed")["attempts_log"][0]["worker"]
    assert alive(shell) and cli.job(job_id)["state"] == "processing"
    (tmp_path / "go").touch()
    done = cli.wait_state(job_id, "completed", "failed", "dead")
    assert [a["outcome"] for a in done["attempts_log"]] == ["succeeded"]
    workers = {w["id"]: w for w in cli.json("worker", "list")}
    assert ran in workers and workers[ran]["host"] == next(
        w["host"] for w in workers.values() if w["pid"] == holder)  # one host name
    assert "taken for lost" not in (tmp_path / "workers-0.log").read_text()
