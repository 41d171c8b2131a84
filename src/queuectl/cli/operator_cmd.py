"""rerun: an operator's hands on single jobs."""

from __future__ import annotations

from typing import Any

import click

from queuectl import output
from queuectl.app import enqueue as submitting
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.cli.jobs import job_defaults, with_job_flags


@click.command()
@click.argument("rerun_id", metavar="ID")
@with_job_flags
@json_option
@pass_cli_context
def rerun(cli_ctx: CliContext, /, rerun_id: str, job_id: str | None, as_json: bool,
          env_pairs: tuple[str, ...], after: tuple[str, ...], **flags: Any) -> None:
    """A new job from an ended one (the flags given win); print its id.

    \b
      queuectl rerun job1
      queuectl rerun job1 --priority 5 --timeout 1h
    """
    given = job_defaults(flags, job_id, env_pairs, after)
    job = submitting.rerun(cli_ctx.store(), rerun_id, given)
    if as_json:
        output.emit_json(job.to_dict())
    else:
        output.line(job.id)


def register(group: click.Group) -> None:
    group.add_command(rerun)
