"""`queuectl [--db URL] enqueue ...` without click or rich.

Scripts call `queuectl enqueue` thousands of times, and importing click alone costs more
than the whole enqueue. This parser knows exactly the enqueue flags of the click command
(cli/jobs.py; a unit test keeps the two tables equal) and handles only well-formed
command lines. Anything else (--help, an unknown flag, a missing value, a non-integer
priority, two job sources...) returns None, and the click app runs instead, so click stays
the one documented interface and every usage message stays its own. The work itself is
cli/enqueue_core.py, shared with the click command.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

# Every option of the click `enqueue` command: flag -> field (a JobSpec field, or
# "env" / "file" / "json" which are handled apart).
VALUE_FLAGS = {
    "-c": "command", "--command": "command", "--cmd": "command", "--id": "id", "-p": "priority",
    "--priority": "priority", "--max-retries": "max_retries", "--timeout": "timeout",
    "--run-at": "run_at", "--delay": "delay", "--queue": "queue", "--cwd": "cwd",
    "-e": "env", "--env": "env", "-f": "file", "--file": "file", "--db": "db",
    "--after": "after",
    "--unique-key": "unique_key",
}
BOOL_FLAGS = {"--json": "json"}
INT_FIELDS = frozenset({"priority", "max_retries"})


class _Fallback(Exception):
    """Not a command line this parser is sure about: let click handle it."""


def run(argv: list[str]) -> int | None:
    """Exit code of an enqueue handled here, or None when click must take the command."""
    try:
        before, rest = _global_options(argv)
        parsed = _enqueue_options(rest)
        # `enqueue ... --db X` too, as every command takes it; given more than once, only
        # the same text is sure to be one store: click words any other case.
        dbs = set(before) | set(parsed.pop("db", []))
        if len(dbs) > 1:
            raise _Fallback
        db = dbs.pop() if dbs else None  # an empty one is refused where the store opens
        read_file = _file_reader(parsed.pop("file", None))
    except _Fallback:
        return None
    from queuectl.cli.entry import failure_code  # the same one-line errors as the click path

    try:
        _enqueue(db, parsed, read_file)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - said in one line
        return failure_code(exc)
    return 0


def _enqueue(db: str | None, parsed: dict[str, Any], read_file: Callable[[], str] | None) -> None:
    from queuectl.cli import enqueue_core
    from queuectl.settings import store_choice
    from queuectl.storage import Storage, open_store

    as_json = bool(parsed.pop("json", False))
    job_json = parsed.pop("job_json", None)
    url, named = store_choice(db)  # an empty --db or QUEUECTL_DB is refused first, as by click
    opened: list[Storage] = []

    def store_of(create: bool) -> Storage:
        # As the click command's: the default store may always be created.
        opened.append(open_store(url, create=create or not named))
        return opened[-1]

    try:
        enqueue_core.enqueue(store_of, parsed, job_json, read_file, as_json)
    finally:
        for store in opened:
            store.close()


def _global_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """The --db values before `enqueue`, and the arguments after it."""
    dbs = []
    i = 0
    while i < len(argv) and argv[i] != "enqueue":
        arg = argv[i]
        if arg == "--db" and i + 1 < len(argv):
            dbs.append(argv[i + 1])
            i += 2
        elif arg.startswith("--db="):
            dbs.append(arg[len("--db=") :])
            i += 1
        else:
            raise _Fallback
    if i == len(argv):
        raise _Fallback
    return dbs, argv[i + 1 :]


def _enqueue_options(args: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    env: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg in BOOL_FLAGS:
            out[BOOL_FLAGS[arg]] = True
            continue
        if not arg.startswith("-") or arg == "-":
            if "job_json" in out or arg == "-":
                raise _Fallback  # click: an extra argument
            out["job_json"] = arg
            continue
        flag, value = _split(arg)
        if flag not in VALUE_FLAGS:
            raise _Fallback  # --help, --, an unknown or misspelt flag
        if value is None:
            if i == len(args) or args[i].startswith("-") and args[i] != "-":
                raise _Fallback  # a missing value (or one that looks like a flag)
            value, i = args[i], i + 1
        field = VALUE_FLAGS[flag]
        if field == "env":
            key, sep, val = value.partition("=")
            if not sep:
                raise _Fallback
            env[key] = val
        elif field in ("after", "db"):  # repeatable (several --db are checked by run)
            out.setdefault(field, []).append(value)
        else:
            out[field] = _int(value) if field in INT_FIELDS else value
    if env:
        out["env"] = env
    sources = [k for k in ("job_json", "command", "file") if k in out]
    if len(sources) != 1 or ("file" in out and "id" in out):
        raise _Fallback  # click says which combination is wrong
    return out


def _split(arg: str) -> tuple[str, str | None]:
    """`--flag=value`, `-cvalue`, or a bare flag (value in the next argument)."""
    if arg.startswith("--"):
        flag, sep, value = arg.partition("=")
        return flag, value if sep else None
    if len(arg) > 2:
        return arg[:2], arg[2:]
    return arg, None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _Fallback from None  # click words the "not a valid integer" error


def _file_reader(path: str | None) -> Callable[[], str] | None:
    """Open the jobs file now, as click.File does; a file that cannot be opened is click's
    usage error to word."""
    if path is None:
        return None
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8").read
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115 - read once, closed at exit
    except OSError:
        raise _Fallback from None
    return f.read
