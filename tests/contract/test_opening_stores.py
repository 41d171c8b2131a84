"""Which calls may make a store, on both stores: the Python API opens stores by the CLI's
rules (reads never create one, writes do), and `init` creates or upgrades one on purpose."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from queuectl import Queue, StoreUnavailable
from queuectl.settings import is_postgres, redact_url
from queuectl.storage.sql import migrations
from tests import pg
from tests.conftest import BACKENDS
from tests.helpers import Cli


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store that is not there yet: a SQLite path in a folder that does not exist, or a
    PostgreSQL database without any table."""
    if request.param == "sqlite":
        yield str(tmp_path / "no" / "such" / "q.db")
    else:
        yield from pg.fresh_url(migrated=False)


def tables(url: str) -> list[str]:
    """The tables in the database, or ["<no file>"] for a SQLite file that is not there."""
    if is_postgres(url):
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return sorted(str(r[0]) for r in rows.fetchall())
    if not Path(url).exists():
        return ["<no file>"] + [str(p) for p in Path(url).parents if p.exists()][:1]
    with sqlite3.connect(url) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master"))


# What a read says of a store that is not there: a missing SQLite file, or a PostgreSQL
# database without queuectl's tables.
NO_STORE = "no store at|has no queuectl tables"

READS = [
    lambda q: q.status(),
    lambda q: q.list(),
    lambda q: q.get("job1"),
    lambda q: q.logs("job1"),
    lambda q: q.wait(["job1"], timeout=0),
    lambda q: q.cancel("job1"),
    lambda q: q.retry("job1"),
]


@pytest.mark.parametrize("call", READS, ids=["status", "list", "get", "logs", "wait", "cancel",
                                             "retry"])
def test_api_reads_never_create_a_named_store(blank_url: str, call: object) -> None:
    before = tables(blank_url)
    with Queue(blank_url) as q, pytest.raises(StoreUnavailable, match=NO_STORE):
        call(q)  # type: ignore[operator]
    assert tables(blank_url) == before


def test_api_read_from_queuectl_db_never_creates_it(
    blank_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUECTL_DB", blank_url)
    before = tables(blank_url)
    with Queue() as q, pytest.raises(StoreUnavailable, match=NO_STORE):
        q.status()
    assert tables(blank_url) == before


def test_api_enqueue_creates_the_store_as_the_cli_does(blank_url: str) -> None:
    with Queue(blank_url) as q:
        with pytest.raises(StoreUnavailable):
            q.status()
        q.enqueue("true", id="job1")  # the same Queue: a failed read did not spoil it
        assert q.status()["counts"]["pending"] == 1
    with Queue(blank_url) as q:
        assert [j.id for j in q.list()] == ["job1"]


def test_api_enqueue_many_creates_the_store(blank_url: str) -> None:
    with Queue(blank_url) as q:
        assert [j.id for j in q.enqueue_many([{"command": "true", "id": "a"}])] == ["a"]


def test_api_reads_create_the_default_store(tmp_path: Path) -> None:
    with Queue() as q:
        assert q.status()["counts"]["pending"] == 0
    assert (tmp_path / "home" / "queuectl.db").exists()


def test_api_refuses_an_empty_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from queuectl.errors import UsageError

    with pytest.raises(UsageError, match="url is empty"):
        Queue("")
    monkeypatch.setenv("QUEUECTL_DB", "")
    with pytest.raises(UsageError, match="QUEUECTL_DB is set but empty"):
        Queue()
    assert not (tmp_path / "home").exists()


# --- init ---------------------------------------------------------------------------------


def _where(url: str) -> str:
    """How init names the store: the redacted URL, or the SQLite file's path."""
    return redact_url(url)


def test_init_creates_then_finds_the_store_up_to_date(blank_url: str, tmp_path: Path) -> None:
    cli = Cli(blank_url, tmp_path / "home", cwd=tmp_path)
    latest = migrations("postgres" if is_postgres(blank_url) else "sqlite")[-1][0]
    assert cli.ok("init") == f"created the store at {_where(blank_url)} (schema {latest})\n"
    assert cli.json("status")["counts"]["pending"] == 0
    assert cli.ok("init") == f"the store at {_where(blank_url)} is up to date (schema {latest})\n"
    assert json.loads(cli.ok("init", "--json")) == {
        "store": _where(blank_url), "action": "up to date", "schema": latest,
        "previous_schema": latest}


def test_init_upgrades_an_older_store(blank_url: str, tmp_path: Path) -> None:
    dialect = "postgres" if is_postgres(blank_url) else "sqlite"
    steps = migrations(dialect)
    old, latest = steps[-2][0], steps[-1][0]
    if dialect == "sqlite":
        Path(blank_url).parent.mkdir(parents=True)
        conn = sqlite3.connect(blank_url)
        for _number, sql in steps[:-1]:
            conn.executescript(sql)
        conn.execute(f"PRAGMA user_version = {old}")
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(blank_url, autocommit=True) as pgc:
            for _number, sql in steps[:-1]:
                pgc.execute(sql.encode())
            pgc.execute("CREATE TABLE queuectl_schema (version integer NOT NULL)")
            pgc.execute(f"INSERT INTO queuectl_schema (version) VALUES ({old})".encode())
    cli = Cli(blank_url, tmp_path / "home", cwd=tmp_path)
    doc = json.loads(cli.ok("init", "--json"))
    assert doc == {"store": _where(blank_url), "action": "upgraded", "schema": latest,
                   "previous_schema": old}
    assert cli.ok("init") == f"the store at {_where(blank_url)} is up to date (schema {latest})\n"


def test_init_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x)")
    cli = Cli(str(path), tmp_path / "home", cwd=tmp_path)
    proc = cli.run("init")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("queuectl: error: ") and proc.stderr.count("\n") == 1


# --- the seeds' own forms and an empty jobs file ----------------------------------------


def test_seed_forms_are_aliases(cli: Cli) -> None:
    assert cli.ok("enqueue", "--id", "job1", "--cmd", "echo Hello") == "job1\n"
    assert cli.job("job1")["command"] == "echo Hello"
    cli.ok("config", "set", "max-retries", "5")
    listed = cli.json("config", "list")
    assert cli.json("config", "show") == cli.json("config", "get") == listed
    assert listed["max-retries"] == 5
    assert cli.ok("config", "show") == cli.ok("config", "get") == cli.ok("config", "list")
    help_text = cli.ok("config", "--help")
    assert "show" not in help_text.split("Commands:")[1].split()  # an alias, not listed
    assert "config show" in cli.ok("config", "list", "--help")


@pytest.mark.parametrize("content", ["", "\n\n  \n", "# nothing today\n\n", "[]", " [ ]\n"],
                         ids=["empty", "blank", "comment", "array", "spaced-array"])
def test_an_empty_jobs_file_is_refused(cli: Cli, tmp_path: Path, content: str) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(content)
    for args, stdin in ((["--file", str(jobs)], None), (["--file", "-"], content)):
        proc = cli.run("enqueue", *args, input=stdin)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == ("queuectl: error: nothing to enqueue: the jobs file holds no "
                               "job (it is empty, or only blank lines, comments or [])\n")
    assert cli.json("list") == []
    assert cli.json("status")["counts"]["pending"] == 0


@pytest.mark.parametrize(("content", "flags"), [
    ("", []), ("\n\n", []), ("[]", []), ("not json\n", []), ('[{"command": "x"}, 5]', []),
    ('{"command": "true"}\n', ["--timeout", "1e-9"]), ('{"command": "true"}\n', ["-p", "1e3"]),
], ids=["empty", "blank", "array", "not-json", "not-an-object", "bad-timeout", "bad-priority"])
def test_a_refused_jobs_file_never_creates_a_named_store(
    blank_url: str, tmp_path: Path, content: str, flags: list[str]
) -> None:
    cli = Cli(blank_url, tmp_path / "home", cwd=tmp_path)
    before = tables(blank_url)
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(content)
    for source in (str(jobs), "-"):
        proc = cli.run("enqueue", "--file", source, *flags, input=content)
        assert proc.returncode in (1, 2) and proc.stdout == ""
        assert proc.stderr.startswith("queuectl: error: ") and proc.stderr.count("\n") == 1
        assert tables(blank_url) == before


@pytest.mark.parametrize("args", [
    ["enqueue", "-c", "true", "--timeout", "-1"],  # the fast path
    ["enqueue", "-c", "true", "-e", "1A=b"],
    ["enqueue", "{}"],
    ["enqueue", "-c", "true", "--timeout", "-1", "--json"],  # the click command
    ["enqueue", "-c", "true", "-p", "99999999999", "--json"],
    ["run", "--max-retries", "-1", "--", "true"],
], ids=["fast-timeout", "fast-env", "fast-no-command", "click-timeout", "click-priority", "run"])
def test_a_refused_job_never_creates_a_named_store(
    blank_url: str, tmp_path: Path, args: list[str]
) -> None:
    cli = Cli(blank_url, tmp_path / "home", cwd=tmp_path)
    before = tables(blank_url)
    proc = cli.run(*args)
    assert proc.returncode in (1, 2) and proc.stdout == ""
    assert proc.stderr.startswith("queuectl: error: ") and proc.stderr.count("\n") == 1
    assert tables(blank_url) == before


def test_a_refused_api_job_never_creates_a_named_store(blank_url: str) -> None:
    before = tables(blank_url)
    with Queue(blank_url) as q:
        with pytest.raises(ValueError, match="timeout"):
            q.enqueue("true", timeout=-1)
        with pytest.raises(ValueError, match="entry 2"):
            q.enqueue_many([{"command": "true"}, {"command": "true", "priority": "x"}])
    assert tables(blank_url) == before
    with Queue(blank_url) as q:  # and a job that passes makes it, checked against its config
        assert q.enqueue("true").max_retries == 3
    assert tables(blank_url) != before
