"""config set / get / list: stored in the store, seen by every worker without a restart."""

from __future__ import annotations

import click

from queuectl import output
from queuectl.cli.app import Env, Group, json_option, pass_env
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
@pass_env
def set_value(env: Env, key: str, value: str, as_json: bool) -> None:
    """Set KEY to VALUE (validated; nothing is written when refused)."""
    name = canonical_key(key)
    number = parse_value(name, value)
    env.store().config_set(name, str(number))
    if as_json:
        output.emit_json({name: number})
    else:
        output.line(f"{name} = {number}")


@config.command("get")
@click.argument("key")
@json_option
@pass_env
def get_value(env: Env, key: str, as_json: bool) -> None:
    """Print the current value of KEY."""
    name = canonical_key(key)
    value = env.config().as_dict()[name]
    if as_json:
        output.emit_json({name: value})
    else:
        output.line(str(value))


@config.command("list")
@json_option
@pass_env
def list_values(env: Env, as_json: bool) -> None:
    """Every key with its current value."""
    values = env.config().as_dict()
    if as_json:
        output.emit_json(values)
        return
    output.table(["KEY", "VALUE", "DEFAULT", "MEANING"],
                 [(k, v, KEYS[k].default, KEYS[k].help) for k, v in values.items()])  # fmt: skip


def register(group: click.Group) -> None:
    group.add_command(config)
