"""The click-free `enqueue` fast path behaves exactly like the click command.

Each command line runs twice in a fresh store, in this process: once through the installed
command's entry point (which takes the fast path when it can) and once with the fast path
switched off (click only). That the fast path leaves click out of a new interpreter is
checked in a real one (below, and tests/unit/test_startup_imports.py).
Output, errors, exit codes and the stored jobs must match; generated ids and timestamps
are the only things allowed to differ.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from queuectl.cli import fastpath
from queuectl.storage import open_store
from tests.inprocess import run_main

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

VALID = [
    ["enqueue", "-c", "echo hi", "--id", "a1"],
    ["enqueue", "--command=echo hi", "--id=a2", "-p", "5", "--max-retries", "2", "--timeout",
     "5m", "--queue", "q", "-e", "A=1", "--env", "B=x=y", "--cwd", "/tmp", "--delay", "30s"],
    ["enqueue", '{"id": "j1", "command": "true", "priority": 2}'],
    ["enqueue", '{"command": "true", "queue": "fromjson"}', "--queue", "flag", "--id", "j2"],
    ["enqueue", "-cecho", "-p", " 7", "--id", "short"],
    ["enqueue", "-c", "true", "--id", "js", "--json"],
    ["enqueue", "-c", "true", "--run-at", "2030-01-02T03:04:05Z", "--id", "later"],
    ["enqueue", "-c", "unicode ✓ 'quoted'", "--id", "id with spaces"],
    ["enqueue", "-c", "true"],  # a generated id
    ["enqueue", "--id", "job1", "--cmd", "echo Hello"],
    ["enqueue", "--cmd=echo Hello", "--json"],
    ["enqueue", "--file", "{jobs}"],
    ["enqueue", "--file", "{jobs}", "--priority", "3", "--json"],
    ["enqueue", "-f", "-"],
    # Every flag whose click parameter is not its job field's name ("--expires" is
    # expires_at) must reach the field on both paths.
    ["enqueue", "-c", "true", "--id", "pol", "--tag", "t", "--mutex", "m", "--success-exit",
     "3,64-78", "--no-retry-exit", "2", "--deadline", "2h", "--expires",
     "2030-01-01T00:00:00Z", "--json"],
]
INVALID = [
    ["enqueue"],
    ["enqueue", "-c", "true", "--delay", "5", "minutes"],
    ["enqueue", "echo hi"],
    ["enqueue", "-c"],
    ["enqueue", "-c", "x", "-p", "abc"],
    ["enqueue", "-c", ""],
    ["enqueue", "-c", "x", "--timeout", "soon"],
    ["enqueue", "-c", "x", "--run-at", "nope"],
    ["enqueue", "-c", "x", "--delay", "1h", "--run-at", "2030-01-01T00:00:00"],
    ["enqueue", "-c", "x", "--max-retries", "-1"],
    ["enqueue", "-c", "x", "--priority", "99999999999"],
    ["enqueue", "not json"],
    ["enqueue", "[1]"],
    ["enqueue", '{"command": "x", "bogus": 1}'],
    ["enqueue", '{"command": "x"}', "-c", "y"],
    ["enqueue", "-c", "x", "--bogus"],
    ["enqueue", "-c", "x", "extra"],
    ["enqueue", "-c", "x", "-e", "NOEQ"],
    ["enqueue", "--file", "/does/not/exist"],
    ["enqueue", "--file", "{bad}"],
    ["enqueue", "--file", "{jobs}", "--id", "shared"],
    ["enqueue", "-c", "x", "--id", "dup"],  # the store already holds "dup"
    ["enqueue", "-c", "x", "--cwd", ""],
    ["enqueue", "--help"],
    ["enqueue", "-c", "x", "--", "y"],
    ["enqueue", "--file", "{empty}"],
    ["enqueue", "--file", "{blank}", "--json"],
    ["--db", "a.db", "--db", "b.db", "enqueue", "-c", "x"],
    ["enqueue", "-c", "x", "--db", "a.db", "--db", "b.db"],
    ["--db", "a.db", "enqueue", "-c", "x", "--db=b.db"],
    ["--db", "", "enqueue", "-c", "x"],
    ["enqueue", "-c", "x", "--db="],
]


# The reads a script polls: taken without click, printing exactly what click's commands do.
READS = [
    ["status"],
    ["status", "--json"],
    ["list"],
    ["list", "--json"],
    ["list", "--state", "pending"],
    ["list", "--state=dead", "--json"],
    ["list", "--queue", "default", "--limit", "1"],
    ["list", "--limit=0"],
    ["show", "dup"],
    ["show", "dup", "--json"],
    ["--db", "{db}", "status"],
    ["status", "--db={db}", "--json"],
]
BAD_READS = [
    ["show"],
    ["show", "nope"],
    ["show", "dup", "other"],
    ["status", "extra"],
    ["list", "--state", "bogus"],
    ["list", "--limit", "-1"],
    ["list", "--limit", "x"],
    ["list", "--limit", "10000000000"],
    ["list", "--state"],
    ["list", "--cron", "nightly"],
    ["list", "--json", "--bogus"],
    ["status", "--help"],
    ["--db", "/does/not/exist.db", "status"],
    ["show", "dup", "--db", "/does/not/exist.db"],
    ["--db", "", "list"],
    ["--db", "a.db", "status", "--db", "b.db"],
]


def _run(argv: list[str], tmp: Path, name: str, stdin: str, fast_path: bool) -> dict[str, Any]:
    """``queuectl ARGV`` in this process (the installed command's entry point), through the
    fast path when it takes the line or with it switched off; "path" says which served."""
    db = tmp / name / "q.db"
    store = open_store(str(db))
    store.close()
    _seed_duplicate(str(db))
    argv = [a.replace("{db}", str(db)) for a in argv]  # the store this run seeded
    env = {**os.environ, "QUEUECTL_DB": str(db), "QUEUECTL_HOME": str(tmp / "home")}
    served: list[bool] = []
    real = fastpath.run

    def watched(argv: list[str]) -> int | None:
        code = real(argv)
        served.append(code is not None)
        return code

    fastpath.run = watched
    try:
        proc = run_main(argv, env, tmp, input=stdin, fast_path=fast_path)
    finally:
        fastpath.run = real
    return {
        "code": proc.returncode,
        "stdout": _normal(proc.stdout),
        "stderr": proc.stderr,
        "jobs": _normal(json.dumps(_jobs(str(db)), sort_keys=True)),
        "path": "fast" if any(served) else "click",
    }


def _seed_duplicate(url: str) -> None:
    from queuectl.models import JobSpec

    store = open_store(url)
    store.enqueue([JobSpec(command="true", id="dup", max_retries=3, cwd="/")])
    store.close()


def _jobs(url: str) -> list[dict[str, Any]]:
    store = open_store(url)
    try:
        return [job.to_dict() for job in store.list_jobs(limit=None)]
    finally:
        store.close()


# "now", "in 4h59m", "12s ago": read a little later by one of the two runs on a busy machine.
RELATIVE = re.compile(r"\b(?:in (?:\d+[dhms])+|(?:\d+[dhms])+ ago|now)\b")


def _normal(text: str) -> str:
    """Generated ids (10 lowercase alphanumerics), timestamps and how long ago a job was due
    may differ between runs; so may the width of a table column that holds the last."""
    text = RELATIVE.sub("<when>", ISO.sub("<time>", text))
    text = re.sub(r" {2,}", "  ", text)
    return re.sub(r'(?m)(^|"id": ")[0-9a-z]{10}(\n|")', r"\1<id>\2", text)


def _expand(argv: list[str], tmp: Path) -> list[str]:
    jobs = tmp / "jobs.jsonl"
    jobs.write_text('{"id": "f1", "command": "true"}\n\n{"id": "f2", "command": "echo"}\n')
    bad = tmp / "bad.jsonl"
    bad.write_text('{"id": "b1", "command": "true"}\n{"command": 5}\n')
    (tmp / "empty.jsonl").write_text("")
    (tmp / "blank.jsonl").write_text("\n  \n# no jobs today\n")
    names = {"{jobs}": jobs, "{bad}": bad, "{empty}": tmp / "empty.jsonl",
             "{blank}": tmp / "blank.jsonl"}
    return [str(names[a]) if a in names else a for a in argv]


def _both(argv: list[str], tmp: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    argv = _expand(argv, tmp)
    stdin = '{"id": "s1", "command": "true"}\n'
    return (_run(argv, tmp, "fast", stdin, fast_path=True),
            _run(argv, tmp, "click", stdin, fast_path=False))


@pytest.mark.parametrize("argv", VALID, ids=lambda a: " ".join(a)[:50])
def test_valid_command_lines_take_the_fast_path_and_match_click(
    argv: list[str], tmp_path: Path
) -> None:
    fast, slow = _both(argv, tmp_path)
    assert fast["path"] == "fast" and slow["path"] == "click"
    assert fast["code"] == 0, fast["stderr"]
    assert {**fast, "path": ""} == {**slow, "path": ""}


@pytest.mark.parametrize("argv", INVALID, ids=lambda a: " ".join(a)[:50])
def test_invalid_command_lines_fail_alike(argv: list[str], tmp_path: Path) -> None:
    fast, slow = _both(argv, tmp_path)
    assert fast["code"] != 0 or argv[-1] == "--help"
    assert {**fast, "path": ""} == {**slow, "path": ""}
    if fast["code"] != 0:
        assert fast["stderr"].count("\n") == 1 and fast["stderr"].startswith("queuectl: error:")


@pytest.mark.parametrize("argv", READS, ids=lambda a: " ".join(a)[:50])
def test_plain_reads_take_the_fast_path_and_match_click(argv: list[str], tmp_path: Path) -> None:
    fast, slow = _both(argv, tmp_path)
    assert fast["path"] == "fast" and slow["path"] == "click"
    assert fast["code"] == 0, fast["stderr"]
    assert {**fast, "path": ""} == {**slow, "path": ""}


@pytest.mark.parametrize("argv", BAD_READS, ids=lambda a: " ".join(a)[:50])
def test_reads_that_fail_fail_alike(argv: list[str], tmp_path: Path) -> None:
    fast, slow = _both(argv, tmp_path)
    assert fast["code"] == slow["code"]
    assert {**fast, "path": ""} == {**slow, "path": ""}


def test_global_db_option_is_understood(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    fast, slow = _both(["--db", str(db), "enqueue", "-c", "true", "--id", "g1"], tmp_path)
    assert fast["path"] == "fast" and fast["code"] == 0 and fast["stdout"] == "g1\n"
    assert [j["id"] for j in _jobs(str(db))] == ["g1"]


def test_flag_table_matches_the_click_command() -> None:
    # The command as the group has it: registering adds --db to every command, so the bare
    # command (imported alone) would pass or fail by which tests ran before in this process.
    from queuectl.cli.app import cli, register

    register()
    enqueue = cli.commands["enqueue"]
    click_flags = {opt for p in enqueue.params for opt in p.opts if opt.startswith("-")}
    assert click_flags == set(fastpath.VALUE_FLAGS) | set(fastpath.BOOL_FLAGS)


def test_fast_path_does_not_import_click_or_rich(tmp_path: Path) -> None:
    code = (
        "import sys; from queuectl.cli import fastpath; fastpath.run(sys.argv[1:]); "
        "print(sorted(m for m in ('click', 'rich', 'platformdirs') if m in sys.modules))"
    )
    env = {**os.environ, "QUEUECTL_DB": str(tmp_path / "q.db")}
    out = subprocess.run([sys.executable, "-c", code, "enqueue", "-c", "true"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.splitlines()[-1] == "[]", out.stderr


def test_read_flags_are_the_click_commands() -> None:
    from queuectl.cli.app import cli, register
    from queuectl.models import State

    register()
    for name, flags in fastpath.READ_FLAGS.items():
        click_flags = {opt for p in cli.commands[name].params for opt in p.opts}
        assert flags <= click_flags, name
    assert {str(s) for s in State} == fastpath.STATES
