"""Hostile and careless input: every refusal is one `queuectl: error:` line on stderr, the exit
code the contract gives (1 a failed operation, 2 a usage error), no traceback, no password shown,
and the store exactly as it was. Ids are data, whatever characters they hold."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import QUEUECTL, Cli

PASSWORD = "secretpw"
DEAD_PG = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x"


def refused(cli: Cli, code: int, *args: str, input: str | None = None) -> str:
    """Run a command that must be refused; return its one line of error."""
    done = cli.run(*args, input=input)
    shown = f"queuectl {' '.join(a[:60] for a in args)} -> {done.returncode}: {done.stderr!r}"
    assert done.returncode == code, shown
    assert done.stdout == "", shown
    assert done.stderr.startswith("queuectl: error: "), shown
    assert done.stderr.count("\n") == 1, shown
    assert "Traceback" not in done.stderr
    return done.stderr


def snapshot(cli: Cli) -> str:
    return cli.ok("list", "--limit", "0", "--json") + cli.ok("config", "list", "--json")


# --- job fields -----------------------------------------------------------------------------

USAGE_ERRORS = [  # malformed: exit 2
    ['{"command": '],
    ["not json at all"],
    ['["echo", "hi"]'],
    ['"echo hi"'],
    ['{"command": 5}'],
    ['{"command": null}'],
    ['{"id": "x"}'],
    ['{"command": "true", "priority": "high"}'],
    ['{"command": "true", "priority": true}'],
    ['{"command": "true", "max_retries": 1.5}'],
    ['{"command": "true", "env": ["A=1"]}'],
    ['{"command": "true", "env": {"A": 1}}'],
    ['{"command": "true", "id": 42}'],
    ['{"command": "true", "queue": []}'],
    ['{"command": "true", "bogus": 1}'],
    ['{"command": "true", "run_at": 12}'],
    ["[" * 50_000 + "]" * 50_000],
    ["-c", "true", "--priority", "abc"],
    ["-c", "true", "--max-retries", "many"],
    ["-c", "true", "--no-such-flag"],
    ["-c", "true", '{"command": "true"}'],
    [],
    # values that cannot be read as their type
    ['{"command": "true", "timeout": NaN}'],
    ['{"command": "true", "delay": "soon"}'],
    ['{"command": "true", "run_at": "tomorrow"}'],
    ['{"command": "true", "run_at": "2026-01-01T00:00:00Z", "delay": "5s"}'],
    ["-c", "true", "--timeout", "10 parsecs"],
    ["-c", "true", "--delay", "5x"],
    ["-c", "true", "--run-at", "2026-13-45"],
]
VALUE_ERRORS = [  # well-formed but out of range: exit 1
    ['{"command": "true", "max_retries": -1}'],
    ['{"command": "true", "timeout": -5}'],
    ['{"command": "true", "timeout": 1e400}'],
    ['{"command": "true", "delay": "-5s"}'],
    ['{"command": "true", "priority": 99999999999999}'],
    ['{"command": "   "}'],
    ['{"command": "echo \\u0000"}'],
    ['{"command": "true", "id": ""}'],
    ['{"command": "true", "id": "tab\\there"}'],
    ['{"command": "true", "id": "' + "x" * 201 + '"}'],
    ['{"command": "true", "queue": ""}'],
    ['{"command": "true", "env": {"A=B": "1"}}'],
    ["-c", "true", "--max-retries", "-1"],
    ["-c", "true", "--timeout", "-3"],
    ["-c", ""],
    ["-c", "true", "--delay", "99999999999d"],
    ["-c", "true", "--timeout", "1e308"],
    ['{"command": "true", "delay": 1e300}'],
    ['{"command": "true", "timeout": 1e300}'],
]


def test_malformed_jobs_are_usage_errors(cli: Cli) -> None:
    cli.enqueue("true", "--id", "existing")
    before = snapshot(cli)
    for args in USAGE_ERRORS:
        refused(cli, 2, "enqueue", *args)
    assert snapshot(cli) == before


def test_invalid_values_are_refused(cli: Cli) -> None:
    cli.enqueue("true", "--id", "existing")
    before = snapshot(cli)
    for args in VALUE_ERRORS:
        refused(cli, 1, "enqueue", *args)
    assert "already exists" in refused(cli, 1, "enqueue", '{"id": "existing", "command": "x"}')
    assert snapshot(cli) == before


def test_text_that_is_not_utf8(cli: Cli) -> None:
    """Lone surrogates in JSON, raw non-UTF-8 bytes on the command line or in a file: refused
    at the door (they could be neither stored nor printed), never an "unexpected" error."""
    cli.enqueue("true", "--id", "existing")
    before = snapshot(cli)
    for doc in ('{"command": "echo \\ud800"}', '{"command": "true", "id": "\\ud800"}',
                '{"command": "true", "env": {"A": "\\udc80"}}',
                '{"command": "true", "queue": "q\\udfff"}'):
        assert "UTF-8" in refused(cli, 1, "enqueue", doc)
    raw = "\udcff"  # how Python spells the byte 0xff of an argument that is not UTF-8
    for args in (["enqueue", "-c", f"echo {raw}"], ["enqueue", "-c", "true", "--id", raw],
                 ["show", raw], ["cancel", raw], ["logs", raw]):
        message = refused(cli, 1, *args)
        assert "UTF-8" in message and "unexpected" not in message
    bad_file = cli.cwd / "latin1.jsonl"
    bad_file.write_bytes(b'{"command": "echo \xe9t\xe9"}\n')
    assert "UTF-8" in refused(cli, 1, "enqueue", "--file", str(bad_file))
    assert snapshot(cli) == before


def test_bulk_file_is_all_or_nothing_and_names_the_line(cli: Cli) -> None:
    before = snapshot(cli)
    lines = '{"command": "true"}\n{"command": "true"}\n{"command": "true", "timeout": -1}\n'
    assert "line 3" in refused(cli, 1, "enqueue", "--file", "-", input=lines)
    assert "line 2" in refused(cli, 1, "enqueue", "--file", "-",
                               input='{"command": "true"}\n{oops\n')
    dup = '{"id": "d", "command": "true"}\n{"id": "d", "command": "true"}\n'
    assert "'d'" in refused(cli, 1, "enqueue", "--file", "-", input=dup)
    assert snapshot(cli) == before


def test_huge_commands(cli: Cli) -> None:
    before = snapshot(cli)
    huge = json.dumps({"command": "echo " + "x" * (200 * 1024)}) + "\n"
    assert "too long" in refused(cli, 1, "enqueue", "--file", "-", input=huge)
    assert snapshot(cli) == before
    # Just under the limit: accepted, and it really runs.
    big = ": " + "y" * (100 * 1024) + "; echo ran"
    job_id = cli.ok("enqueue", "--file", "-", input=json.dumps({"command": big})).strip()
    assert cli.job(job_id)["command"] == big
    cli.start_workers(1)
    assert cli.wait_state(job_id, "completed", "dead")["state"] == "completed"
    assert cli.ok("logs", job_id) == "ran\n"


HOSTILE_IDS = [
    "it's",
    'say "hi"',
    "x'; DROP TABLE jobs; --",
    "Robert'); DELETE FROM jobs WHERE ('1'='1",
    "1 OR 1=1",
    "%_*?",
    "ünïcødé 日本語 🚀",
    "  leading and trailing spaces  ",
    "a/b?c#d&e=f",
    "\\backslash\\",
    "<script>alert(1)</script>",
    "-starts-with-dash",
    "z" * 200,
]


def as_json(cli: Cli, command: str, job_id: str) -> Any:
    return json.loads(cli.ok(command, "--json", "--", job_id))


def test_ids_are_data(cli: Cli) -> None:
    by_flag = HOSTILE_IDS[:3]  # the rest come in one bulk file: fewer processes, same path
    for job_id in by_flag:
        assert cli.ok("enqueue", "--id", job_id, "-c", "true", "--delay", "1h") == job_id + "\n"
    bulk = "".join(json.dumps({"id": i, "command": "true", "delay": "1h"}) + "\n"
                   for i in HOSTILE_IDS[3:])
    assert cli.ok("enqueue", "--file", "-", input=bulk).splitlines() == HOSTILE_IDS[3:]
    other = cli.enqueue("true", "--id", "plain", "--delay", "1h")
    listed = {j["id"] for j in cli.json("list", "--limit", "0")}
    assert listed == {*HOSTILE_IDS, other}
    for job_id in HOSTILE_IDS:  # `--`: an id may start with a dash
        assert as_json(cli, "show", job_id)["id"] == job_id
    cancelled = json.loads(cli.ok("cancel", "--json", "--", *HOSTILE_IDS))
    assert [j["id"] for j in cancelled] == HOSTILE_IDS
    states = {j["id"]: j["state"] for j in cli.json("list", "--limit", "0")}
    assert states == {**dict.fromkeys(HOSTILE_IDS, "cancelled"), "plain": "pending"}
    assert cli.run("show", "--", "it").returncode == 1  # no prefix or LIKE matching
    assert cli.run("show", "--", "%").returncode == 1


def test_ids_run_and_log_through_a_worker(cli: Cli) -> None:
    ids = ["it's", "x'; DROP TABLE jobs; --", "ünïcødé 日本語 🚀", "sp ace"]
    for job_id in ids:
        cli.ok("enqueue", "--id", job_id, "-c", 'printf "%s\\n" "$QUEUECTL_JOB_ID"')
    cli.start_workers(1)
    for job_id in ids:
        cli.wait_state(job_id, "completed")
        assert cli.ok("logs", "--", job_id) == job_id + "\n"


def test_unknown_states_keys_and_flags(cli: Cli) -> None:
    cli.enqueue("true", "--id", "j", "--delay", "1h")
    before = snapshot(cli)
    message = refused(cli, 2, "list", "--state", "sleeping")
    assert "pending" in message and "cancelled" in message
    refused(cli, 2, "purge", "--older-than", "1d", "--state", "pending")
    refused(cli, 2, "no-such-command")
    refused(cli, 2, "--no-such-option", "status")
    refused(cli, 1, "list", "--limit", "-1")  # well-formed, out of range
    refused(cli, 1, "logs", "j", "--attempt", "0")
    refused(cli, 2, "dlq", "retry")
    assert "max-retries" in refused(cli, 1, "config", "set", "max-tries", "3")
    refused(cli, 1, "config", "set", "max-retries", "-1")
    refused(cli, 1, "config", "set", "lease-timeout", "0")
    refused(cli, 1, "config", "set", "backoff-base", "nan")
    refused(cli, 1, "config", "set", "max-log-bytes", "1.5")
    refused(cli, 1, "config", "get", "nope")
    refused(cli, 1, "show", "missing")
    refused(cli, 1, "logs", "missing")
    refused(cli, 1, "dlq", "retry", "j")
    refused(cli, 2, "wait", "j", "--timeout", "soon")  # not a duration: malformed
    refused(cli, 2, "purge", "--older-than", "forever")
    assert snapshot(cli) == before


def test_numbers_too_big_to_store_are_refused(cli: Cli) -> None:
    """A config value that cannot be added to a timestamp or stored used to be accepted,
    and then every later command (and every worker) failed on it."""
    before = snapshot(cli)
    for key, value in [("lease-timeout", "1e300"), ("job-timeout", "1e300"),
                       ("backoff-max", "1e308"), ("max-retries", "99999999999"),
                       ("max-log-bytes", "99999999999"), ("backoff-base", "1e308")]:
        assert "<=" in refused(cli, 1, "config", "set", key, value)
    refused(cli, 1, "purge", "--older-than", "1e308")
    refused(cli, 1, "purge", "--older-than", "99999999999999d")
    refused(cli, 1, "wait", "x", "--timeout", "1e308")
    refused(cli, 1, "list", "--limit", "99999999999999999999")
    refused(cli, 1, "dlq", "list", "--limit", "99999999999999999999")
    assert snapshot(cli) == before
    cli.ok("config", "set", "lease-timeout", "31536000")  # a year: the largest allowed
    cli.ok("config", "set", "job-timeout", "31536000")
    job_id = cli.enqueue("true", "--delay", "36500d")  # a century: the longest delay
    assert cli.json("status")["scheduled"] == 1
    assert cli.job(job_id)["timeout"] == 31536000


# --- stores that cannot be used ------------------------------------------------------------


def run_with_db(db: str, *args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUEUECTL_HOME": str(home)}
    env.pop("QUEUECTL_DB", None)
    return subprocess.run([QUEUECTL, "--db", db, *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60)


def assert_one_error(done: subprocess.CompletedProcess[str], code: int = 1) -> None:
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith("queuectl: error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


COMMANDS = [["status"], ["enqueue", "-c", "true"], ["list"], ["worker", "start"],
            ["worker", "start", "--detach"], ["config", "set", "max-retries", "1"]]


@pytest.mark.parametrize("make", ["under_a_file", "not_a_database", "a_directory",
                                  "foreign_sqlite", "dead_postgres", "other_scheme"])
def test_unusable_stores(make: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = tmp_path / "target"
    if make == "under_a_file":
        target.write_text("a regular file\n")
        db = str(target / "sub" / "queuectl.db")  # its folder cannot be created, even by root
    elif make == "not_a_database":
        target.write_bytes(b"this is not an SQLite file\n" * 200)
        db = str(target)
    elif make == "a_directory":
        target.mkdir()
        db = str(target)
    elif make == "foreign_sqlite":
        with sqlite3.connect(target) as conn:
            conn.execute("CREATE TABLE mine (x)")
            conn.execute("INSERT INTO mine VALUES (1)")
        conn.close()
        db = str(target)
    elif make == "dead_postgres":
        db = DEAD_PG
    else:
        db = f"mysql://u:{PASSWORD}@127.0.0.1/x"
    before = _files(tmp_path)
    for args in COMMANDS:
        assert_one_error(run_with_db(db, *args, cwd=tmp_path, home=home))
    assert _files(tmp_path) == before  # nothing created, nothing changed
    assert not home.exists() or not any(home.rglob("*.db"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "home" not in p.parts}


def test_home_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    env = {**os.environ, "QUEUECTL_HOME": str(blocker / "queuectl")}
    env.pop("QUEUECTL_DB", None)
    done = subprocess.run([QUEUECTL, "status"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert_one_error(done)
