"""cancel, remove, wait, purge."""

from __future__ import annotations

from typing import Any

import click

from queuectl import output
from queuectl.app import control, documents
from queuectl.cli import bulk
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.cli.params import duration
from queuectl.errors import EXIT_FAILURE, EXIT_OK
from queuectl.models import FINAL_STATES, Job, State

CANCEL_ACK_TIMEOUT = 5.0  # seconds cancel waits for a running job's worker to kill it


@click.command()
@click.argument("job_ids", nargs=-1, metavar="ID...")
@bulk.bulk_options
@json_option
@pass_cli_context
def cancel(cli_ctx: CliContext, /, job_ids: tuple[str, ...], as_json: bool, every: bool,
           dry_run: bool, **filters: Any) -> None:
    """Cancel jobs: pending/failed ones never run; running ones are killed."""
    if bulk.chosen(job_ids, every, dry_run, **filters):
        bulk.run(cli_ctx, "cancel", dry_run, as_json, **filters)
        return
    store = cli_ctx.store()
    jobs = control.cancel(store, job_ids)
    # Give the workers a moment to kill what they ran, so that 'cancelled' means gone.
    for job_id in control.unconfirmed_kills(store, jobs, CANCEL_ACK_TIMEOUT):
        output.note(f"job {job_id} is cancelled; its worker has not confirmed the kill yet")
    if as_json:
        output.emit_json(documents.job_docs(jobs))
    else:
        for job in jobs:
            output.line(job.id)


@click.command()
@click.argument("job_ids", nargs=-1, metavar="ID...")
@bulk.bulk_options
@json_option
@pass_cli_context
def remove(cli_ctx: CliContext, /, job_ids: tuple[str, ...], as_json: bool, every: bool,
           dry_run: bool, **filters: Any) -> None:
    """Delete ended jobs with their attempts and output (all or none)."""
    if bulk.chosen(job_ids, every, dry_run, **filters):
        bulk.run(cli_ctx, "remove", dry_run, as_json, **filters)
        return
    removed = control.remove(cli_ctx.store(), job_ids)
    if as_json:
        output.emit_json(control.removed_doc(removed))
    else:
        for job_id in removed:
            output.line(job_id)


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
    blocked: dict[str, str] = {}

    def stuck(jobs: list[Job]) -> bool:
        blocked.update(documents.dead_blockers(store, jobs))
        return bool(blocked)

    jobs, done = documents.wait_for(lambda: documents.jobs_now(store, job_ids), timeout,
                                    stuck=stuck)
    if as_json:
        output.emit_json(documents.job_docs(jobs))
    else:
        for job in jobs:
            output.line(f"{job.id}\t{job.state}")
    if blocked:
        job_id, dead = next(iter(blocked.items()))
        output.error(f"job {job_id!r} waits for job {dead!r}, which is dead "
                     f"(`queuectl dlq retry {dead}` resumes it)")
    elif not done:
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
    deleted = control.purge(cli_ctx.store(), [State(s) for s in states], older_than)
    if as_json:
        output.emit_json({"deleted": deleted})
    else:
        output.line(f"purged {deleted} job(s)")


def register(group: click.Group) -> None:
    for command in (cancel, remove, wait, purge):
        group.add_command(command)
