"""dlq list / retry: the dead-letter queue."""

from __future__ import annotations

import functools
from typing import Any

import click

from queuectl import output
from queuectl.app import control, documents
from queuectl.cli import bulk
from queuectl.cli.app import CliContext, Group, json_option, pass_cli_context
from queuectl.cli.params import bounded
from queuectl.cli.reads import render_jobs
from queuectl.models import State


@click.group(cls=Group)
def dlq() -> None:
    """The dead-letter queue: jobs that exhausted their retries."""


@dlq.command("list")
@click.option("--limit", type=int, callback=bounded(0, 10**9), default=0,
              help="At most this many (0: all).")
@json_option
@pass_cli_context
def list_dead(cli_ctx: CliContext, limit: int, as_json: bool) -> None:
    """Dead jobs, newest first."""
    render_jobs(documents.list_jobs(cli_ctx.store(), State.DEAD, limit=limit or None), as_json)


@dlq.command()
@click.argument("job_ids", nargs=-1, metavar="ID...")
@functools.partial(bulk.bulk_options, every=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead job.")
@json_option
@pass_cli_context
def retry(cli_ctx: CliContext, /, job_ids: tuple[str, ...], retry_all: bool, as_json: bool,
          dry_run: bool, **filters: Any) -> None:
    """Dead jobs back to pending, attempts reset, due now."""
    if bulk.chosen(job_ids, retry_all, dry_run, **filters) and bulk.filtered(dry_run,
                                                                              **filters):
        bulk.run(cli_ctx, "retry", dry_run, as_json, **filters)
        return
    jobs = control.retry_dead(cli_ctx.store(), None if retry_all else job_ids)
    if as_json:
        output.emit_json(documents.job_docs(jobs))
    else:
        for job in jobs:
            output.line(job.id)
        if retry_all:
            output.note(f"{len(jobs)} job(s) back to pending")
    if retry_all and (left := control.dead_left(cli_ctx.store())):
        # Dead jobs whose unique key another job holds now (one per key came back).
        output.note(f"{left} dead job(s) stay: another job holds their unique key")


def register(group: click.Group) -> None:
    group.add_command(dlq)
