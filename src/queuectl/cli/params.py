"""Option callbacks that keep the exit-code rule: a value that cannot be read as its type
is a usage error (exit 2: click's `type=int` says so); one that reads but is out of range
is refused (exit 1), like every other refused value. click's IntRange and FloatRange call
both usage errors, so options with bounds use these instead.

Callbacks rather than ParamType subclasses: ParamType is generic in recent click releases
and not in older ones, which a subclass cannot satisfy for both."""

from __future__ import annotations

from collections.abc import Callable

import click

from queuectl.errors import InvalidValue
from queuectl.specs import INT32
from queuectl.timeparse import parse_duration

IntCallback = Callable[[click.Context, click.Parameter, "int | None"], "int | None"]


def bounded(low: int, high: int = INT32) -> IntCallback:
    """For an option of `type=int`: refuse a value outside ``low``..``high`` (inclusive)."""

    def check(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise InvalidValue(
                f"invalid {option_name(param)} {value}: must be between {low} and {high}"
            )
        return value

    return check


def duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """For a duration option: seconds from "90", "30s", "5m", "1h30m", "2d" (the syntax of
    every duration queuectl reads). Text that is none is malformed; a negative or too long
    one is refused."""
    return None if value is None else parse_duration(value)


def option_name(param: click.Parameter) -> str:
    """How the user names the option, in its long form: `--limit`."""
    return max(param.opts, key=len) if param.opts else "value"
