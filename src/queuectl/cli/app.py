"""The click group, the global --db option and the store each command opens lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from queuectl import __version__
from queuectl.app.store import Storage
from queuectl.settings import Config, redact_url, resolve_db_url, same_store, store_choice

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class CliContext:
    """What every command shares: where the store is, and the store once opened."""

    db: str | None
    _store: Storage | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The store's URL; raises UsageError for an empty --db or QUEUECTL_DB."""
        return resolve_db_url(self.db)

    def store(self, *, create: bool = False) -> Storage:
        """The store, opened once. Only commands that write pass ``create``: a store that
        --db or QUEUECTL_DB names must exist for the others, so that a mistyped path is an
        error rather than an empty queue. The default store may always be created."""
        if self._store is None:
            from queuectl.app.store import open_store

            url, named = store_choice(self.db)
            self._store = open_store(url, create=create or not named)
        return self._store

    def config(self) -> Config:
        return Config.from_stored(self.store().config_items())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_cli_context = click.make_pass_decorator(CliContext)


class ReaderGone(Exception):
    """stdout's reader went away (`queuectl list | head -1`): a normal end, exit 0.

    Deliberately not an OSError: click handles a broken pipe itself, and differently from
    one release to the next (8.1 exits 0 or 1 by timing, 8.2+ always 1), so it must never
    see one."""


class BareGroup(click.UsageError):
    """A group run without a command (`queuectl`, `queuectl worker`): its help, exit 2."""

    def __init__(self, ctx: click.Context) -> None:
        super().__init__("missing command", ctx)
        self.help = ctx.get_help()


class Group(click.Group):
    """Every command group. Bare, it raises BareGroup whatever click is installed: click 8.1
    prints the help on stdout and exits 0, 8.2+ raises its own usage error."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            raise BareGroup(ctx)
        return super().parse_args(ctx, args)


class QueuectlGroup(Group):
    """The root group: a broken pipe anywhere in parsing (help, version) or in a command
    becomes ReaderGone before click can word it."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError as exc:
            raise ReaderGone from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise ReaderGone from exc


DB_HELP = ("Store: a path, sqlite:///path or postgresql://... "
           "[env: QUEUECTL_DB; default: $QUEUECTL_HOME/queuectl.db]")


@click.group(cls=QueuectlGroup, context_settings=CONTEXT)
@click.option("--db", metavar="URL", multiple=True, help=DB_HELP)
@click.version_option(__version__, prog_name="queuectl")
@click.pass_context
def cli(ctx: click.Context, db: tuple[str, ...]) -> None:
    """queuectl: a persistent background job queue for shell commands."""
    cli_ctx = CliContext(one_store(None, db))
    ctx.obj = cli_ctx
    ctx.call_on_close(cli_ctx.close)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def register() -> None:
    """Attach every command group (each lives in its own module)."""
    from queuectl.cli import (
        config_cmd,
        control,
        cron_cmd,
        dlq,
        hooks_cmd,
        init_cmd,
        jobs,
        operator_cmd,
        queues_cmd,
        run_cmd,
        workers,
    )

    for module in (init_cmd, jobs, run_cmd, control, operator_cmd, workers, queues_cmd, dlq,
                   config_cmd, cron_cmd, hooks_cmd):
        module.register(cli)
    from queuectl.cli import extras

    extras.register(cli)
    _accept_db_after_the_command(cli)


def _accept_db_after_the_command(group: click.Group) -> None:
    """`queuectl status --db q.db` works as users type it: every command and command group
    also takes --db.

    The option is the same store choice as the global one; given in both places with
    different values, it is a usage error rather than a silent pick."""
    for command in group.commands.values():
        if isinstance(command, click.Group):  # `queuectl worker --db X list` too
            _accept_db_after_the_command(command)
        if not any("--db" in p.opts for p in command.params):
            command.params.append(click.Option(["--db"], metavar="URL", expose_value=False,
                                               multiple=True, callback=_db_after,
                                               help=DB_HELP))


def _db_after(ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> None:
    cli_ctx = ctx.find_object(CliContext)
    assert cli_ctx is not None  # the root group made it before any command parses
    cli_ctx.db = one_store(cli_ctx.db, values)


def one_store(chosen: str | None, values: tuple[str, ...]) -> str | None:
    """The one store that --db names, however often it is given (``chosen``: already
    picked before the command). Two different stores are a usage error: which one a script
    meant cannot be guessed, and the last one silently winning hides the mistake."""
    for value in values:
        if chosen is not None and not same_store(chosen, value):
            raise click.UsageError(f"--db given twice with different stores: "
                                   f"{redact_url(chosen)!r} and {redact_url(value)!r}")
        chosen = value if chosen is None else chosen
    return chosen
