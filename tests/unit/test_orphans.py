"""Finding a job's processes by the variables every process of a job carries."""

from __future__ import annotations

import os
import subprocess
import time

from queuectl.pool.orphans import job_groups, kill_job
from tests.helpers import wait_until


def _job(worker: str, job: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QUEUECTL_WORKER_ID": worker, "QUEUECTL_JOB_ID": job}
    return subprocess.Popen(["/bin/sh", "-c", "sleep 30 & sleep 30; wait"], env=env,
                            start_new_session=True)


def test_finds_and_kills_only_that_jobs_groups() -> None:
    mine, other_job, other_worker = _job("w-1", "j"), _job("w-1", "jj"), _job("w-2", "j")
    try:
        time.sleep(0.3)  # the shells have exec'd and started their sleeps
        assert job_groups("w-1", "j") == {mine.pid}
        assert kill_job("w-1", "j") == 1
        assert mine.wait(timeout=5) != 0
        # The background sleep dies a moment later (a killed process keeps its environment
        # until it has exited): nothing of the job is found once it has.
        wait_until(lambda: job_groups("w-1", "j") == set(), timeout=5, what="the job gone")
        assert other_job.poll() is None and other_worker.poll() is None
    finally:
        for proc in (mine, other_job, other_worker):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()


def test_nothing_found_where_there_is_no_proc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert job_groups("w-1", "j", proc=str(tmp_path / "missing")) == set()


def test_nothing_found_in_a_proc_of_another_pid_namespace(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A /proc whose numbers are not this namespace's (its `self` is not us): a process
    it lists with the job's variables is never looked up, nor killed, by that number."""
    job = _job("w-1", "j")
    try:
        entry = tmp_path / str(job.pid)
        entry.mkdir()
        (entry / "environ").write_bytes(b"QUEUECTL_WORKER_ID=w-1\0QUEUECTL_JOB_ID=j\0")
        (tmp_path / "self").symlink_to(str(job.pid))  # the number this process has there
        assert job_groups("w-1", "j", proc=str(tmp_path)) == set()
        (tmp_path / "self").unlink()
        (tmp_path / "self").symlink_to(str(os.getpid()))  # a /proc of our own: found
        assert job_groups("w-1", "j", proc=str(tmp_path)) == {job.pid}
    finally:
        os.killpg(job.pid, 9)
        job.wait()
