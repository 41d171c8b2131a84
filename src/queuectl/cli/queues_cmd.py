"""queue list / pause / resume / limit: the queue settings an operator changes."""

from __future__ import annotations

import click

from queuectl import output
from queuectl.app import control, documents
from queuectl.cli.app import CliContext, Group, json_option, pass_cli_context
from queuectl.models import QueueChange, QueueSettings, State


@click.group(cls=Group)
def queue() -> None:
    """Queues: pause, resume, limit how many of their jobs run at once or start per time."""


@queue.command("list")
@json_option
@pass_cli_context
def list_queues(cli_ctx: CliContext, as_json: bool) -> None:
    """Every queue that has jobs or settings: counts per state, running, paused, limit."""
    infos = documents.queues(cli_ctx.store())
    if as_json:
        output.emit_json([info.to_dict() for info in infos])
        return
    # PROCESSING is the jobs running now (the JSON's "running" too): one column, not two.
    states = [str(s) for s in State]
    rows = [
        (info.name, *(info.counts[s] for s in states),
         "paused" if info.paused else "", "-" if info.limit is None else info.limit,
         "-" if info.rate is None else str(info.rate),
         "-" if info.window is None else
         f"{info.window} {info.window_tz} ({'open' if info.open else 'closed'})")
        for info in infos
    ]
    headers = ["QUEUE", *(s.upper() for s in states), "PAUSED", "LIMIT", "RATE", "WINDOW"]
    output.table(headers, rows)


@queue.command()
@click.argument("name")
@json_option
@pass_cli_context
def pause(cli_ctx: CliContext, name: str, as_json: bool) -> None:
    """No worker anywhere claims from queue NAME; running jobs finish."""
    pause_it = control.queue_action(name, "pause")  # checked before the store is made
    change = pause_it(cli_ctx.store(create=True))
    if not change.known:  # legitimate (paused before its jobs come), but maybe a typo
        output.note(f"queuectl: queue {name!r} has no jobs yet; paused for the jobs to come")
    _report(change, as_json, "paused" if not change.before.paused else "already paused")


@queue.command()
@click.argument("name")
@json_option
@pass_cli_context
def resume(cli_ctx: CliContext, name: str, as_json: bool) -> None:
    """Workers claim from queue NAME again."""
    resume_it = control.queue_action(name, "resume")
    change = resume_it(cli_ctx.store(create=True))
    if not change.known:
        what = "unknown queue (no jobs, no settings): nothing to resume"
    elif not change.before.paused:
        what = "was not paused"
    else:
        what = "resumed"
    _report(change, as_json, what)


# "-1" must reach the command as a value (refused as out of range, exit 1), not be taken
# for an unknown option (a usage error).
@queue.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("limit", metavar="N|none")
@json_option
@pass_cli_context
def limit(cli_ctx: CliContext, name: str, limit: str, as_json: bool) -> None:
    """At most N jobs of queue NAME run at once across every worker and host (`none`
    removes the limit; 0 holds every job back without pausing)."""
    limit_it = control.queue_action(name, "limit", limit)
    change = limit_it(cli_ctx.store(create=True))
    value = change.after.limit
    what = "no limit" if value is None else f"limit {value}"
    _report(change, as_json, what)


@queue.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("rate", metavar="N/DURATION|none")
@json_option
@pass_cli_context
def rate(cli_ctx: CliContext, name: str, rate: str, as_json: bool) -> None:
    """At most N jobs of queue NAME start in any window of DURATION across every worker
    and host (100/1m, 5/1s; `none` removes the rate)."""
    rate_it = control.queue_action(name, "rate", rate)
    change = rate_it(cli_ctx.store(create=True))
    value = change.after.rate
    _report(change, as_json, "no rate" if value is None else f"rate {value}")


@queue.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("spec", nargs=-1, required=True, metavar="[DAYS] HH:MM-HH:MM|none")
@click.option("--tz", "tz", metavar="ZONE",
              help="IANA zone of the window's times (default: this machine's).")
@json_option
@pass_cli_context
def window(cli_ctx: CliContext, name: str, spec: tuple[str, ...], tz: str | None,
           as_json: bool) -> None:
    """Jobs of queue NAME start only inside the window (22:00-06:00, mon-fri 09:00-17:00,
    sat,sun 00:00-24:00; one that ends before it starts wraps midnight; `none` removes it).
    Running jobs are not stopped when it closes."""
    window_it = control.queue_action(name, "window", " ".join(spec), tz)
    change = window_it(cli_ctx.store(create=True))
    after = change.after
    what = "no window" if after.window is None else f"window {after.window} {after.window_tz}"
    _report(change, as_json, what)


def _report(change: QueueChange, as_json: bool, what: str) -> None:
    if as_json:
        output.emit_json(control.queue_doc(change.after))
        return
    output.line(f"queue {change.after.name}: {what}")


def queue_settings_note(settings: list[QueueSettings]) -> str | None:
    """One line for `status` and `worker list`: paused queues and limits; None if none."""
    paused = [q.name for q in settings if q.paused]
    limits = [f"{q.name}={q.limit}" for q in settings if q.limit is not None]
    rates = [f"{q.name}={q.rate}" for q in settings if q.rate is not None]
    windows = [f"{q.name}={q.window} {q.window_tz}" for q in settings if q.window is not None]
    parts = []
    if paused:
        parts.append("paused queues: " + ", ".join(paused))
    if limits:
        parts.append("limits: " + ", ".join(limits))
    if rates:
        parts.append("rates: " + ", ".join(rates))
    if windows:
        parts.append("windows: " + ", ".join(windows))
    return "; ".join(parts) or None


def register(group: click.Group) -> None:
    group.add_command(queue)
