"""config set / get / list: stored in the store, seen by every worker without a restart."""

from __future__ import annotations

import click

from queuectl import output
from queuectl.cli.app import CliContext, Group, json_option, pass_cli_context
from queuectl.settings import KEYS, canonical_key, parse_value


@click.group(cls=Group)
def config() -> None:
    """Read and change run-time configuration."""


# A negative number is a value here, not an unknown flag: `config set backoff-max -1`
# must reach validation and be refused as out of range.
@config.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@json_option
@pass_cli_context
def set_value(cli_ctx: CliContext, key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE (validated; nothing is written when refused).

    Durations (backoff-max, job-timeout, lease-timeout) take seconds or units: 90, 5m, 1h30m.
    """
    name = canonical_key(key)
    number = parse_value(name, value)
    # Kept as a plain number (of seconds, for a duration): what every version and every
    # reader of the store understands.
    cli_ctx.store(create=True).config_set(name, str(number))
    if as_json:
        output.emit_json({name: number})
    else:
        output.line(f"{name} = {KEYS[name].show(number)}")


@config.command("get")
@click.argument("key", required=False)
@json_option
@pass_cli_context
def get_value(cli_ctx: CliContext, key: str | None, as_json: bool) -> None:
    """Print the current value of KEY (durations as 5m, 1h30m; --json: seconds). Without
    KEY, every key, as `config list`."""
    if key is None:
        show_all(cli_ctx, as_json)
        return
    name = canonical_key(key)
    value = cli_ctx.config().as_dict()[name]
    if as_json:
        output.emit_json({name: value})
    else:
        output.line(KEYS[name].show(value))


@config.command("list")
@json_option
@pass_cli_context
def list_values(cli_ctx: CliContext, as_json: bool) -> None:
    """Every key with its current value (also: config show).

    Durations are shown as 5m, 1h30m; --json gives seconds."""
    show_all(cli_ctx, as_json)


# Listed once: `show` is the same command under the name other tools use for it.
config.add_command(click.Command("show", callback=list_values.callback,
                                 params=list(list_values.params), help=list_values.help,
                                 hidden=True))


def show_all(cli_ctx: CliContext, as_json: bool) -> None:
    """Every key with its current value: a table, or one JSON object with ``as_json``."""
    values = cli_ctx.config().as_dict()
    if as_json:
        output.emit_json(values)
        return
    rows = [(k, KEYS[k].show(v), KEYS[k].show(KEYS[k].default), KEYS[k].help)
            for k, v in values.items()]
    output.table(["KEY", "VALUE", "DEFAULT", "MEANING"], rows)


def register(group: click.Group) -> None:
    group.add_command(config)
