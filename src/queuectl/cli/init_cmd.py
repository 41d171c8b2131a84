"""init: the optional set-up step. Every command that writes creates the store anyway;
this one creates or upgrades it on purpose and says which."""

from __future__ import annotations

import click

from queuectl import output
from queuectl.cli.app import CliContext, json_option, pass_cli_context
from queuectl.settings import is_postgres, redact_url, sqlite_path


@click.command()
@json_option
@pass_cli_context
def init(cli_ctx: CliContext, as_json: bool) -> None:
    """Create the store, or upgrade it to this version's schema (optional: every command
    that writes does this too)."""
    from queuectl.app.store import schema_versions

    url = cli_ctx.url
    where = redact_url(url) if is_postgres(url) else sqlite_path(url)
    found, latest = schema_versions(url)
    cli_ctx.store(create=True)  # creates or migrates; refuses a store of a newer queuectl
    if found == 0:
        action, text = "created", f"created the store at {where} (schema {latest})"
    elif found < latest:
        action = "upgraded"
        text = f"upgraded the store at {where} from schema {found} to {latest}"
    else:
        action, text = "up to date", f"the store at {where} is up to date (schema {latest})"
    if as_json:
        output.emit_json({"store": where, "action": action, "schema": latest,
                          "previous_schema": found or None})
    else:
        output.line(text)


def register(group: click.Group) -> None:
    group.add_command(init)
