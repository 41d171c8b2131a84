"""hook add/list/remove: a job enqueued when a job completes, fails, goes dead, is
cancelled or is taken back from a lost worker, or when a schedule becomes overdue or one of
its successes is flagged suspect."""

from __future__ import annotations

import click

from queuectl import output
from queuectl.app import hooks
from queuectl.cli.app import CliContext, Group, json_option, pass_cli_context


@click.group(cls=Group)
def hook() -> None:
    """Hooks: run a command when a job meets an event.

    \b
      queuectl hook add page-me --on dead -c 'notify-send "job $QUEUECTL_EVENT_JOB died"'
      queuectl hook add audit --on completed,cancelled --queue billing -c ./audit.sh
      queuectl hook add page --on overdue,suspect --cron backup -c ./page.sh
    """


@hook.command()
@click.argument("name")
@click.option("--on", "events", required=True, metavar="EVENT[,EVENT...]",
              help=f"Events: {', '.join(hooks.HOOK_EVENTS_SHOWN)}.")
@click.option("-c", "--command", "--cmd", required=True,
              help="Shell command of the hook's job (the job's JSON on stdin).")
@click.option("--queue", help="Only jobs (schedules) of this queue.")
@click.option("--cron", "cron_name", metavar="NAME", help="Only jobs of this schedule (and "
              "its overdue and suspect events).")
@click.option("--replace", is_flag=True, help="Replace a hook of the same name.")
@pass_cli_context
def add(cli_ctx: CliContext, /, name: str, events: str, command: str, queue: str | None,
        cron_name: str | None, replace: bool) -> None:
    """Add hook NAME: each time a job meets one of its events, a job running COMMAND is
    enqueued in queue `hooks`, with the job's `show --json` on its stdin and
    QUEUECTL_EVENT, QUEUECTL_EVENT_JOB in its environment (and QUEUECTL_CRON for a
    schedule's overdue and suspect events)."""
    hooks.add(cli_ctx.store(create=True), name, events, command, queue=queue,
              cron=cron_name, replace=replace)


@hook.command(name="list")
@json_option
@pass_cli_context
def list_cmd(cli_ctx: CliContext, as_json: bool) -> None:
    """The hooks."""
    found = hooks.listed(cli_ctx.store())
    if as_json:
        output.emit_json(hooks.docs(found))
        return
    output.table(["NAME", "ON", "QUEUE", "CRON", "COMMAND"],
                 [(h.name, ",".join(h.on), h.queue or "any", h.cron or "any",
                   output.truncate(h.command, 50)) for h in found])


@hook.command()
@click.argument("name")
@pass_cli_context
def remove(cli_ctx: CliContext, name: str) -> None:
    """Remove hook NAME (the jobs it enqueued stay)."""
    hooks.remove(cli_ctx.store(), name)


def register(group: click.Group) -> None:
    group.add_command(hook)
