"""The command-line flags that give a job's fields: one table, read by the click commands
(`enqueue`, `run`: cli/jobs.py) and by the click-free fast path (cli/fastpath.py).

A new job field gets its flag here once, and both parsers take it (and `edit`, which
changes a waiting job's fields, takes it too). Nothing here imports
click: the fast path reads this table on every `queuectl enqueue`.

Each row: (the flag's names, the job field it sets, the click parameter's name, its kind,
its help). Kinds: "text"; "int" (a whole number); "many" (repeatable, a list); "pair"
(repeatable KEY=VALUE, a mapping); "switch" (no value: true when given).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import TypeAlias

    Row: TypeAlias = tuple[tuple[str, ...], str, str, str, str]

# The flags that describe one job: `enqueue` and `run` take the same.
JOB: tuple[Row, ...] = (
    (("-c", "--command", "--cmd"), "command", "command", "text", "Shell command to run."),
    (("--id",), "id", "job_id", "text", "Job id (default: a short generated one)."),
    (("-p", "--priority"), "priority", "priority", "int", "Higher runs first (default 0)."),
    (("--max-retries",), "max_retries", "max_retries", "int",
     "Retries after the first attempt [config]."),
    (("--timeout",), "timeout", "timeout", "text",
     "Attempt time limit: seconds or 30s/5m/1h [config]."),
    (("--run-at",), "run_at", "run_at", "text",
     "Not before this ISO 8601 time (no zone: local time)."),
    (("--delay",), "delay", "delay", "text", "Not before this long from now: 30s, 5m, 1h30m, 2d."),
    (("--queue",), "queue", "queue", "text", "Named queue (default: default)."),
    (("--cwd",), "cwd", "cwd", "text", "Directory to run in (default: the current one)."),
    (("-e", "--env"), "env", "env_pairs", "pair", "Environment variable for the job (repeatable)."),
    (("--after",), "after", "after", "many", "Run only once job ID has completed (repeatable)."),
    (("--after-any",), "after_any", "after_any", "many",
     "Run once job ID has ended in any way (repeatable)."),
    (("--after-failure",), "after_failure", "after_failure", "many",
     "Run only if job ID ends dead or cancelled (repeatable)."),
    (("--tag",), "tags", "tags", "many", "A tag to find the job by: list --tag (repeatable)."),
    (("--mutex",), "mutex", "mutex", "text",
     "At most one job holding NAME runs at once, on any host."),
    (("--gpus",), "gpus", "gpus", "int",
     "Run only in a pool with N of its GPUs free (worker start --gpus)."),
    (("--success-exit",), "success_exit", "success_exit", "text",
     "These exit codes count as success too: 2,64-78."),
    (("--no-retry-exit",), "no_retry_exit", "no_retry_exit", "text",
     "These exit codes go to the DLQ at once, without retries."),
    (("--deadline",), "deadline", "deadline", "text",
     "Wall time from the first attempt's start over all attempts: 2h."),
    (("--expires",), "expires_at", "expires_at", "text",
     "Never start after this: a duration from now (30m) or an ISO 8601 time."),
    (("--snapshot",), "snapshot", "snapshot", "switch",
     "Freeze the git work tree's tracked files now; every attempt runs in a copy."),
)

# `edit`: the flags of JOB that change a waiting job's fields (not its id or dependencies);
# each repeatable one replaces the whole list or mapping.
_EDIT_HELP = {"env": "Environment variable (repeatable; replaces the whole env).",
              "tags": "A tag (repeatable; replaces the whole tag list)."}


def _edit_help(field: str, text: str) -> str:
    """A flag's help for `edit`: what it does, without what enqueue defaults it to."""
    text = _EDIT_HELP.get(field, text).replace(" [config]", "")
    cut = text.find(" (default")
    return text if cut < 0 else text[:cut] + "."


EDIT: tuple[Row, ...] = tuple(
    (names, field, param, kind, _edit_help(field, help_text))
    for names, field, param, kind, help_text in JOB
    if field not in ("id", "after", "after_any", "after_failure", "mutex", "snapshot"))

# `enqueue` only: a job `run` follows is its own, never a duplicate of another.
ENQUEUE_ONLY: tuple[Row, ...] = (
    (("--unique-key",), "unique_key", "unique_key", "text",
     "Enqueue nothing while a job with KEY is pending, failed or running."),
    (("--hold",), "held", "held", "switch", "Hold the job: never claimed until `release`."),
    (("--on-duplicate",), "on_duplicate", "on_duplicate", "text",
     "With --unique-key, a duplicate keeps the waiting job (keep) or replaces its fields."),
    (("--debounce",), "debounce", "debounce", "text",
     "With --unique-key, due this long after the latest enqueue of the key: 30s, 5m."),
)

METAVARS = {"env": "KEY=VALUE", "after": "ID", "unique_key": "KEY",  # the help's value names
            "after_any": "ID", "after_failure": "ID",
            "timeout": "DURATION", "delay": "DURATION", "run_at": "TIME", "tags": "TAG",
            "success_exit": "CODES", "no_retry_exit": "CODES", "deadline": "DURATION",
            "expires_at": "WHEN", "mutex": "NAME", "on_duplicate": "keep|replace",
            "debounce": "DURATION", "gpus": "N"}


def fields_by_flag(rows: tuple[Row, ...]) -> dict[str, str]:
    """Every name of every flag in ``rows`` -> the job field it sets."""
    return {name: field for names, field, _, _, _ in rows for name in names}


def switches(rows: tuple[Row, ...]) -> dict[str, str]:
    """Every name of every switch in ``rows`` -> the job field it sets."""
    return {name: field for names, field, _, kind, _ in rows if kind == "switch"
            for name in names}


def kinds_by_field(rows: tuple[Row, ...]) -> dict[str, str]:
    """The job field of each row -> its kind."""
    return {field: kind for _, field, _, kind, _ in rows}
