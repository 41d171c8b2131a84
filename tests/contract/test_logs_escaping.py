"""`logs` on a terminal shows a job's escape sequences and other control characters as
escapes, as tables do (a job cannot retitle or clear the terminal of whoever reads its
output); piped, or with --raw, it writes the bytes the job wrote. `--follow` alike."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from queuectl.cli.entry import main
from queuectl.models import AttemptResult, Job, JobSpec, Outcome, WorkerInfo, utcnow
from queuectl.retry import NextStep, after_failure
from queuectl.storage.base import Storage
from queuectl.storage.liveness import HOST_ID
from queuectl.transitions import after_attempt

# A job that retitles the terminal's window and clears its screen, then says hello.
HOSTILE = b"\x1b]0;pwned\x07\x1b[2Jhello\tthere\r\n\xffend\n"
HOSTILE_SHOWN = "\\x1b]0;pwned\\x07\\x1b[2Jhello\tthere\r\n\ufffdend\n"


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


@pytest.fixture
def hostile_job(store: Storage) -> Iterator[str]:
    """A finished job whose output holds escape sequences."""
    store.enqueue([JobSpec(command="true", id="h", max_retries=0)])
    now = utcnow()
    store.register_worker(WorkerInfo("w", HOST_ID, os.getpid(), "idle", None, now, now))
    job = store.claim("w")
    assert job is not None
    hostile = AttemptResult(Outcome.SUCCEEDED, 0, None, HOSTILE)
    store.finish(job, "w", hostile, after_attempt(job, hostile, policy))
    yield "h"


def logs(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
         db_url: str, *args: str, tty: bool) -> bytes:
    """What `logs ARGS` writes to stdout, a terminal (``tty``) or a pipe."""
    capsysbinary.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(sys.stdout, "isatty", lambda: tty)
        assert main(["--db", db_url, "logs", *args]) == 0
    return capsysbinary.readouterr().out


@pytest.mark.parametrize("follow", [[], ["--follow"]])
def test_logs_on_a_terminal_show_escapes_as_tables_do(
    hostile_job: str, db_url: str, capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch, follow: list[str],
) -> None:
    shown = logs(capsysbinary, monkeypatch, db_url, hostile_job, *follow, tty=True)
    assert shown == HOSTILE_SHOWN.encode()
    raw = logs(capsysbinary, monkeypatch, db_url, hostile_job, "--raw", *follow, tty=True)
    assert raw == HOSTILE


@pytest.mark.parametrize("follow", [[], ["--follow"]])
def test_piped_logs_are_the_bytes_the_job_wrote(
    hostile_job: str, db_url: str, capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch, follow: list[str],
) -> None:
    assert logs(capsysbinary, monkeypatch, db_url, hostile_job, *follow, tty=False) == HOSTILE
