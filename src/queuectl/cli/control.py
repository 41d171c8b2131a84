"""cancel, wait, purge."""

from __future__ import annotations

import time

import click

from queuectl import api, output
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.cli.params import duration
from queuectl.errors import EXIT_FAILURE, EXIT_OK
from queuectl.models import FINAL_STATES, Job, State

CANCEL_ACK_TIMEOUT = 5.0  # seconds cancel waits for a running job's worker to kill it


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="ID...")
@json_option
@pass_cli_context
def cancel(cli_ctx: CliContext, job_ids: tuple[str, ...], as_json: bool) -> None:
    """Cancel jobs: pending/failed ones never run; running ones are killed."""
    store = cli_ctx.store()
    jobs = store.cancel(list(job_ids))
    running = [job for job in jobs if job.started_at and job.finished_at is None]
    _await_kill(cli_ctx, running)
    if as_json:
        output.emit_json([job.to_dict() for job in jobs])
    else:
        for job in jobs:
            output.line(job.id)


def _await_kill(cli_ctx: CliContext, running: list[Job]) -> None:
    """Give the workers a moment to kill what they ran, so that 'cancelled' means gone."""
    deadline = time.monotonic() + CANCEL_ACK_TIMEOUT
    pending = {job.id for job in running}
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            attempts = cli_ctx.store().attempts(job_id)
            if not attempts or attempts[-1].finished_at is not None:
                pending.discard(job_id)
        if pending:
            time.sleep(0.05)
    for job_id in pending:
        output.note(f"job {job_id} is cancelled; its worker has not confirmed the kill yet")


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="ID...")
@click.option("--timeout", callback=duration, metavar="DURATION",
              help="Give up after this long (seconds or 30s/5m).")
@json_option
@pass_cli_context
def wait(cli_ctx: CliContext, job_ids: tuple[str, ...], timeout: float | None,
         as_json: bool) -> int:
    """Block until every job is final; exit 0 only if all completed."""
    store = cli_ctx.store()
    jobs, done = api.wait_for(lambda: api.jobs_now(store, job_ids), timeout)
    if as_json:
        output.emit_json([job.to_dict() for job in jobs])
    else:
        for job in jobs:
            output.line(f"{job.id}\t{job.state}")
    if not done:
        waiting = sum(job.state not in FINAL_STATES for job in jobs)
        output.error(f"timed out waiting for {waiting} job(s)")
    ok = done and all(job.state is State.COMPLETED for job in jobs)
    return EXIT_OK if ok else EXIT_FAILURE


@click.command()
@click.option("--state", "states", multiple=True,
              type=click.Choice([str(s) for s in sorted(FINAL_STATES)]),
              help="Only this final state (repeatable; default: all final states).")
@click.option("--older-than", callback=duration, metavar="DURATION", required=True,
              help="Finished more than this long ago: 7d, 12h.")
@json_option
@pass_cli_context
def purge(cli_ctx: CliContext, states: tuple[str, ...], older_than: float, as_json: bool) -> None:
    """Delete finished jobs with their attempts and output."""
    chosen = [State(s) for s in states] or sorted(FINAL_STATES)
    deleted = cli_ctx.store().purge(chosen, older_than)
    if as_json:
        output.emit_json({"deleted": deleted})
    else:
        output.line(f"purged {deleted} job(s)")


def register(group: click.Group) -> None:
    for command in (cancel, wait, purge):
        group.add_command(command)
