"""Both SQL dialects define the same named queries, and every migration folder is numbered
without gaps: a query added to one store and forgotten in the other fails here first."""

from __future__ import annotations

import pytest

from queuectl.storage.sql import migrations, queries

DIALECTS = ["sqlite", "postgres"]


def test_both_dialects_define_the_same_query_names() -> None:
    sqlite, postgres = (set(queries(d)) for d in DIALECTS)
    # pg_*: PostgreSQL's own housekeeping (server-side state SQLite does not keep).
    postgres = {name for name in postgres if not name.startswith("pg_")}
    assert sqlite, "no named queries found"
    assert sorted(sqlite - postgres) == [], "only in sqlite"
    assert sorted(postgres - sqlite) == [], "only in postgres"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_query_is_empty(dialect: str) -> None:
    empty = [name for name, sql in queries(dialect).items() if not sql.strip()]
    assert empty == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_migrations_are_numbered_from_one_without_gaps(dialect: str) -> None:
    numbers = [number for number, _ in migrations(dialect)]
    assert numbers == list(range(1, len(numbers) + 1))
