"""Named SQL blocks and numbered migrations, one folder per dialect.

A queries file holds blocks introduced by ``-- name: NAME`` (procrastinate's style); both
dialects must define the same names (a unit test checks).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def queries(dialect: str) -> dict[str, str]:
    text = (_HERE / dialect / "queries.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def migrations(dialect: str) -> list[tuple[int, str]]:
    """(version, sql) in order; a file is named NNNN_what.sql."""
    found = []
    for path in sorted((_HERE / dialect / "migrations").glob("*.sql")):
        found.append((int(path.name.split("_", 1)[0]), path.read_text(encoding="utf-8")))
    return found
