"""Exit-code lists (`--success-exit 2,64-78`, JSON `[2, "64-78"]`): read and matched.

Pure: no I/O. A list is kept in the form it was given (integers and "lo-hi" strings), so a
job's JSON shows it as the user wrote it; ``matches`` reads that form.
"""

from __future__ import annotations

from queuectl.errors import UsageError

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypeAlias

    Codes: TypeAlias = tuple[int | str, ...]

MAX_EXIT_CODE = 255  # what a process can exit with
MAX_ENTRIES = 256  # entries of one list (more can only repeat codes)


def _refuse(name: str, item: object) -> UsageError:
    shown = repr(item) if isinstance(item, str) else str(item)
    return UsageError(f"invalid {name} entry {shown}: exit codes 0-{MAX_EXIT_CODE}, "
                      "as N or LO-HI (like 2,64-78)")


def _code(name: str, text: str, item: object) -> int:
    text = text.strip()
    if not text.isdigit() or not text.isascii() or int(text) > MAX_EXIT_CODE:
        raise _refuse(name, item)
    return int(text)


def _entry(name: str, item: object) -> int | str:
    """One entry, checked: an int 0-255, or "lo-hi" with lo <= hi (a digit string is an
    int)."""
    if isinstance(item, bool) or not isinstance(item, int | str):
        raise _refuse(name, item)
    if isinstance(item, int):
        if not 0 <= item <= MAX_EXIT_CODE:
            raise _refuse(name, item)
        return item
    lo_text, dash, hi_text = item.partition("-")
    if not dash:
        return _code(name, lo_text, item)
    lo, hi = _code(name, lo_text, item), _code(name, hi_text, item)
    if lo > hi:
        raise _refuse(name, item)
    return f"{lo}-{hi}"


def parse_codes(name: str, value: object) -> Codes:
    """A list of exit codes as given: a comma list ("2,64-78") or a JSON array of integers
    and "lo-hi" strings; None or empty is none. Raises UsageError naming ``name`` and the
    entry for anything else (a code outside 0-255, a reversed range, not a number)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: Sequence[object] = [part for part in value.split(",")] if value.strip() else []
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise UsageError(f"{name} must be a list of exit codes like [2, \"64-78\"]")
    if len(items) > MAX_ENTRIES:
        raise UsageError(f"{name} has too many entries ({len(items)}; at most {MAX_ENTRIES})")
    return tuple(dict.fromkeys(_entry(name, item) for item in items))


def matches(codes: Codes, code: int | None) -> bool:
    """Whether exit code ``code`` is one of ``codes`` (as parse_codes gives them)."""
    if code is None:
        return False
    for entry in codes:
        if isinstance(entry, int):
            if entry == code:
                return True
            continue
        lo, _, hi = entry.partition("-")
        if int(lo) <= code <= int(hi):
            return True
    return False
