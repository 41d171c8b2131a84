"""Every refusal of every command, against its exit code (docs/reference.md, "Output, errors
and exit codes"), and hostile or careless input:

- 2, a usage error: an unknown command or flag, a missing or conflicting argument, or a value
  that cannot be read as its type (not a number, a duration, a time, JSON, KEY=VALUE, one of
  the choices);
- 1, a well-formed request that was refused: a value out of range, a duplicate, an unknown
  job, a wrong state, text that is not UTF-8. `config set` refuses every invalid value with 1
  (the value is data for a named key), and so does a bulk `--file` for any invalid entry,
  naming its line (the file is data too; its flags are arguments).

Each refusal is one `queuectl: error:` line on stderr, nothing on stdout, no traceback, no
password shown, and the store exactly as it was. Every `enqueue` row runs twice, through the
click-free fast path and through click, which must say the same thing with the same code.
The commands run in-process through the console script's entry point (tests.inprocess).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from queuectl.specs import MAX_COMMAND_BYTES
from queuectl.storage.base import Storage
from tests.inprocess import InProcessCli, run_main


class Case(NamedTuple):
    args: list[str]
    code: int
    text: str = ""  # a part of the error line
    input: str | None = None  # stdin, for `--file -`


GOOD_LINE = '{"command": "true"}\n'
RAW_FF = "\udcff"  # how Python spells the byte 0xff of an argument that is not UTF-8
LATIN1_FILE = "latin1.jsonl"  # written in the working directory: '{"command": "echo été"}'

TABLE: dict[str, list[Case]] = {
    "enqueue flags": [
        Case(["enqueue", "-c", "true", "--priority", "abc"], 2, "'abc' is not a valid integer"),
        Case(["enqueue", "-c", "true", "--max-retries", "many"], 2, "is not a valid integer"),
        Case(["enqueue", "-c", "true", "--priority", "1.5"], 2, "is not a valid integer"),
        Case(["enqueue", "-c", "true", "--timeout", "5x"], 2, "invalid duration '5x'"),
        Case(["enqueue", "-c", "true", "--timeout", "10 parsecs"], 2, "invalid duration"),
        Case(["enqueue", "-c", "true", "--timeout", ""], 2, "invalid duration"),
        Case(["enqueue", "-c", "true", "--delay", "soon"], 2, "invalid duration 'soon'"),
        Case(["enqueue", "-c", "true", "--delay", "5x"], 2, "invalid duration '5x'"),
        Case(["enqueue", "-c", "true", "--delay", "nan"], 2, "invalid duration 'nan'"),
        Case(["enqueue", "-c", "true", "--run-at", "yesterday"], 2, "invalid time 'yesterday'"),
        Case(["enqueue", "-c", "true", "--run-at", "2026-13-45"], 2, "invalid time"),
        Case(["enqueue", "-c", "true", "--env", "NOEQUALS"], 2, "--env wants KEY=VALUE"),
        Case(["enqueue", "-c", "true", "--delay", "5s", "--run-at", "2030-01-01T00:00:00Z"], 2,
             "give run_at or delay, not both"),
        Case(["enqueue", "-c", "true", "--bogus"], 2, "No such option"),
        Case(["enqueue", "-c", "true", "--no-such-flag"], 2, "No such option"),
        Case(["enqueue", "-c", "true", "--id"], 2, "requires an argument"),
        Case(["enqueue"], 2, "give exactly one of"),
        Case(["enqueue", "-c", "true", "--delay", "5", "minutes"], 2,
             "extra argument 'minutes' (a flag's value with spaces needs quotes"),
        Case(["enqueue", "echo hi"], 2,
             "not valid JSON: Expecting value (a shell command goes in -c"),
        Case(["enqueue", "-c", "true", '{"command": "true"}'], 2),
        Case(["enqueue", "-c", "true", "--max-retries", "-1"], 1,
             "invalid max_retries -1: must be between 0 and"),
        Case(["enqueue", "-c", "true", "--priority", "99999999999"], 1, "invalid priority"),
        Case(["enqueue", "-c", "true", "--timeout", "-3"], 1, "duration '-3': must be >= 0"),
        Case(["enqueue", "-c", "true", "--delay", "-5s"], 1, "duration '-5s': must be >= 0"),
        Case(["enqueue", "-c", "true", "--delay", "36501d"], 1, "at most 100 years"),
        Case(["enqueue", "-c", "true", "--delay", "99999999999d"], 1),
        Case(["enqueue", "-c", "true", "--timeout", "1e308"], 1, "at most 100 years"),
        Case(["enqueue", "-c", "true", "--run-at", "9999-12-31T23:59:59-01:00"], 1,
             "out of range"),
        Case(["enqueue", "-c", ""], 1, "command is empty"),
        Case(["enqueue", "-c", "true", "--id", ""], 1, "invalid id"),
        Case(["enqueue", "-c", "true", "--queue", ""], 1, "invalid queue name"),
        Case(["enqueue", "-c", "true", "--env", "=x"], 1, "invalid env variable"),
        Case(["enqueue", "-c", "true", "--id", "existing"], 1, "job 'existing' already exists"),
    ],
    "enqueue JSON": [
        Case(["enqueue", '{"command": '], 2, "the job is not valid JSON"),
        Case(["enqueue", "not json at all"], 2),
        Case(["enqueue", "[" * 50_000 + "]" * 50_000], 2),
        Case(["enqueue", '{"command": "true", "timeout": NaN}'], 2, "NaN is not a JSON value"),
        Case(["enqueue", '{"command": "true", "delay": -Infinity}'], 2, "not valid JSON"),
        Case(["enqueue", '["true"]'], 2, "must be a JSON object"),
        Case(["enqueue", '["echo", "hi"]'], 2, "must be a JSON object"),
        Case(["enqueue", '"echo hi"'], 2),
        Case(["enqueue", '{"command": 5}'], 2),
        Case(["enqueue", '{"command": null}'], 2),
        Case(["enqueue", '{"id": "x"}'], 2),
        Case(["enqueue", '{"command": "true", "timeout": "5x"}'], 2, "invalid duration '5x'"),
        Case(["enqueue", '{"command": "true", "delay": "soon"}'], 2, "invalid duration"),
        Case(["enqueue", '{"command": "true", "run_at": "tomorrow"}'], 2, "invalid time"),
        Case(["enqueue", '{"command": "true", "run_at": 12}'], 2),
        Case(["enqueue", '{"command": "true", "priority": "high"}'], 2,
             "priority must be an integer"),
        Case(["enqueue", '{"command": "true", "priority": true}'], 2),
        Case(["enqueue", '{"command": "true", "max_retries": 1.5}'], 2),
        Case(["enqueue", '{"command": "true", "env": ["A=1"]}'], 2),
        Case(["enqueue", '{"command": "true", "env": {"A": 1}}'], 2),
        Case(["enqueue", '{"command": "true", "id": 42}'], 2),
        Case(["enqueue", '{"command": "true", "queue": []}'], 2),
        Case(["enqueue", '{"command": "true", "timeout": true}'], 2, "timeout must be a number"),
        Case(["enqueue", '{"command": "true", "bogus": 1}'], 2, "unknown job field 'bogus'"),
        Case(["enqueue", '{"command": "true", "held": 1}'], 2, "held must be true or false"),
        Case(["enqueue", "-c", "true", "--hold=yes"], 2),
        Case(["enqueue", '{"command": "true", "tags": "ci"}'], 2, "tags must be an array"),
        Case(["enqueue", '{"command": "true", "tags": [5]}'], 2, "a tag must be a string"),
        Case(["enqueue", '{"command": "true", "tags": ["a\\u0007"]}'], 1, "invalid tag"),
        Case(["enqueue", "-c", "true", "--tag", ""], 1, "invalid tag ''"),
        Case(["enqueue", "-c", "true", "--tag", "x" * 101], 1, "1-100 characters"),
        Case(["enqueue", "-c", "true", *[f"--tag=t{n}" for n in range(21)]], 1,
             "too many tags (21): at most 20"),
        Case(["list", "--tag"], 2, "requires an argument"),
        Case(["enqueue", '{"command": "true", "run_at": "2030-01-01T00:00:00Z", '
                         '"delay": "5s"}'], 2, "give run_at or delay, not both"),
        Case(["enqueue", '{"command": "true", "run_at": "2026-01-01T00:00:00Z", '
                         '"delay": "5s"}'], 2, "give run_at or delay, not both"),
        Case(["enqueue", '{"command": "true", "max_retries": -1}'], 1, "invalid max_retries -1"),
        Case(["enqueue", '{"command": "true", "timeout": -5}'], 1, "invalid timeout -5"),
        Case(["enqueue", '{"command": "true", "timeout": 1e400}'], 1, "invalid timeout inf"),
        Case(["enqueue", '{"command": "true", "timeout": 1e300}'], 1),
        Case(["enqueue", '{"command": "true", "delay": 1e300}'], 1),
        Case(["enqueue", '{"command": "true", "delay": "-5s"}'], 1, "must be >= 0"),
        Case(["enqueue", '{"command": "true", "priority": 99999999999999}'], 1),
        Case(["enqueue", '{"command": "   "}'], 1),
        Case(["enqueue", '{"command": "echo \\u0000"}'], 1),
        Case(["enqueue", '{"command": "true", "id": ""}'], 1),
        Case(["enqueue", '{"command": "true", "id": "tab\\there"}'], 1),
        Case(["enqueue", '{"command": "true", "id": "' + "x" * 201 + '"}'], 1),
        Case(["enqueue", '{"command": "true", "queue": ""}'], 1),
        Case(["enqueue", '{"command": "true", "env": {"A=B": "1"}}'], 1, "invalid env variable"),
        Case(["enqueue", '{"command": "true", "id": "existing"}'], 1, "already exists"),
        Case(["enqueue", '{"id": "existing", "command": "x"}'], 1, "already exists"),
    ],
    # Text that could be neither stored nor printed: refused at the door, never "unexpected".
    "not UTF-8": [
        Case(["enqueue", '{"command": "echo \\ud800"}'], 1, "UTF-8"),
        Case(["enqueue", '{"command": "true", "id": "\\ud800"}'], 1, "UTF-8"),
        Case(["enqueue", '{"command": "true", "env": {"A": "\\udc80"}}'], 1, "UTF-8"),
        Case(["enqueue", '{"command": "true", "queue": "q\\udfff"}'], 1, "UTF-8"),
        Case(["enqueue", "-c", f"echo {RAW_FF}"], 1, "UTF-8"),
        Case(["enqueue", "-c", "true", "--id", RAW_FF], 1, "UTF-8"),
        Case(["show", RAW_FF], 1, "UTF-8"),
        Case(["cancel", RAW_FF], 1, "UTF-8"),
        Case(["logs", RAW_FF], 1, "UTF-8"),
        Case(["enqueue", "--file", LATIN1_FILE], 1, "UTF-8"),
    ],
    "enqueue --file": [
        # The flags given with a file are arguments: refused as such, not as line 1.
        Case(["enqueue", "--file", "-", "--timeout", "5x"], 2, "error: invalid duration '5x'",
             GOOD_LINE),
        Case(["enqueue", "--file", "-", "--delay", "soon"], 2, "invalid duration", ""),
        Case(["enqueue", "--file", "-", "--max-retries", "-1"], 1, "error: invalid max_retries",
             GOOD_LINE),
        # Its entries are data: any invalid one is refused with 1, naming its line; the file
        # is all or nothing.
        Case(["enqueue", "--file", "-"], 1, "line 2: invalid duration '5x'",
             GOOD_LINE + '{"command": "true", "timeout": "5x"}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 3", GOOD_LINE * 2
             + '{"command": "true", "timeout": -1}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 2: not valid JSON", GOOD_LINE + "{oops\n"),
        Case(["enqueue", "--file", "-"], 1, "line 1: not valid JSON: NaN is not a JSON value",
             '{"command": "true", "delay": NaN}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 1: give run_at or delay, not both",
             '{"command": "true", "run_at": "2030-01-01T00:00:00Z", "delay": "5s"}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 3: invalid max_retries -1",
             GOOD_LINE * 2 + '{"command": "true", "max_retries": -1}\n'),
        Case(["enqueue", "--file", "-"], 1, "'d'",
             '{"id": "d", "command": "true"}\n{"id": "d", "command": "true"}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 1: command is too long",
             json.dumps({"command": "x" * (MAX_COMMAND_BYTES + 1)}) + "\n"),
        Case(["enqueue", "--file", "-"], 1, "too long",
             json.dumps({"command": "echo " + "x" * (200 * 1024)}) + "\n"),
    ],
    "list show logs": [
        Case(["list", "--limit", "abc"], 2, "'abc' is not a valid integer"),
        Case(["list", "--limit", "-1"], 1, "invalid --limit -1: must be between 0 and 1000000000"),
        Case(["list", "--limit", "99999999999999999999"], 1, "invalid --limit"),
        Case(["list", "--state", "sleeping"], 2, "'sleeping' is not one of 'pending'"),
        Case(["list", "--state", "sleeping"], 2, "cancelled"),
        Case(["list", "--bogus"], 2, "No such option"),
        Case(["show", "ghost"], 1, "job 'ghost' not found"),
        Case(["show", "missing"], 1, "not found"),
        Case(["show", "--", "exist"], 1, "not found"),  # no prefix matching
        Case(["show", "--", "%"], 1, "not found"),  # no LIKE matching
        Case(["show"], 2, "Missing argument"),
        Case(["logs", "ghost"], 1, "job 'ghost' not found"),
        Case(["logs", "existing"], 1, "has not run yet"),
        Case(["logs", "existing", "--attempt", "one"], 2, "is not a valid integer"),
        Case(["logs", "existing", "--attempt", "0"], 1, "invalid --attempt 0: must be between 1"),
        Case(["logs", "existing", "--attempt", "99999999999999999999"], 1, "invalid --attempt"),
        Case(["logs", "existing", "--attempt", "3"], 1, "has no attempt 3"),
        Case(["dlq", "list", "--limit", "x"], 2, "is not a valid integer"),
        Case(["dlq", "list", "--limit", "-1"], 1, "invalid --limit -1"),
        Case(["dlq", "list", "--limit", "99999999999999999999"], 1, "invalid --limit"),
        Case(["dlq", "retry", "existing"], 1, "job 'existing' is pending, not dead"),
        Case(["dlq", "retry", "ghost"], 1, "not found"),
        Case(["dlq", "retry"], 2, "give job ids or --all"),
        Case(["nonsense"], 2, "No such command"),
        Case(["--no-such-option", "status"], 2, "No such option"),
    ],
    "wait purge metrics": [
        Case(["wait", "existing", "--timeout", "5x"], 2, "invalid duration '5x'"),
        Case(["wait", "existing", "--timeout", "soon"], 2, "invalid duration 'soon'"),
        Case(["wait", "existing", "--timeout", "-1"], 1, "invalid duration '-1': must be >= 0"),
        Case(["wait", "existing", "--timeout", "1e308"], 1, "at most 100 years"),
        Case(["wait", "ghost", "--timeout", "1"], 1, "job 'ghost' not found"),
        Case(["wait", "ghost", "--timeout", "1e308"], 1),
        Case(["cancel", "ghost"], 1, "not found"),
        Case(["remove", "ghost"], 1, "job 'ghost' not found"),
        Case(["remove", "existing"], 1, "job 'existing' is pending, not completed, dead or"),
        Case(["remove"], 2, "give job ids or --all"),
        Case(["cancel"], 2, "give job ids or --all"),
        Case(["cancel", "existing", "--all"], 2, "give job ids or --all (not both)"),
        Case(["cancel", "existing", "--state", "pending"], 2, "go with --all"),
        Case(["hold", "--all", "--older-than", "soon"], 2, "invalid duration 'soon'"),
        Case(["dlq", "retry", "existing", "--dry-run"], 2, "go with --all"),
        Case(["rerun", "ghost"], 1, "job 'ghost' not found"),
        Case(["rerun", "existing"], 1, "job 'existing' is pending, not completed, dead or"),
        Case(["rerun"], 2, "Missing argument"),
        Case(["hold", "ghost"], 1, "job 'ghost' not found"),
        Case(["hold"], 2, "give job ids or --all"),
        Case(["release", "existing"], 1, "job 'existing' is pending, not held"),
        Case(["release", "ghost"], 1, "job 'ghost' not found"),
        Case(["rerun", "existing", "--priority", "x"], 2, "is not a valid integer"),
        Case(["purge", "--older-than", "soon"], 2, "invalid duration 'soon'"),
        Case(["purge", "--older-than", "forever"], 2, "invalid duration 'forever'"),
        Case(["purge", "--older-than", "-1d"], 1, "must be >= 0"),
        Case(["purge", "--older-than", "99999999999999d"], 1, "at most 100 years"),
        Case(["purge", "--older-than", "1e308"], 1),
        Case(["purge", "--older-than", "1d", "--state", "pending"], 2, "is not one of"),
        Case(["purge"], 2, "Missing option '--older-than'"),
        Case(["metrics", "--since", "soon"], 2, "invalid --since 'soon'"),
        Case(["metrics", "--since", "-1h"], 1, "invalid duration '-1h': must be >= 0"),
        Case(["metrics", "--since", "36501d"], 1, "at most 100 years"),
        Case(["metrics", "--since", "2999-01-01T00:00:00Z"], 1, "in the future"),
        Case(["worker", "stop", "--timeout", "abc"], 2, "invalid duration 'abc'"),
        Case(["worker", "stop", "--timeout", "-1"], 1, "must be >= 0"),
        Case(["worker", "start", "--count", "0"], 1, "invalid --count 0"),
        Case(["worker", "start", "--count", "x"], 2, "is not a valid integer"),
        Case(["dashboard", "--port", "70000"], 1, "invalid --port 70000"),
        Case(["dashboard", "--port", "x"], 2, "is not a valid integer"),
        Case(["run"], 2, "give the command to run: -c CMD, or after --"),
        Case(["run", "--"], 2, "give the command to run: -c CMD, or after --"),
        Case(["run", "-c", "true", "--", "true"], 2, "not both"),
    ],
    "edit": [
        Case(["edit", "ghost", "-p", "1"], 1, "job 'ghost' not found"),
        Case(["edit"], 2, "Missing argument"),
        Case(["edit", "existing"], 2, "nothing to edit"),
        Case(["edit", "existing", "--id", "x"], 2, "No such option"),
        Case(["edit", "existing", "--after", "x"], 2, "No such option"),
        Case(["edit", "existing", '{"id": "x"}'], 2, "id cannot be edited"),
        Case(["edit", "existing", '{"unique_key": "k"}'], 2, "unique_key cannot be edited"),
        Case(["edit", "existing", '{"colour": "red"}'], 2, "unknown job field 'colour'"),
        Case(["edit", "existing", '{"priority": "high"}'], 2, "priority must be an integer"),
        Case(["edit", "existing", "{"], 2, "not valid JSON"),
        Case(["edit", "existing", "sleep"], 2, "extra argument 'sleep'"),
        Case(["edit", "existing", "-p", "x"], 2, "is not a valid integer"),
        Case(["edit", "existing", "-p", "99999999999"], 1, "invalid priority 99999999999"),
        Case(["edit", "existing", "--max-retries", "-1"], 1, "invalid max_retries -1"),
        Case(["edit", "existing", "--timeout", "5x"], 2, "invalid duration '5x'"),
        Case(["edit", "existing", "--timeout", "-1"], 1, "must be >= 0"),
        Case(["edit", "existing", "--delay", "soon"], 2, "invalid duration 'soon'"),
        Case(["edit", "existing", "--run-at", "yesterday"], 2, "invalid time 'yesterday'"),
        Case(["edit", "existing", "--delay", "5s", "--run-at", "2030-01-01T00:00:00Z"], 2,
             "give run_at or delay, not both"),
        Case(["edit", "existing", "-c", " "], 1, "command is empty"),
        Case(["edit", "existing", "-c", "x" * (MAX_COMMAND_BYTES + 1)], 1, "too long"),
        Case(["edit", "existing", "--queue", ""], 1, "invalid queue name"),
        Case(["edit", "existing", "-e", "1A=2"], 1, "invalid env variable name '1A'"),
        Case(["edit", "existing", "-e", "NOEQUALS"], 2, "--env wants KEY=VALUE"),
        Case(["edit", "existing", "--tag", "x" * 101], 1, "invalid tag"),
        Case(["edit", "existing", *[a for n in range(21) for a in ("--tag", f"t{n}")]], 1,
             "too many tags (21)"),
        Case(["edit", "existing", "--cwd", ""], 1, "invalid cwd"),
    ],
    "config": [
        Case(["config", "set", "job-timeout", "5x"], 1, "invalid value '5x' for job-timeout"),
        Case(["config", "set", "lease-timeout", "0s"], 1, "must be a duration >= 1s"),
        Case(["config", "set", "lease-timeout", "0"], 1, "must be a duration >= 1s"),
        Case(["config", "set", "backoff-max", "-1m"], 1, "invalid value '-1m' for backoff-max"),
        Case(["config", "set", "job-timeout", "366d"], 1, "<= 365d"),
        Case(["config", "set", "max-retries", "abc"], 1, "must be an integer >= 0"),
        Case(["config", "set", "max-retries", "-1"], 1, "must be an integer >= 0"),
        Case(["config", "set", "backoff-base", "nan"], 1, "must be a number >= 1"),
        Case(["config", "set", "max-log-bytes", "1.5"], 1),
        Case(["config", "set", "colour", "red"], 1, "valid keys: max-retries"),
        Case(["config", "set", "max-tries", "3"], 1, "max-retries"),
        Case(["config", "get", "colour"], 1, "unknown config key 'colour'"),
        Case(["config", "get", "nope"], 1, "unknown config key 'nope'"),
        Case(["config", "set", "max-retries"], 2, "Missing argument"),
        # Numbers too big to add to a timestamp or to store: once accepted, and then every
        # later command (and every worker) failed on them.
        Case(["config", "set", "lease-timeout", "1e300"], 1, "<="),
        Case(["config", "set", "job-timeout", "1e300"], 1, "<="),
        Case(["config", "set", "backoff-max", "1e308"], 1, "<="),
        Case(["config", "set", "max-retries", "99999999999"], 1, "<="),
        Case(["config", "set", "max-log-bytes", "99999999999"], 1, "<="),
        Case(["config", "set", "backoff-base", "1e308"], 1, "<="),
    ],
}


def contents(store: Storage) -> tuple[list[dict[str, object]], dict[str, str]]:
    return [job.to_dict() for job in store.list_jobs(limit=None)], store.config_items()


def problems(done: subprocess.CompletedProcess[str], case: Case) -> list[str]:
    said = f"queuectl {' '.join(a[:50] for a in case.args)} -> {done.returncode}: {done.stderr!r}"
    found = []
    if done.returncode != case.code:
        found.append(f"exit {done.returncode}, not {case.code}")
    if done.stdout:
        found.append(f"stdout {done.stdout[:80]!r}")
    one_line = done.stderr.startswith("queuectl: error: ") and done.stderr.count("\n") == 1
    if not one_line or "Traceback" in done.stderr or "unexpected" in done.stderr:
        found.append("not one error line")
    if case.text not in done.stderr:
        found.append(f"no {case.text!r}")
    return [f"{said}: {', '.join(found)}"] if found else []


@pytest.fixture
def icli(db_url: str, tmp_path: Path, store: Storage) -> InProcessCli:
    """The CLI in-process on the test's store (made by ``store``)."""
    return InProcessCli(db_url, tmp_path / "home", cwd=tmp_path)


@pytest.mark.parametrize("section", list(TABLE))
def test_refusals(icli: InProcessCli, store: Storage, section: str) -> None:
    icli.enqueue("true", "--id", "existing")
    icli.ok("config", "set", "max-retries", "2")
    (icli.cwd / LATIN1_FILE).write_bytes(b'{"command": "echo \xe9t\xe9"}\n')
    before = contents(store)
    failures = []
    for case in TABLE[section]:
        done = run_main(case.args, icli.env, icli.cwd, input=case.input)
        failures += problems(done, case)
        if case.args[0] == "enqueue":
            slow = run_main(case.args, icli.env, icli.cwd, input=case.input, fast_path=False)
            if (slow.returncode, slow.stderr, slow.stdout) != (done.returncode, done.stderr,
                                                                done.stdout):
                failures.append(f"{case.args}: click says {slow.returncode} {slow.stderr!r}")
        if contents(store) != before:
            failures.append(f"{case.args}: the store changed")
            before = contents(store)
    assert not failures, "\n".join(failures)


def test_largest_values_are_accepted(icli: InProcessCli) -> None:
    """The largest values the refusals above stop at are taken, and work."""
    icli.ok("config", "set", "lease-timeout", "31536000")  # a year: the largest allowed
    icli.ok("config", "set", "job-timeout", "31536000")
    job_id = icli.enqueue("true", "--delay", "36500d")  # a century: the longest delay
    assert icli.json("status")["scheduled"] == 1
    assert icli.job(job_id)["timeout"] == 31536000


def test_command_just_under_the_limit_is_kept(icli: InProcessCli) -> None:
    big = ": " + "y" * (100 * 1024) + "; echo ran"
    job_id = icli.ok("enqueue", "--file", "-", input=json.dumps({"command": big})).strip()
    assert icli.job(job_id)["command"] == big


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


def as_json(cli: InProcessCli, command: str, job_id: str) -> Any:
    return json.loads(cli.ok(command, "--json", "--", job_id))


def test_ids_are_data(icli: InProcessCli) -> None:
    """Ids are data, whatever characters they hold: by flag and in a bulk file."""
    by_flag = HOSTILE_IDS[:3]
    for job_id in by_flag:
        assert icli.ok("enqueue", "--id", job_id, "-c", "true", "--delay", "1h") == job_id + "\n"
    bulk = "".join(json.dumps({"id": i, "command": "true", "delay": "1h"}) + "\n"
                   for i in HOSTILE_IDS[3:])
    assert icli.ok("enqueue", "--file", "-", input=bulk).splitlines() == HOSTILE_IDS[3:]
    other = icli.enqueue("true", "--id", "plain", "--delay", "1h")
    listed = {j["id"] for j in icli.json("list", "--limit", "0")}
    assert listed == {*HOSTILE_IDS, other}
    for job_id in HOSTILE_IDS:  # `--`: an id may start with a dash
        assert as_json(icli, "show", job_id)["id"] == job_id
    cancelled = json.loads(icli.ok("cancel", "--json", "--", *HOSTILE_IDS))
    assert [j["id"] for j in cancelled] == HOSTILE_IDS
    states = {j["id"]: j["state"] for j in icli.json("list", "--limit", "0")}
    assert states == {**dict.fromkeys(HOSTILE_IDS, "cancelled"), "plain": "pending"}
    assert icli.run("show", "--", "it").returncode == 1  # no prefix or LIKE matching
    assert icli.run("show", "--", "%").returncode == 1


# --- stores that cannot be used ------------------------------------------------------------

PASSWORD = "secretpw"
DEAD_PG = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x"


def run_with_db(db: str, *args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**_base_env(), "QUEUECTL_HOME": str(home)}
    return run_main(["--db", db, *args], env, cwd)


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QUEUECTL_DB", None)
    return env


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
    env = {**_base_env(), "QUEUECTL_HOME": str(blocker / "queuectl")}
    assert_one_error(run_main(["status"], env, tmp_path))
