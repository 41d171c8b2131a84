"""Finds and kills what is left of a job whose whole pool died.

A job runs in its own session, so it outlives its worker. When only the worker dies, its
supervisor kills the job's process group (supervisor.py). When the supervisor dies too
(`kill -9` of the whole pool, an OOM kill of the group), nobody knows the group any more,
and the recovered job would be retried while its first attempt still runs. Every process
of a job carries QUEUECTL_WORKER_ID and QUEUECTL_JOB_ID in its environment (worker.py), so
whoever recovers the job on the same machine finds them in /proc and kills their process
groups. Nothing is written per job for this: the scan runs only on a recovery.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal

from queuectl.models import Job

PROC = "/proc"


log = logging.getLogger("queuectl.worker")


def job_groups(worker_id: str, job_id: str, proc: str = PROC) -> set[int]:
    """Process groups holding a process of job ``job_id`` as run by ``worker_id``, on this
    machine (empty where /proc is not there). The environment of a process is read as it
    was at exec; a process that dropped both variables is not found."""
    wanted = (f"\0QUEUECTL_WORKER_ID={worker_id}\0".encode(),
              f"\0QUEUECTL_JOB_ID={job_id}\0".encode())
    own = os.getpgid(0)
    groups: set[int] = set()
    if not _numbers_ours(proc):
        return groups
    try:
        names = os.listdir(proc)
    except OSError:
        return groups
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "environ"), "rb") as f:
                env = b"\0" + f.read()
            if all(marker in env for marker in wanted):
                groups.add(os.getpgid(int(name)))
        except OSError:  # gone meanwhile, a zombie, or another user's
            continue
    groups.discard(own)
    return groups


def _numbers_ours(proc: str) -> bool:
    """``proc`` numbers processes as this process's PID namespace does. A pool started in a
    PID namespace of its own without its own /proc mount (`unshare --pid --fork`) reads the
    parent namespace's, where a number names another process than it does here: killing
    by it could hit anything."""
    try:
        return os.readlink(os.path.join(proc, "self")) == str(os.getpid())
    except OSError:
        return False


def kill_job(worker_id: str, job_id: str) -> int:
    """SIGKILL every process group of the job left running by ``worker_id``; how many."""
    groups = job_groups(worker_id, job_id)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return len(groups)


def kill_orphaned(job: Job) -> None:
    """Before a recovered job goes back in the queue (recovery.recover_stale's ``kill``):
    kill what still runs of it on this machine, and say so."""
    if job.worker and (killed := kill_job(job.worker, job.id)):
        log.warning("killed %d process group(s) of job %s left running by lost worker %s",
                    killed, job.id, job.worker,
                    extra={"event": "orphan_killed", "job": job.id, "lost_worker": job.worker})
