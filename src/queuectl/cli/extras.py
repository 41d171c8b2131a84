"""Commands whose stacks load only when they run: metrics and the dashboard."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Nothing yet: metrics and dashboard arrive with their own modules."""
