"""`queuectl [--db URL] enqueue ...` and plain `status`, `list`, `show ID`, without click.

Scripts call `queuectl enqueue` thousands of times and poll the reads, and importing click
alone costs more than the whole enqueue. This parser knows exactly the enqueue flags of the
click command (cli/jobs.py; a unit test keeps the two tables equal) and the few flags of
the reads it takes, and handles only well-formed command lines. Anything else (--help, an
unknown flag, a missing value, a non-integer priority, two job sources...) returns None,
and the click app runs instead, so click stays the one documented interface and every
usage message stays its own. The work itself is cli/enqueue_core.py and cli/reads.py,
shared with the click commands.
"""

from __future__ import annotations

import io
import sys

from queuectl.cli import job_flags

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from queuectl.app.store import Storage

# Every option of the click `enqueue` command: flag -> field (a job field, from the table
# both parsers read, or "file" / "db" / "json" which are handled apart).
ENQUEUE_ROWS = job_flags.JOB + job_flags.ENQUEUE_ONLY
BOOL_FLAGS = {"--json": "json", **job_flags.switches(ENQUEUE_ROWS)}
VALUE_FLAGS = {**{flag: field for flag, field in job_flags.fields_by_flag(ENQUEUE_ROWS).items()
                  if flag not in BOOL_FLAGS}, "-f": "file", "--file": "file", "--db": "db"}
KINDS = {**job_flags.kinds_by_field(ENQUEUE_ROWS), "db": "many"}
# The reads taken here: command -> its value flags (`--db` is every command's). Other
# flags (--cron, --help...) go to click.
READ_FLAGS = {"status": frozenset(), "list": frozenset({"--state", "--queue", "--limit"}),
              "show": frozenset()}
STATES = frozenset({"pending", "processing", "completed", "failed", "dead", "cancelled"})
MAX_LIMIT = 10**9  # the largest --limit the click command accepts


class _Fallback(Exception):
    """Not a command line this parser is sure about: let click handle it."""


def run(argv: list[str]) -> int | None:
    """Exit code of a command handled here, or None when click must take the command."""
    try:
        before, command, rest = _global_options(argv)
    except _Fallback:
        return None
    if command in READ_FLAGS:
        return _read(command, before, rest)
    try:
        if command != "enqueue":
            raise _Fallback
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
    from queuectl.app.store import open_store
    from queuectl.cli import enqueue_core
    from queuectl.settings import store_choice

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


def _read(command: str, before: list[str], args: list[str]) -> int | None:
    """`status`, `list` or `show ID` with plain flags: run as the click command would."""
    try:
        parsed = _read_options(READ_FLAGS[command], args)
        dbs = set(before) | set(parsed.pop("--db", []))
        if len(dbs) > 1 or (command == "show") != ("id" in parsed):
            raise _Fallback  # click words two stores, a missing or an extra argument
        if "--state" in parsed and parsed["--state"] not in STATES:
            raise _Fallback  # click lists the choices
        limit = _int(parsed.get("--limit", "100"))
        if not 0 <= limit <= MAX_LIMIT:
            raise _Fallback  # click words the range
    except _Fallback:
        return None
    from queuectl.cli.entry import failure_code

    store: Storage | None = None
    try:
        store = _open_existing(dbs.pop() if dbs else None)
        _run_read(command, store, parsed, limit)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - said in one line
        return failure_code(exc)
    finally:
        if store is not None:
            store.close()
    return 0


def _run_read(command: str, store: Storage, parsed: dict[str, Any], limit: int) -> None:
    from queuectl.cli import reads

    as_json = bool(parsed.get("--json"))
    if command == "status":
        reads.status(store, as_json)
    elif command == "list":
        reads.list_jobs(store, parsed.get("--state"), parsed.get("--queue"), None, limit,
                        as_json)
    else:
        reads.show(store, parsed["id"], as_json)


def _open_existing(db: str | None) -> Storage:
    """The store as a read command opens it: one that --db or QUEUECTL_DB names must exist
    (a mistyped path is an error, not an empty queue); the default one may be created."""
    from queuectl.app.store import open_store
    from queuectl.settings import store_choice

    url, named = store_choice(db)
    return open_store(url, create=not named)


def _read_options(value_flags: frozenset[str], args: list[str]) -> dict[str, Any]:
    """Flags and the one positional argument (``id``) of a read command line."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--json":
            out["--json"] = True
            continue
        if not arg.startswith("-"):
            if "id" in out:
                raise _Fallback
            out["id"] = arg
            continue
        flag, value = _split(arg)
        if flag not in value_flags and flag != "--db" or not flag.startswith("--"):
            raise _Fallback
        if value is None:
            if i == len(args) or args[i].startswith("-"):
                raise _Fallback
            value, i = args[i], i + 1
        if flag == "--db":
            out.setdefault("--db", []).append(value)
        elif flag in out:
            raise _Fallback  # given twice: which one click keeps is its business
        else:
            out[flag] = value
    return out


def _global_options(argv: list[str]) -> tuple[list[str], str, list[str]]:
    """The --db values before the command, the command, and the arguments after it."""
    dbs = []
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
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
    return dbs, argv[i], argv[i + 1 :]


def _enqueue_options(args: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pairs: dict[str, dict[str, str]] = {}
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
        kind = KINDS.get(field, "text")
        if kind == "pair":
            key, sep, val = value.partition("=")
            if not sep:
                raise _Fallback
            pairs.setdefault(field, {})[key] = val
        elif kind == "many":  # repeatable (several --db are checked by run)
            out.setdefault(field, []).append(value)
        else:
            out[field] = _int(value) if kind == "int" else value
    out.update(pairs)
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
