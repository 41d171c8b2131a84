"""rerun, edit, hold, release: an operator's hands on single jobs."""

from __future__ import annotations

from typing import Any

import click

from queuectl import output, specs
from queuectl.app import control, documents
from queuectl.app import enqueue as submitting
from queuectl.cli import bulk, job_flags
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.cli.jobs import job_defaults, options_of, with_job_flags
from queuectl.cli.params import duration


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


@click.command()
@click.argument("edit_id", metavar="ID")
@click.argument("job_json", required=False, metavar="[JSON]")
@options_of(job_flags.EDIT)
@json_option
@pass_cli_context
def edit(cli_ctx: CliContext, /, edit_id: str, job_json: str | None, as_json: bool,
         env_pairs: tuple[str, ...], **flags: Any) -> None:
    """Change a pending or failed job (the fields given; -e and --tag replace the whole
    env / tag list); print its id.

    \b
      queuectl edit job1 -c 'make test' --priority 5
      queuectl edit job1 --delay 10m --tag nightly
      queuectl edit job1 '{"env": {}, "tags": []}'
    """
    given = job_defaults(flags, None, env_pairs, ())
    if job_json is not None:
        if not job_json.lstrip().startswith("{"):
            raise click.UsageError(f"extra argument {job_json!r} (a flag's value with"
                                   " spaces needs quotes: -c 'sleep 5')")
        given = specs.merge(given, specs.parse_object(job_json))
    job = submitting.edit(cli_ctx.store(), edit_id, given)
    if as_json:
        output.emit_json(job.to_dict())
    else:
        output.line(job.id)


@click.command()
@click.argument("job_ids", nargs=-1, metavar="ID...")
@bulk.bulk_options
@json_option
@pass_cli_context
def hold(cli_ctx: CliContext, /, job_ids: tuple[str, ...], as_json: bool, every: bool,
         dry_run: bool, **filters: Any) -> None:
    """Hold waiting jobs: never claimed until released (all or none)."""
    if bulk.chosen(job_ids, every, dry_run, **filters):
        bulk.run(cli_ctx, "hold", dry_run, as_json, **filters)
        return
    _print(control.hold(cli_ctx.store(), job_ids), as_json)


@click.command()
@click.argument("job_ids", nargs=-1, metavar="ID...")
@bulk.bulk_options
@json_option
@pass_cli_context
def release(cli_ctx: CliContext, /, job_ids: tuple[str, ...], as_json: bool, every: bool,
            dry_run: bool, **filters: Any) -> None:
    """Release held jobs: they run once due (all or none)."""
    if bulk.chosen(job_ids, every, dry_run, **filters):
        bulk.run(cli_ctx, "release", dry_run, as_json, **filters)
        return
    _print(control.release(cli_ctx.store(), job_ids), as_json)


@click.command()
@click.argument("delay", metavar="DURATION", callback=duration)
@pass_cli_context
def snooze(cli_ctx: CliContext, /, delay: float) -> None:
    """From inside a running job: run it again DURATION after this attempt ends, whatever
    its exit code, without spending a retry (at most config max-snoozes times).

    \b
      queuectl snooze 10m    # the data is not there yet: try again later
    """
    import os

    control.snooze(cli_ctx.store(), os.environ, delay)


def _print(jobs: list[Any], as_json: bool) -> None:
    if as_json:
        output.emit_json(documents.job_docs(jobs))
    else:
        for job in jobs:
            output.line(job.id)


def register(group: click.Group) -> None:
    for command in (rerun, edit, hold, release, snooze):
        group.add_command(command)
