"""Which store a command opens, and who may create it: readers never create a store that is
not there (a mistyped path, a PostgreSQL database without our tables), writers do; --db is
understood before or after the command (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.inprocess import InProcessCli

# Every command that only reads, as a user would type it against a mistyped path.
READERS = [
    ["status"], ["list"], ["show", "x"], ["logs", "x"], ["wait", "x"], ["metrics"],
    ["dlq", "list"], ["config", "get", "max-retries"], ["config", "list"], ["worker", "list"],
    ["cancel", "x"], ["remove", "x"], ["dlq", "retry", "x"], ["purge", "--older-than", "1d"],
    ["worker", "stop"], ["queue", "list"], ["cron", "list"], ["cron", "show", "x"],
    ["cron", "remove", "x"], ["cron", "pause", "x"], ["cron", "resume", "x"],
    ["cron", "run", "x"], ["dashboard", "--port", "0"],
]


def test_writers_create_a_named_store(tmp_path: Path) -> None:
    for n, args in enumerate([["enqueue", "-c", "true"], ["enqueue", "-c", "true", "--json"],
                              ["config", "set", "max-retries", "2"]]):
        db = tmp_path / f"new{n}" / "q.db"
        cli = InProcessCli(str(db), tmp_path / "home", cwd=tmp_path)
        cli.ok(*args)
        assert db.exists()
        assert cli.json("status")["counts"]["pending"] == (1 if args[0] == "enqueue" else 0)


def test_db_is_understood_after_the_command(tmp_path: Path) -> None:
    """`queuectl status --db X` as users type it; two different stores is a usage error."""
    db = tmp_path / "q.db"
    cli = InProcessCli(str(tmp_path / "other.db"), tmp_path / "home", cwd=tmp_path)
    assert cli.ok("enqueue", "-c", "true", "--id", "a", "--db", str(db)) == "a\n"
    assert cli.ok("config", "set", "max-retries", "7", "--db", str(db)).strip()
    assert json.loads(cli.ok("show", "a", "--db", str(db), "--json"))["id"] == "a"
    assert cli.ok("config", "get", "max-retries", "--db", str(db)) == "7\n"
    assert cli.ok("--db", str(db), "list", "--db", str(db)).count("\n") == 2
    # One file written two ways is one store, not two.
    assert cli.ok("--db", "q.db", "list", "--db", f"sqlite:///{db}").count("\n") == 2
    clash = cli.run("--db", str(db), "status", "--db", str(tmp_path / "b.db"))
    assert clash.returncode == 2 and "--db given twice" in clash.stderr
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "b.db").exists()


@pytest.mark.slow
def test_a_postgres_database_without_our_tables_is_never_given_them_by_a_reader(
    tmp_path: Path,
) -> None:
    """The PostgreSQL form of a mistyped store: a database that exists but is not a queue
    (`postgres` itself, say). Readers refuse it and leave it as it was; writers set it up."""
    import psycopg

    from tests import pg

    pg.require_server()
    name = pg.create()  # empty: no template
    try:
        url = pg.url_for(name)
        cli = InProcessCli(url, tmp_path / "home", cwd=tmp_path)
        for args in READERS:
            proc = cli.run(*args, timeout=30)
            assert (proc.returncode, proc.stderr) == (
                1, f"queuectl: error: the database {url} exists but has no queuectl tables: "
                "run `queuectl init` or any command that writes (enqueue, worker start) to "
                "create them\n"), args
        with psycopg.connect(url) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            assert tables.fetchone() == (0,)
        assert cli.enqueue("true")
        assert cli.json("status")["counts"]["pending"] == 1
    finally:
        pg.drop(name)


@pytest.mark.slow
def test_a_missing_store_is_never_created_by_a_reader(tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "dir" / "q.db"
    cli = InProcessCli(str(db), tmp_path / "home", cwd=tmp_path)
    for args in READERS:
        for where in (["--db", str(db), *args], [*args, "--db", str(db)], args):
            proc = cli.run(*where, timeout=30)
            assert proc.returncode == 1, (where, proc.stderr)
            assert proc.stderr == f"queuectl: error: no store at {db} (check --db or QUEUECTL_DB)\n"
    assert not (tmp_path / "no").exists()

