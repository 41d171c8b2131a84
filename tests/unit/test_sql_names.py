"""Both SQL dialects define the same named queries, and every migration folder is numbered
without gaps: a query added to one store and forgotten in the other fails here first."""

from __future__ import annotations

from pathlib import Path

import pytest

import queuectl.storage
from queuectl.storage.sql import migrations, queries

STORAGE = Path(queuectl.storage.__file__).parent

DIALECTS = ["sqlite", "postgres"]

# The blocks each dialect deliberately lacks, and why; every other name is in both.
LACKS = {
    "postgres": {
        # queuectl_finish (a server-side function) records the attempt within the one
        # statement that ends it; SQLite runs the step on its own.
        "record_attempt": "done inside finish_job",
        # NOTIFY reaches every listener on one channel (a pool's supervisor relays it to
        # one idle worker); SQLite's datagrams go to one idle worker by name.
        "idle_workers": "wake-ups are NOTIFY on one channel",
        # Whether a finish freed a place in a limited queue: queuectl_finish looks itself.
        "queue_limited": "done inside finish_job",
    },
    # pg_*: PostgreSQL's own (server-side state and locks, NOTIFY) that SQLite does not keep.
    "sqlite": {name: "PostgreSQL's own" for name in queries("postgres") if name.startswith("pg_")},
}


def test_what_a_dialect_lacks_is_in_the_other() -> None:
    """The list above names real blocks of the other dialect, and only those."""
    for dialect, other in (DIALECTS, DIALECTS[::-1]):
        lacked = set(LACKS[dialect])
        assert lacked <= set(queries(other)), f"{dialect} lacks names {other} does not have"
        assert not lacked & set(queries(dialect)), f"{dialect} has what it is said to lack"


def test_both_dialects_define_the_same_query_names() -> None:
    sqlite, postgres = (set(queries(d)) for d in DIALECTS)
    sqlite -= set(LACKS["postgres"])
    postgres -= set(LACKS["sqlite"])
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


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_query_is_run_by_a_store(dialect: str) -> None:
    """No dead SQL: each block's name is quoted in the stores' code."""
    code = "".join(path.read_text(encoding="utf-8") for path in STORAGE.glob("*.py"))
    unused = [name for name in queries(dialect) if f'"{name}"' not in code]
    assert unused == []
