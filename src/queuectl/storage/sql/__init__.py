"""Named SQL blocks, numbered migrations and the current schema, one folder per dialect.

A queries file holds blocks introduced by ``-- name: NAME`` (procrastinate's style); both
dialects define the same names but for those a unit test lists as one dialect's own.
Migrations create a new store and upgrade an old one; schema.sql is the schema they leave,
written to be read (a test keeps the two equal).
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


def schema(dialect: str) -> str:
    """The dialect's current schema (schema.sql), as the migrations leave it."""
    return (_HERE / dialect / "schema.sql").read_text(encoding="utf-8")
