"""The console script: run the click app, turning every failure into one line and a code."""

from __future__ import annotations

import sys

from queuectl.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, QueuectlError


def main(argv: list[str] | None = None) -> int:
    import click

    from queuectl import output
    from queuectl.cli.app import cli, register

    register()
    try:
        code = cli.main(args=argv, prog_name="queuectl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "queuectl"
        output.error(f"{exc.format_message().rstrip('.')} (see '{command} --help')")
        return EXIT_USAGE
    except click.exceptions.Abort:
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except QueuectlError as exc:
        output.error(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (| head): not an error worth a word
        return 0
    except click.ClickException as exc:
        output.error(exc.format_message())
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
        output.error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAILURE
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())
