"""Named SQL blocks, numbered migrations and the current schema, one folder per dialect.

A queries file holds blocks introduced by ``-- name: NAME``; both
dialects define the same names but for those a unit test lists as one dialect's own.
Migrations create a new store and upgrade an old one; schema.sql is the schema they leave,
written to be read (a test keeps the two equal).
"""

from __future__ import annotations

import os
import re
from functools import cache

# os.path, not pathlib: every command opens a store, and pathlib's import would be most of
# what reading these files costs.
_HERE = os.path.dirname(__file__)
_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def queries(dialect: str) -> dict[str, str]:
    text = _read(dialect, "queries.sql")
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def migrations(dialect: str) -> list[tuple[int, str]]:
    """(version, sql) in order; a file is named NNNN_what.sql."""
    found = []
    folder = os.path.join(dialect, "migrations")
    for name in sorted(os.listdir(os.path.join(_HERE, folder))):
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), _read(folder, name)))
    return found


def schema(dialect: str) -> str:
    """The dialect's current schema (schema.sql), as the migrations leave it."""
    return _read(dialect, "schema.sql")


def _read(folder: str, name: str) -> str:
    with open(os.path.join(_HERE, folder, name), encoding="utf-8") as f:
        return f.read()
