"""Whole numbers from query strings (a page, an attempt, a limit), for pages and API alike."""

from __future__ import annotations

# Larger numbers are no page, attempt or limit of any store, and would overflow the stores'
# 64-bit integers once multiplied into an offset.
MAX_NUMBER = 2**31 - 1


def whole_number(raw: str, lowest: int = 0) -> int | None:
    """``raw`` as an int from ``lowest`` to MAX_NUMBER, or None: ASCII digits only, since
    str.isdigit also accepts "²", which int() refuses."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_NUMBER)):
        return None
    value = int(raw)
    return value if lowest <= value <= MAX_NUMBER else None
