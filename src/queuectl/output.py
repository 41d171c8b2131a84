"""The only place that prints. Data goes to stdout, narration and errors to stderr.

Tables use rich only when stdout is a terminal (rich honours NO_COLOR); piped output is
plain, aligned text that scripts can cut. rich is imported only when it will be used.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime

from queuectl.models import READY_STATES, GpuUse, Job, State
from queuectl.text import CONTROL_CHARS

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any

# Keyed by the model's states (a StrEnum: the table's plain strings find them).
STATE_STYLES: dict[str, str] = {
    State.PENDING: "cyan", State.PROCESSING: "yellow", State.COMPLETED: "green",
    State.FAILED: "magenta", State.DEAD: "red", State.CANCELLED: "dim",
}


def is_tty() -> bool:
    return sys.stdout.isatty()


def emit_json(value: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def write_output(data: bytes, raw: bool = False) -> None:
    """A job's captured bytes. On a terminal, decoded safely with control characters
    written as escapes (as tables show them: see ``shown_output``); exactly as written
    when piped, or with ``raw`` (the caller asked for the bytes the job wrote)."""
    if not data:
        return
    if is_tty() and not raw:
        sys.stdout.write(shown_output(data.decode("utf-8", "replace")))
        sys.stdout.flush()
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def raw_output(data: bytes) -> None:
    """``write_output`` with ``raw``: the bytes exactly as the job wrote them."""
    write_output(data, raw=True)


def note(text: str) -> None:
    """Narration for the human at the terminal: stderr, so stdout stays data."""
    sys.stderr.write(text + "\n")


def error(text: str) -> None:
    sys.stderr.write(f"queuectl: error: {_one_line(text)}\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# C0 and C1 control characters and DEL: in a job's fields they would move the cursor,
# clear the screen or retitle the terminal of whoever lists the queue (anyone who can
# enqueue on a shared store could send them), and a newline would break a table's rows.
def shown(value: object) -> str:
    """A field as text for a table or a key/value line: None as empty, control characters
    written as escapes (``\x1b``), so the terminal displays them instead of obeying them."""
    text = "" if value is None else str(value)
    return CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


# In a job's output, the control characters that lay out text stay: newline, tab, and a
# carriage return ending a line (CRLF). Every other one is shown as an escape, as in tables.
_OUTPUT_CONTROL = re.compile(r"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def shown_output(text: str) -> str:
    """A job's output for a terminal: escape sequences and other control characters written
    as escapes (``\x1b``) like ``shown`` does, newlines, tabs and CRLF line ends kept."""
    return _OUTPUT_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], state_col: int | None = None,
          title: str | None = None) -> None:
    cells = [[shown(v) for v in row] for row in rows]
    if is_tty():
        _rich_table(headers, cells, state_col, title)
        return
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        line("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


PROSE_MIN_WIDTH = 16  # columns a column with spaces keeps on a narrow terminal
COLUMN_GAP = 2  # rich's padding between two columns (box=None)


def _rich_table(headers: Sequence[str], rows: list[list[str]], state_col: int | None,
                title: str | None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    out = Table(title=title, header_style="bold", box=None, pad_edge=False)
    least = COLUMN_GAP * (len(headers) - 1)  # the narrowest the table can be drawn
    for i, h in enumerate(headers):
        # A column of single words (ids, states, times, numbers) is never broken: an id
        # split over two lines is copied wrong. A column with spaces (a command, an error)
        # wraps at them to make room, down to PROSE_MIN_WIDTH.
        cells = [h, *(row[i] for row in rows)]
        longest = max(len(c) for c in cells)
        words = all(" " not in c for c in cells[1:])
        prose_min = min(PROSE_MIN_WIDTH, longest)
        least += longest if words else prose_min
        out.add_column(h, no_wrap=words, overflow="fold",
                       min_width=None if words else prose_min)
    for row in rows:
        # Text(), never markup: job text is shown, never interpreted.
        out.add_row(*(Text(v, style=STATE_STYLES.get(v, "") if i == state_col else "")
                      for i, v in enumerate(row)))
    console = Console()  # rich itself honours NO_COLOR
    # Narrower than that, rich would drop whole columns (the command first): the terminal
    # folding a long line hides nothing.
    console.width = max(console.width, least)
    console.print(out)


def pairs(items: Sequence[tuple[str, Any]]) -> None:
    """Key/value lines (show, config list)."""
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        line(f"{key.ljust(width)}  {shown(value)}")


def truncate(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def next_run(job: Job, now: datetime, dead: str | None = None) -> str:
    """When a waiting (pending or failed) job runs, for people (`list`, `show` and the
    dashboard): "held" (until `release`), "waiting for build, test" (dependencies not
    completed yet), "in 4h59m"
    (scheduled or backing off; under a second away is "in 1s"), "now" or "12s ago" (due,
    waiting for a worker); "" for any other state. ``dead``: a dead job it waits for,
    directly or down the chain ("waiting for build (dead)")."""
    if job.state not in READY_STATES:
        return ""
    if job.held:
        return "held"
    if dead is not None:
        return f"waiting for {dead} (dead)"
    if job.waiting_for:
        return waiting_for(job)
    from queuectl.timeparse import format_relative  # a job table's "in 5m"

    return format_relative((job.run_at - now).total_seconds())


def gpus_in_words(uses: Sequence[GpuUse], hosts: bool = False) -> str:
    """GPUs and who holds them, for people (`worker list`, `status`): "0=a1b2c3 1=free";
    with ``hosts``, each index after its host ("gpu1:0=a1b2c3")."""
    return " ".join(f"{f'{use.host}:' if hosts else ''}{use.gpu}={use.job or 'free'}"
                    for use in uses)


def waiting_for(job: Job, most: int = 3) -> str:
    """"waiting for a, b, c…": the first ``most`` dependencies not completed yet."""
    shown = ", ".join(job.waiting_for[:most])
    return f"waiting for {shown}{'…' if len(job.waiting_for) > most else ''}"
