"""The bulk form that cancel, hold, release, remove and dlq retry share: `--all` with
filters instead of ids, `--dry-run`, and the answer (the count, or `--json`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from queuectl import output
from queuectl.app import control
from queuectl.cli.app import CliContext
from queuectl.cli.params import duration
from queuectl.models import State

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option("--all", "every", is_flag=True,
                 help="Every job the filters match, instead of ids."),
    click.option("--state", "state", type=click.Choice([str(s) for s in State]),
                 help="With --all: only jobs in this state."),
    click.option("--queue", "queue", help="With --all: only jobs of this queue."),
    click.option("--tag", "tags", multiple=True, metavar="TAG",
                 help="With --all: only jobs with this tag (repeatable: every one)."),
    click.option("--search", "search", metavar="TEXT",
                 help="With --all: only jobs whose id or command holds TEXT (any case)."),
    click.option("--older-than", "older_than", callback=duration, metavar="DURATION",
                 help="With --all: only jobs last changed longer ago than this: 1h, 7d."),
    click.option("--dry-run", is_flag=True,
                 help="With --all: print the ids it would touch; change nothing."),
)
FILTERS = ("state", "queue", "tags", "search", "older_than")


def bulk_options(command: F, *, every: bool = True) -> F:
    """The bulk form's options on ``command`` (without --all: a command that has its own)."""
    for option in reversed(_OPTIONS if every else _OPTIONS[1:]):
        command = option(command)
    return command


def filtered(dry_run: bool, **filters: Any) -> bool:
    """Whether a filter or --dry-run is given."""
    return dry_run or any(filters[name] not in (None, ()) for name in FILTERS)


def chosen(job_ids: tuple[str, ...], every: bool, dry_run: bool, **filters: Any) -> bool:
    """Whether the bulk form was asked for; a usage error for ids with --all, neither, or
    a filter (or --dry-run) without --all."""
    if bool(job_ids) == every:
        raise click.UsageError("give job ids or --all (not both)")
    if not every and filtered(dry_run, **filters):
        raise click.UsageError("--state, --queue, --tag, --search, --older-than and "
                               "--dry-run go with --all")
    return every


def run(cli_ctx: CliContext, action: str, dry_run: bool, as_json: bool,
        **filters: Any) -> None:
    """The bulk action, and its answer: the ids (--dry-run), else the count; --json:
    {"count", "ids", "skipped"}."""
    flt = control.JobFilter(filters["state"], filters["queue"], tuple(filters["tags"]),
                            filters["search"], filters["older_than"])
    done = control.bulk(cli_ctx.store(), action, flt, dry_run=dry_run)
    if as_json:
        output.emit_json(done)
    elif dry_run:
        for job_id in done["ids"]:
            output.line(job_id)
    else:
        output.line(str(done["count"]))
        if done["skipped"]:
            output.note(f"{done['skipped']} job(s) skipped: they changed meanwhile")
