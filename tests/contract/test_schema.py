"""schema.sql is the schema the migrations leave: a database made by each is compared by
what the database itself reports (tables, columns, indexes, constraints, triggers and
function bodies), so the file a reader trusts can never drift from what stores run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from queuectl.storage import open_store
from queuectl.storage.sql import schema
from tests import pg


def _sqlite_catalog(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            " ORDER BY name").fetchall()
        tables = [name for kind, name, _ in objects if kind == "table"]
        found: dict[str, Any] = {"objects": objects}
        for table in tables:
            found[f"columns {table}"] = conn.execute(f"PRAGMA table_xinfo({table})").fetchall()
            indexes = conn.execute(f"PRAGMA index_list({table})").fetchall()
            # Without index_list's first column, the order of creation, which an upgrade
            # that recreates an index changes and which means nothing to a query.
            found[f"indexes {table}"] = sorted(row[1:] for row in indexes)
            for index in indexes:
                name = index[1]
                found[f"index {name}"] = conn.execute(f"PRAGMA index_xinfo({name})").fetchall()
        # A partial index's WHERE, and what fires a trigger, are only in their SQL: compared
        # with whitespace folded.
        for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master"
            " WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
        ):
            found[f"sql {name}"] = " ".join(sql.split())
        return found
    finally:
        conn.close()


def test_sqlite_schema_sql_is_what_the_migrations_make(tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"
    open_store(str(migrated)).close()
    written = tmp_path / "written.db"
    conn = sqlite3.connect(written)
    conn.executescript(schema("sqlite"))
    conn.close()
    assert _sqlite_catalog(written) == _sqlite_catalog(migrated)


# What PostgreSQL reports of the public schema; queuectl_schema (the version) is kept by the
# code that migrates, not by the migrations.
PG_CATALOG = {
    "columns": "SELECT table_name, ordinal_position, column_name, data_type, is_nullable,"
               " column_default, is_identity FROM information_schema.columns"
               " WHERE table_schema = 'public' AND table_name <> 'queuectl_schema'"
               " ORDER BY 1, 2",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
               " AND tablename <> 'queuectl_schema' ORDER BY 1",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                   " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
                   " ORDER BY 1, 2",
    "triggers": "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
                " ORDER BY 1",
    "functions": "SELECT proname, pg_get_function_arguments(oid),"
                 " pg_get_function_result(oid), prosrc, provolatile, proparallel"
                 " FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2",
}


def _pg_catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {what: conn.execute(sql.encode()).fetchall() for what, sql in PG_CATALOG.items()}


@pytest.fixture
def two_raw_urls() -> Iterator[tuple[str, str]]:
    for first in pg.fresh_url(migrated=False):
        for second in pg.fresh_url(migrated=False):
            yield first, second


@pytest.mark.postgres
def test_postgres_schema_sql_is_what_the_migrations_make(two_raw_urls: tuple[str, str]) -> None:
    migrated, written = two_raw_urls
    open_store(migrated).close()
    with psycopg.connect(written, autocommit=True) as conn:
        conn.execute(schema("postgres").encode())
    found, expected = _pg_catalog(written), _pg_catalog(migrated)
    assert expected["functions"], "no functions read"
    for what in PG_CATALOG:
        assert found[what] == expected[what], what
