"""cron add/list/show/remove/pause/resume/run: recurring jobs.

Everything a user typed is checked before the store is opened (name, schedule, zone, and
the job flags through the same path `enqueue` takes), so bad input writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from queuectl import output, specs
from queuectl.app import control, documents
from queuectl.cli.app import CliContext, Group, json_option, pass_cli_context
from queuectl.cli.jobs import parse_env_pairs
from queuectl.errors import MalformedValue
from queuectl.localzone import local_zone_name
from queuectl.models import JobSpec, iso, utcnow
from queuectl.recurring import Cron, CronSpec, check_name
from queuectl.schedules import CatchUp, Overlap, parse_schedule, zone
from queuectl.settings import Config
from queuectl.timeparse import format_duration, format_relative, parse_duration, parse_instant

RECENT_JOBS = 10  # jobs `cron show` lists
SHOWN_SKIPS = 20  # skipped ticks `cron show` lists


@click.group(cls=Group)
def cron() -> None:
    """Recurring jobs: a schedule enqueues one job per tick, on any number of pools.

    \b
      queuectl cron add backup '0 2 * * *' -c 'backup.sh' --tz Europe/Berlin
      queuectl cron add ping 'every 30s' -c 'curl -fsS https://example.com/health'
    """


@cron.command()
@click.argument("name")
@click.argument("schedule")
@click.option("-c", "--command", "--cmd", required=True, help="Shell command each tick runs.")
@click.option("--tz", help="IANA time zone of the schedule [default: this machine's].")
@click.option("--overlap", type=click.Choice([str(o) for o in Overlap]), default="skip",
              show_default=True,
              help="skip: no new job while the previous one is unfinished; replace: cancel "
              "it (killing it if it runs) for the new one; allow: run both.")
@click.option("--catch-up", type=click.Choice([str(c) for c in CatchUp]), default="latest",
              show_default=True,
              help="After downtime: one job for the latest missed tick, or none.")
@click.option("--jitter", metavar="DUR",
              help="Each tick's job is due up to DUR after the tick (the same on every host).")
@click.option("--alert-after", metavar="DUR",
              help="Overdue when no run has succeeded for DUR (cron list, /metrics).")
@click.option("--replace", is_flag=True, help="Replace a schedule of the same name.")
@click.option("-p", "--priority", type=int, help="Higher runs first (default 0).")
@click.option("--max-retries", type=int, help="Retries after the first attempt [config].")
@click.option("--timeout", help="Attempt time limit: seconds or 30s/5m/1h [config].")
@click.option("--queue", help="Named queue (default: default).")
@click.option("--cwd", help="Directory to run in (default: the current one).")
@click.option("-e", "--env", "env_pairs", multiple=True, metavar="KEY=VALUE",
              help="Environment variable for the jobs (repeatable).")
@click.option("--success-exit", metavar="CODES", help="These exit codes count as success too.")
@click.option("--no-retry-exit", metavar="CODES",
              help="These exit codes go to the DLQ at once, without retries.")
@click.option("--deadline", metavar="DURATION",
              help="Each job's wall time from its first start over all attempts.")
@click.option("--expires", metavar="DURATION",
              help="A tick's job not started this long after it fired never starts.")
@json_option
@pass_cli_context
def add(cli_ctx: CliContext, /, name: str, schedule: str, tz: str | None, overlap: str,
        catch_up: str, jitter: str | None, alert_after: str | None, replace: bool,
        env_pairs: tuple[str, ...], as_json: bool, **flags: Any) -> None:
    """Add a schedule: a cron expression ('*/5 * * * *', '0 2 * * mon-fri'), a macro
    (@hourly, @daily, @weekly, @monthly, @yearly) or 'every DUR' ('every 30s')."""
    check_name(name)
    parsed = parse_schedule(schedule)
    tz_name = tz if tz is not None else local_zone_name()
    zone(tz_name)
    jitter_s = parse_duration(jitter) or None if jitter is not None else None
    alert_s = parse_duration(alert_after) or None if alert_after is not None else None
    fields = {k: v for k, v in flags.items() if v is not None}
    if env_pairs:
        fields["env"] = parse_env_pairs(env_pairs)
    # The limits a schedule leaves open are the config's when each tick fires; checked
    # here against the defaults, as `enqueue` checks them.
    expires = fields.pop("expires", None)  # a duration after each tick, not a time
    job = specs.build_spec(fields, Config.from_stored({}), specs.current_dir())
    spec = CronSpec(
        name=name, schedule=parsed.text, tz=tz_name, command=job.command,
        overlap=Overlap(overlap), catch_up=CatchUp(catch_up),
        max_retries=job.max_retries if "max_retries" in fields else None,
        priority=job.priority, timeout=job.timeout if "timeout" in fields else None,
        queue=job.queue, cwd=job.cwd, env=job.env, jitter=jitter_s,
        alert_after=alert_s,
        policies=_policies(job, None if expires is None else _positive_duration(expires)),
    )
    added = cli_ctx.store(create=True).cron_add(spec, replace=replace)
    if as_json:
        output.emit_json(added.to_dict())
        return
    output.line(added.name)
    output.note(f"next run: {_next_run(added)}")


@cron.command("list")
@json_option
@pass_cli_context
def list_cmd(cli_ctx: CliContext, as_json: bool) -> None:
    """Every schedule: next run, last job and its state."""
    found = documents.schedules(cli_ctx.store())
    if as_json:
        output.emit_json([c.to_dict() for c in found])
        return
    words = output.is_tty()  # in words on a terminal; scripts get the expression alone
    alerts = any(c.spec.alert_after or c.suspect for c in found)
    headers = ["NAME", "SCHEDULE", *(["WHEN"] if words else []), "TZ", "NEXT RUN", "LAST JOB",
               "STATE", "PAUSED", "SKIPPED", *(["ALERT"] if alerts else [])]
    rows = [
        (c.name, c.spec.schedule, *([c.spec.parsed.describe()] if words else []), c.spec.tz,
         _next_run(c), c.last_job or "", c.last_state or "", "yes" if c.paused else "no",
         c.skipped, *([_alert(c)] if alerts else []))
        for c in found
    ]
    output.table(headers, rows, state_col=6 if words else 5)


@cron.command()
@click.argument("name")
@json_option
@pass_cli_context
def show(cli_ctx: CliContext, name: str, as_json: bool) -> None:
    """One schedule with its recent jobs (newest first) and skipped ticks."""
    store = cli_ctx.store()
    found = store.cron_get(name)
    jobs = store.list_jobs(cron=name, limit=RECENT_JOBS)
    skips = store.cron_skipped(name, SHOWN_SKIPS)
    suspects = store.cron_suspects(name, SHOWN_SKIPS)
    why = dict(suspects)
    if as_json:
        output.emit_json({
            **found.to_dict(),
            "recent_jobs": [{**j.to_dict(), "suspect": why.get(j.id)} for j in jobs],
            "skipped_ticks": [iso(t) for t in skips],
            "suspect_jobs": [{"job": job_id, "suspect": reason} for job_id, reason in suspects],
        })
        return
    spec = found.spec
    output.pairs([
        ("name", spec.name), ("schedule", _in_words(spec.schedule, spec.parsed.describe())),
        ("tz", spec.tz), ("command", spec.command), ("next run", _next_run(found)),
        ("paused", "yes" if found.paused else "no"), ("overlap", spec.overlap),
        ("catch-up", spec.catch_up),
        *([("jitter", format_duration(spec.jitter))] if spec.jitter else []),
        *([("alert after", format_duration(spec.alert_after)),
           ("last success", iso(found.last_success_at) or "never"),
           ("overdue", "OVERDUE" if found.overdue else "no")] if spec.alert_after else []),
        ("queue", spec.queue), ("cwd", spec.cwd),
        ("skipped", found.skipped),
    ])
    output.line()
    output.table(["JOB", "STATE", "EXIT", "FINISHED"],
                 [(j.id, j.state, "" if j.exit_code is None else j.exit_code,
                   iso(j.finished_at) or "") for j in jobs], state_col=1)
    if skips:
        output.line()
        output.line("skipped ticks (the previous job was unfinished):")
        for tick in skips:
            output.line(f"  {iso(tick)}")
    if suspects:
        output.line()
        output.line(f"suspect successes ({found.suspects} in all):")
        for job_id, reason in suspects:
            output.line(f"  {job_id}: {reason}")


@cron.command()
@click.argument("name")
@click.option("--from", "start", required=True, metavar="WHEN",
              help="First tick: an ISO 8601 time, or a duration back from now (3d).")
@click.option("--to", "end", required=True, metavar="WHEN",
              help="Last tick: an ISO 8601 time, or a duration back from now (0s: now).")
@json_option
@pass_cli_context
def backfill(cli_ctx: CliContext, name: str, start: str, end: str, as_json: bool) -> None:
    """Enqueue the ticks from --from to --to that have no job yet (at most 1,000 ticks);
    print the new ids."""
    now = utcnow()
    first, last = when_from("--from", start, now), when_from("--to", end, now)
    made = control.cron_backfill(cli_ctx.store(), name, first, last, now)
    if as_json:
        output.emit_json(made)
        return
    for job_id in made:
        output.line(job_id)
    output.note(f"{len(made)} job{'' if len(made) == 1 else 's'} enqueued")


def when_from(flag: str, text: str, now: datetime) -> datetime:
    """A WHEN: a duration back from ``now`` (1h, 3d) or an ISO 8601 time. Text that is
    neither is malformed (exit 2)."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except MalformedValue:
        pass
    try:
        return parse_instant(text)
    except MalformedValue:
        raise MalformedValue(f"invalid {flag} {text!r}: use an ISO 8601 time or a duration "
                             "back from now like 3d") from None


@cron.command()
@click.argument("name")
@pass_cli_context
def remove(cli_ctx: CliContext, name: str) -> None:
    """Delete a schedule (its jobs stay)."""
    control.cron_remove(cli_ctx.store(), name)
    output.note(f"schedule {name!r} removed")


@cron.command()
@click.argument("name")
@pass_cli_context
def pause(cli_ctx: CliContext, name: str) -> None:
    """Stop firing ticks until resumed."""
    control.cron_paused(cli_ctx.store(), name, True)
    output.note(f"schedule {name!r} paused")


@cron.command()
@click.argument("name")
@pass_cli_context
def resume(cli_ctx: CliContext, name: str) -> None:
    """Fire ticks again from the next one (missed ticks are not run)."""
    resumed = control.cron_paused(cli_ctx.store(), name, False)
    output.note(f"schedule {name!r} resumed; next run: {_next_run(resumed)}")


@cron.command("run")
@click.argument("name")
@json_option
@pass_cli_context
def run_now(cli_ctx: CliContext, name: str, as_json: bool) -> None:
    """Enqueue one job of the schedule now, outside its ticks; print its id."""
    job = control.cron_run(cli_ctx.store(), name)
    if as_json:
        output.emit_json(job.to_dict())
    else:
        output.line(job.id)


def _alert(found: Cron) -> str:
    """The ALERT column: OVERDUE, SUSPECT (its latest success), or "ok" for a schedule
    with --alert-after."""
    if found.overdue:
        return "OVERDUE"
    if found.suspect:
        return "SUSPECT"
    return "ok" if found.spec.alert_after else ""


def _next_run(found: Cron) -> str:
    if found.paused:
        return "paused"
    if found.next_run_at is None:
        return "never"
    when = format_relative((found.next_run_at - utcnow()).total_seconds())
    return f"{iso(found.next_run_at)} ({when})"


def register(group: click.Group) -> None:
    group.add_command(cron)


def _positive_duration(text: str) -> float:
    """--expires of a schedule: a duration after each tick, more than 0."""
    from queuectl.errors import InvalidValue
    from queuectl.timeparse import parse_duration

    seconds = parse_duration(text)
    if seconds <= 0:
        raise InvalidValue(f"invalid expires {text!r}: must be more than 0 seconds")
    return seconds


def _policies(job: JobSpec, expires: float | None = None) -> dict[str, Any] | None:
    """The policies the flags gave, as their JSON keys (None: none); ``expires``: seconds
    after each tick."""
    given: dict[str, Any] = {}
    if expires is not None:
        given["expires"] = expires
    if job.success_exit:
        given["success_exit"] = list(job.success_exit)
    if job.no_retry_exit:
        given["no_retry_exit"] = list(job.no_retry_exit)
    if job.deadline is not None:
        given["deadline"] = job.deadline
    return given or None


def _in_words(schedule: str, words: str) -> str:
    """The schedule as written, and in words when they say more ("every 5s" says it all)."""
    return schedule if words == schedule else f"{schedule} ({words})"
