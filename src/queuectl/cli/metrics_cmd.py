"""metrics: what the queue did over a window, from the attempts history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from queuectl import output
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.errors import InvalidValue, MalformedValue
from queuectl.metrics import Metrics, compute
from queuectl.models import iso, utcnow
from queuectl.timeparse import format_duration, format_relative, parse_duration, parse_instant


def since_from(text: str, now: datetime) -> datetime:
    """--since takes a duration back from now (1h, 30m, 7d) or an ISO 8601 instant.

    Text that is neither is malformed (exit 2); a duration out of range or a time in the
    future is refused (exit 1)."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except MalformedValue:
        pass
    try:
        start = parse_instant(text)
    except MalformedValue:
        raise MalformedValue(
            f"invalid --since {text!r}: use a duration like 30m, 1h, 7d or an ISO 8601 time"
        ) from None
    if start > now:
        raise InvalidValue(f"invalid --since {text!r}: it is in the future")
    return start


@click.command()
@click.option("--since", default="1h", show_default=True,
              help="Window: a duration back from now (30m, 1h, 7d) or an ISO time.")
@json_option
@pass_cli_context
def metrics(cli_ctx: CliContext, since: str, as_json: bool) -> None:
    """Completions, failures, success rate, throughput, durations and waits."""
    now = utcnow()
    start = since_from(since, now)
    store = cli_ctx.store()
    figures = compute(store.finished_attempts(start), store.dead_since(start), start, now)
    if as_json:
        output.emit_json(figures.to_dict())
        return
    render(figures)


def _secs(value: float | None) -> str:
    return "-" if value is None else format_duration(value)


def render(m: Metrics) -> None:
    rate, throughput = m.success_rate, m.throughput_per_min
    rows: list[tuple[str, Any]] = [
        ("since", f"{iso(m.since)} ({format_relative((m.since - m.until).total_seconds())})"),
        ("completed", m.completed),
        ("failed attempts", m.failed_attempts),
        ("dead", m.dead),
        ("success rate", "-" if rate is None else f"{rate:.1%}"),
        ("throughput", "-" if throughput is None else f"{throughput:.2f} jobs/min"),
        ("run time", f"avg {_secs(m.run.avg)}  p50 {_secs(m.run.p50)}  "
                     f"p95 {_secs(m.run.p95)}  max {_secs(m.run.max)}"),
        ("queue wait", f"avg {_secs(m.wait.avg)}  p95 {_secs(m.wait.p95)}"),
    ]
    output.pairs(rows)
    if m.workers:
        output.line()
        output.table(["WORKER", "COMPLETED", "FAILED ATTEMPTS"],
                     [(w.id, w.completed, w.failed_attempts) for w in m.workers])
