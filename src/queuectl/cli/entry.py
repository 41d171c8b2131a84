"""The console script: run the click app, turning every failure into one line and a code."""

from __future__ import annotations

import os
import sys

from queuectl.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, QueuectlError


def main(argv: list[str] | None = None) -> int:
    from queuectl.cli import fastpath

    fast = fastpath.run(sys.argv[1:] if argv is None else argv)
    if fast is not None:  # a plain `enqueue`, done without importing click (see fastpath)
        return fast
    import click

    from queuectl import output
    from queuectl.cli.app import BareGroup, ReaderGone, cli, register

    register()
    try:
        code = cli.main(args=argv, prog_name="queuectl", standalone_mode=False)
    except ReaderGone:
        return reader_gone()
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BareGroup as exc:
        sys.stderr.write(exc.help + "\n")  # bare `queuectl`: the help, as is
        return EXIT_USAGE
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "queuectl"
        output.error(f"{exc.format_message().rstrip('.')} (see '{command} --help')")
        return EXIT_USAGE
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        output.error(exc.format_message())
        return exc.exit_code
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - never a traceback
        return failure_code(exc)
    return code if isinstance(code, int) else 0


def failure_code(exc: BaseException) -> int:
    """Say an error raised while a command ran in one line; its exit code.

    Shared by the click app and the enqueue fast path, so both word failures alike."""
    from queuectl import output

    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, QueuectlError):
        output.error(str(exc))
        return exc.exit_code
    if isinstance(exc, BrokenPipeError):
        return reader_gone()
    if store_words := _store_meaning(exc):  # a driver's error no store mapped (a slip)
        output.error(store_words)
        return EXIT_FAILURE
    if isinstance(exc, UnicodeEncodeError | UnicodeDecodeError):  # e.g. an id in latin-1
        output.error(f"not valid UTF-8 text ({exc.reason})")
        return EXIT_FAILURE
    output.error(f"unexpected {type(exc).__name__}: {exc}")
    return EXIT_FAILURE


def _store_meaning(exc: BaseException) -> str | None:
    if not type(exc).__module__.startswith(("sqlite3", "psycopg")):
        return None
    from queuectl.app.store import store_fault

    return store_fault(exc)


def reader_gone() -> int:
    """stdout's reader went away (`| head`): a normal end, as for `git log | head`.

    stdout is pointed at /dev/null so that the interpreter's own flush at exit, which
    would meet the same broken pipe, has nowhere to fail (it would exit 120)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def run() -> None:
    code = main()
    try:
        sys.stdout.flush()  # what is still buffered meets a gone reader here, not at exit
    except BrokenPipeError:
        reader_gone()  # an error already said stays an error; otherwise this is success
    sys.exit(code)
