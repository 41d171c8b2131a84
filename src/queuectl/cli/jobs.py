"""enqueue, list, show, status, logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from queuectl import output
from queuectl.app import documents
from queuectl.cli import enqueue_core, follow, job_flags, reads
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.cli.params import bounded
from queuectl.models import State

STATE_CHOICE = click.Choice([str(s) for s in State])


F = TypeVar("F", bound=Callable[..., Any])

def _option(row: job_flags.Row) -> Callable[[F], F]:
    """The click option of one row of the flag table (cli/job_flags.py)."""
    names, field, param, kind, help_text = row
    if kind == "switch":
        return click.option(*names, param, is_flag=True, default=None, help=help_text)
    return click.option(*names, param, type=int if kind == "int" else None,
                        multiple=kind in ("many", "pair"), metavar=job_flags.METAVARS.get(field),
                        help=help_text)


def options_of(rows: tuple[job_flags.Row, ...]) -> Callable[[F], F]:
    """A decorator adding the click options of ``rows`` (cli/job_flags.py), in order."""
    options = [_option(row) for row in rows]

    def add(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return add


with_job_flags = options_of(job_flags.JOB)


def job_defaults(flags: dict[str, Any], job_id: str | None, env_pairs: tuple[str, ...],
                 after: tuple[str, ...]) -> dict[str, Any]:
    """The job fields the flags give (those given only)."""
    # Not given: None, a switch's False, a repeatable flag's ().
    defaults = {k: v for k, v in flags.items() if v is not None and v is not False and v != ()}
    if env_pairs:
        defaults["env"] = parse_env_pairs(env_pairs)
    if job_id is not None:
        defaults["id"] = job_id
    if after:
        defaults["after"] = list(after)
    return defaults


@click.command()
@click.argument("job_json", required=False, metavar="[JSON]")
@with_job_flags
@_option(job_flags.ENQUEUE_ONLY[0])
@_option(job_flags.ENQUEUE_ONLY[1])
@_option(job_flags.ENQUEUE_ONLY[2])
@_option(job_flags.ENQUEUE_ONLY[3])
@click.option("-f", "--file", "jobs_file", type=click.File("r", encoding="utf-8"),
              help="Bulk: JSON lines or a JSON array ('-' = stdin), all or nothing.")
@json_option
@pass_cli_context
def enqueue(cli_ctx: CliContext, /, job_json: str | None, job_id: str | None, jobs_file: Any,
            as_json: bool, env_pairs: tuple[str, ...], after: tuple[str, ...],
            **flags: Any) -> None:
    """Put shell jobs on the queue; print their ids.

    \b
      queuectl enqueue '{"id":"job1","command":"sleep 2"}'
      queuectl enqueue -c "make test" --priority 5 --timeout 10m
      queuectl enqueue --file jobs.jsonl
      queuectl enqueue -c "make deploy" --after build --after test
    """
    sources = [x for x in (job_json, flags["command"], jobs_file) if x is not None]
    if len(sources) != 1:
        if job_json is not None and not job_json.lstrip().startswith(("{", "[")):
            # `-c sleep 5`, `--delay 5 minutes`: a word the shell split off a flag's value
            raise click.UsageError(f"extra argument {job_json!r} (a flag's value with"
                                   " spaces needs quotes: -c 'sleep 5')")
        raise click.UsageError("give exactly one of: a JSON job, -c/--command, or --file")
    defaults = job_defaults(flags, job_id, env_pairs, after)
    if jobs_file is not None and "id" in defaults:
        raise click.UsageError("--id cannot be shared by the jobs of a file")
    read_file = jobs_file.read if jobs_file is not None else None
    _ = cli_ctx.url  # an empty --db or QUEUECTL_DB is refused first, as in the fast path
    enqueue_core.enqueue(lambda create: cli_ctx.store(create=create), defaults, job_json, read_file,
                         as_json)


def parse_env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """`-e KEY=VALUE` flags as a mapping (enqueue, run and cron add share them); a flag
    without `=` is a usage error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.UsageError(f"--env wants KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


@click.command("list")
@click.option("--state", type=STATE_CHOICE, help="Only jobs in this state.")
@click.option("--queue", help="Only jobs of this queue.")
@click.option("--cron", "cron_name", metavar="NAME", help="Only jobs of this schedule.")
@click.option("--tag", "tags", multiple=True, metavar="TAG",
              help="Only jobs with this tag (repeatable: every one).")
@click.option("--search", metavar="TEXT",
              help="Only jobs whose id or command holds TEXT (any case).")
@click.option("--limit", type=int, callback=bounded(0, 10**9), default=reads.LIST_LIMIT,
              show_default=True, help="At most this many (0: all).")
@json_option
@pass_cli_context
def list_cmd(cli_ctx: CliContext, state: str | None, queue: str | None, cron_name: str | None,
             tags: tuple[str, ...], search: str | None, limit: int, as_json: bool) -> None:
    """Jobs, newest first."""
    reads.list_jobs(cli_ctx.store(), state, queue, cron_name, limit, as_json, tags=tags,
                    search=search)


@click.command()
@click.argument("job_id")
@json_option
@pass_cli_context
def show(cli_ctx: CliContext, job_id: str, as_json: bool) -> None:
    """One job with its attempts log."""
    reads.show(cli_ctx.store(), job_id, as_json)


@click.command()
@json_option
@pass_cli_context
def status(cli_ctx: CliContext, as_json: bool) -> None:
    """Counts per state, scheduled jobs and active workers."""
    reads.status(cli_ctx.store(), as_json)


@click.command()
@click.argument("job_id")
@click.option("--attempt", type=int, callback=bounded(1),
              help="Attempt number (default: latest).")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Stream while the attempt runs.")
@click.option("--raw", is_flag=True,
              help="Write the bytes exactly as the job wrote them, escape sequences included "
              "(on a terminal they are shown as escapes by default; piped output is raw).")
@json_option
@pass_cli_context
def logs(cli_ctx: CliContext, job_id: str, attempt: int | None, follow_: bool, raw: bool,
         as_json: bool) -> None:
    """Captured output (stdout and stderr, in order) of a job's attempt.

    On a terminal, control characters in it (escape sequences that would retitle or clear
    the terminal) are shown as escapes, as tables show them; --raw or a pipe passes the
    bytes through unchanged."""
    store = cli_ctx.store()
    if follow_:  # a job that has not run yet is waited for
        out = documents.output_of(store, job_id, attempt) or follow.wait_for_attempt(store,
                                                                                  job_id)
    else:
        out = documents.output_ran(store, job_id, attempt)
    if as_json:
        output.emit_json(out.to_dict())
        return
    write = output.raw_output if raw else output.write_output
    if follow_:
        follow.stream(store, out, write=write)
        return
    if out.dropped:
        output.note(f"[{out.dropped} earlier bytes dropped: max-log-bytes]")
    write(out.data)


def register(group: click.Group) -> None:
    for command in (enqueue, list_cmd, show, status, logs):
        group.add_command(command)
