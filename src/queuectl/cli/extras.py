"""Commands whose stacks load only when they run: metrics and the dashboard.

The dashboard command itself is light; Starlette, uvicorn, Jinja2 and prometheus-client
are imported inside it, so `queuectl enqueue` in a loop never pays for them.
"""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from queuectl.cli.dashboard_cmd import dashboard
    from queuectl.cli.metrics_cmd import metrics

    group.add_command(metrics)
    group.add_command(dashboard)
