"""`queuectl run`: enqueue one job and follow it as if it ran here.

Each attempt's output is streamed as the worker saves it (cli/follow.py: the store only, so
it works from another machine sharing a PostgreSQL store), a line on stderr says why an
attempt failed and when the next one starts, and the exit code is the job's outcome as a
shell would report the command's. One Ctrl-C cancels the job (its worker kills it if it
runs) and exits 130; SIGTERM and SIGHUP do the same (exit 143, 129).
"""

from __future__ import annotations

import shlex
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from queuectl import output, submit
from queuectl.app import control
from queuectl.app import enqueue as submitting
from queuectl.app.store import Storage
from queuectl.cli import follow
from queuectl.cli.app import CliContext, pass_cli_context
from queuectl.cli.jobs import job_defaults, with_job_flags
from queuectl.errors import EXIT_FAILURE, EXIT_OK, QueuectlError
from queuectl.models import FINAL_STATES, Attempt, Job, Outcome, State, utcnow
from queuectl.timeparse import format_duration

RUN_POLL = 0.1  # seconds between reads of the store while following the job
EXIT_TIMED_OUT = 124  # as timeout(1) reports a command it stopped
EXIT_SIGNAL_BASE = 128  # a shell reports a command killed by signal N as 128 + N


@click.command(context_settings={"allow_interspersed_args": False})
@click.argument("argv", nargs=-1, metavar="[-- COMMAND [ARGS]...]")
@with_job_flags
@pass_cli_context
def run(cli_ctx: CliContext, /, argv: tuple[str, ...], job_id: str | None,
        env_pairs: tuple[str, ...], after: tuple[str, ...], **flags: Any) -> int:
    """Run a command on the workers and follow it here: its output as it runs, a line per
    retry on stderr, its exit code. Ctrl-C cancels it.

    \b
      queuectl run -c "make test"
      queuectl run --timeout 10m --max-retries 2 -- ./deploy.sh "staging env"
    """
    if flags["command"] is None and not argv:
        raise click.UsageError("give the command to run: -c CMD, or after --")
    if flags["command"] is not None and argv:
        raise click.UsageError("give the command as -c CMD or after --, not both")
    defaults = job_defaults(flags, job_id, env_pairs, after)
    if argv:
        defaults["command"] = shlex.join(argv)
    # Refused before a missing store is made, as `enqueue` is.
    batch, store = submitting.checked(lambda create: cli_ctx.store(create=create),
                                      lambda fallback: submit.single(defaults, fallback))
    [job] = submitting.insert(store, batch)
    if not store.stats().workers_active:
        output.note(f"queuectl: job {job.id} waits for a worker (none is running on this store)")
    try:
        with _terminations_interrupt():
            return follow_job(store, job.id)
    except KeyboardInterrupt:
        return _cancel(store, job.id, signal.SIGINT)
    except Terminated as stop:
        return _cancel(store, job.id, stop.signum)


def follow_job(store: Storage, job_id: str) -> int:
    """Stream every attempt of the job until it is final; its exit code (see exit_code)."""
    number = 0
    while True:
        job = _get(store, job_id)
        if job.last_attempt > number:  # an attempt has started since the last one we showed
            number += 1
            # As if it ran here: the user's own command writes to this terminal unescaped.
            follow.stream(store, follow.wait_for_attempt(store, job_id, number, RUN_POLL),
                          RUN_POLL, write=output.raw_output)
            job = _get(store, job_id)
            if job.state not in FINAL_STATES and job.last_attempt == number:
                output.note(f"--- attempt {number} ({_why(job)}), {_when(job)}")
            continue
        if job.state in FINAL_STATES:
            return _outcome(store, job)
        time.sleep(RUN_POLL)


def _get(store: Storage, job_id: str) -> Job:
    job = store.get_job(job_id)
    if job is None:  # purged under us
        raise QueuectlError(f"job {job_id!r} is gone")
    return job


def _why(job: Job) -> str:
    return job.last_error or "ended"


def _when(job: Job) -> str:
    seconds = (job.run_at - utcnow()).total_seconds()
    if seconds <= 0:
        return "retrying now"
    return f"retrying in {format_duration(max(1, round(seconds)))}"


def _outcome(store: Storage, job: Job) -> int:
    if job.state is State.COMPLETED:
        return EXIT_OK
    if job.state is State.CANCELLED:
        output.error(f"job {job.id} was cancelled ({job.last_error or 'by a user'})")
        return EXIT_FAILURE
    attempts = store.attempts(job.id)
    code = exit_code(attempts[-1]) if attempts else EXIT_FAILURE
    output.note(f"queuectl: job {job.id} is dead after {job.attempts} attempt(s): {_why(job)}")
    return code


def exit_code(attempt: Attempt) -> int:
    """The attempt's end as a shell reports a command's: its exit code; 128+N when killed
    by signal N; 124 when it timed out; 1 when it never started (or its worker was lost)."""
    if attempt.outcome is Outcome.FAILED and attempt.exit_code is not None:
        return attempt.exit_code
    if attempt.outcome is Outcome.TIMED_OUT:
        return EXIT_TIMED_OUT
    if attempt.outcome is Outcome.KILLED:
        return EXIT_SIGNAL_BASE + _signal_number(attempt.error or "")
    if attempt.outcome is Outcome.SUCCEEDED:
        return EXIT_OK
    return EXIT_FAILURE


def _signal_number(error: str) -> int:
    """The signal named in "killed by signal SIGKILL" (the runner's words); SIGKILL when
    none is named (the worker killed the process group itself)."""
    name = error.rsplit(" ", 1)[-1]
    try:
        return int(signal.Signals[name])
    except KeyError:
        return int(name) if name.isdigit() else int(signal.SIGKILL)


class Terminated(Exception):
    """`run` was told to end (SIGTERM: a CI timeout, `kill`; SIGHUP: its terminal closed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Signals that end `run` as Ctrl-C does: the job is not left behind on the workers.
TERMINATIONS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def _terminations_interrupt() -> Iterator[None]:
    """While following, SIGTERM and SIGHUP raise Terminated (the handler only raises: the
    cancel is done outside it)."""

    def stop(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, stop) for sig in TERMINATIONS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _cancel(store: Storage, job_id: str, signum: int) -> int:
    """Ctrl-C, SIGTERM or SIGHUP: the job is cancelled, and `run` exits as a shell reports a
    command ended by that signal (130 for Ctrl-C). Further signals meanwhile are ignored:
    one is enough."""
    ignored = (signal.SIGINT, *TERMINATIONS)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in ignored}
    try:
        try:
            control.cancel(store, [job_id])
            output.note(f"queuectl: cancelled job {job_id}")
        except QueuectlError as exc:  # already final: nothing to cancel
            output.note(f"queuectl: {exc}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_SIGNAL_BASE + signum


def register(group: click.Group) -> None:
    group.add_command(run)
