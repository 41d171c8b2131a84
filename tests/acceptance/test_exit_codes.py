"""Every refusal of every command, against its exit code (README, "Exit codes"):

- 2, a usage error: an unknown command or flag, a missing or conflicting argument, or a value
  that cannot be read as its type (not a number, a duration, a time, JSON, KEY=VALUE, one of
  the choices);
- 1, a well-formed request that was refused: a value out of range, a duplicate, an unknown
  job, a wrong state. `config set` refuses every invalid value with 1 (the value is data for
  a named key), and so does a bulk `--file` for any invalid entry, naming its line (the file
  is data too; its flags are arguments).

Each refusal is one `queuectl: error:` line on stderr, nothing on stdout, and the store is
exactly as it was. Every `enqueue` row runs twice, through the click-free fast path (the
installed command) and through click, which must say the same thing with the same code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import NamedTuple

import pytest

from queuectl.specs import MAX_COMMAND_BYTES
from queuectl.storage.base import Storage
from tests.helpers import Cli


class Case(NamedTuple):
    args: list[str]
    code: int
    text: str  # a part of the error line
    input: str | None = None  # stdin, for `--file -`


GOOD_LINE = '{"command": "true"}\n'

TABLE: dict[str, list[Case]] = {
    "enqueue flags": [
        Case(["enqueue", "-c", "true", "--priority", "abc"], 2, "'abc' is not a valid integer"),
        Case(["enqueue", "-c", "true", "--max-retries", "many"], 2, "is not a valid integer"),
        Case(["enqueue", "-c", "true", "--priority", "1.5"], 2, "is not a valid integer"),
        Case(["enqueue", "-c", "true", "--timeout", "5x"], 2, "invalid duration '5x'"),
        Case(["enqueue", "-c", "true", "--timeout", "10 parsecs"], 2, "invalid duration"),
        Case(["enqueue", "-c", "true", "--timeout", ""], 2, "invalid duration"),
        Case(["enqueue", "-c", "true", "--delay", "soon"], 2, "invalid duration 'soon'"),
        Case(["enqueue", "-c", "true", "--delay", "nan"], 2, "invalid duration 'nan'"),
        Case(["enqueue", "-c", "true", "--run-at", "yesterday"], 2, "invalid time 'yesterday'"),
        Case(["enqueue", "-c", "true", "--run-at", "2026-13-45"], 2, "invalid time"),
        Case(["enqueue", "-c", "true", "--env", "NOEQUALS"], 2, "--env wants KEY=VALUE"),
        Case(["enqueue", "-c", "true", "--delay", "5s", "--run-at", "2030-01-01T00:00:00Z"], 2,
             "give run_at or delay, not both"),
        Case(["enqueue", "-c", "true", "--bogus"], 2, "No such option"),
        Case(["enqueue", "-c", "true", "--id"], 2, "requires an argument"),
        Case(["enqueue"], 2, "give exactly one of"),
        Case(["enqueue", "-c", "true", "--max-retries", "-1"], 1,
             "invalid max_retries -1: must be between 0 and"),
        Case(["enqueue", "-c", "true", "--priority", "99999999999"], 1, "invalid priority"),
        Case(["enqueue", "-c", "true", "--timeout", "-3"], 1, "duration '-3': must be >= 0"),
        Case(["enqueue", "-c", "true", "--delay", "-5s"], 1, "duration '-5s': must be >= 0"),
        Case(["enqueue", "-c", "true", "--delay", "36501d"], 1, "at most 100 years"),
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
        Case(["enqueue", '{"command": "true", "timeout": NaN}'], 2, "NaN is not a JSON value"),
        Case(["enqueue", '{"command": "true", "delay": -Infinity}'], 2, "not valid JSON"),
        Case(["enqueue", '["true"]'], 2, "must be a JSON object"),
        Case(["enqueue", '{"command": "true", "timeout": "5x"}'], 2, "invalid duration '5x'"),
        Case(["enqueue", '{"command": "true", "delay": "soon"}'], 2, "invalid duration"),
        Case(["enqueue", '{"command": "true", "run_at": "tomorrow"}'], 2, "invalid time"),
        Case(["enqueue", '{"command": "true", "priority": "high"}'], 2,
             "priority must be an integer"),
        Case(["enqueue", '{"command": "true", "timeout": true}'], 2, "timeout must be a number"),
        Case(["enqueue", '{"command": "true", "bogus": 1}'], 2, "unknown job field 'bogus'"),
        Case(["enqueue", '{"command": "true", "run_at": "2030-01-01T00:00:00Z", '
                         '"delay": "5s"}'], 2, "give run_at or delay, not both"),
        Case(["enqueue", '{"command": "true", "max_retries": -1}'], 1, "invalid max_retries -1"),
        Case(["enqueue", '{"command": "true", "timeout": -5}'], 1, "invalid timeout -5"),
        Case(["enqueue", '{"command": "true", "timeout": 1e400}'], 1, "invalid timeout inf"),
        Case(["enqueue", '{"command": "true", "delay": "-5s"}'], 1, "must be >= 0"),
        Case(["enqueue", '{"command": "true", "env": {"A=B": "1"}}'], 1, "invalid env variable"),
        Case(["enqueue", '{"command": "true", "id": "existing"}'], 1, "already exists"),
    ],
    "enqueue --file": [
        # The flags given with a file are arguments: refused as such, not as line 1.
        Case(["enqueue", "--file", "-", "--timeout", "5x"], 2, "error: invalid duration '5x'",
             GOOD_LINE),
        Case(["enqueue", "--file", "-", "--delay", "soon"], 2, "invalid duration", ""),
        Case(["enqueue", "--file", "-", "--max-retries", "-1"], 1, "error: invalid max_retries",
             GOOD_LINE),
        # Its entries are data: any invalid one is refused with 1, naming its line.
        Case(["enqueue", "--file", "-"], 1, "line 2: invalid duration '5x'",
             GOOD_LINE + '{"command": "true", "timeout": "5x"}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 2: not valid JSON", GOOD_LINE + "{oops\n"),
        Case(["enqueue", "--file", "-"], 1, "line 1: not valid JSON: NaN is not a JSON value",
             '{"command": "true", "delay": NaN}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 1: give run_at or delay, not both",
             '{"command": "true", "run_at": "2030-01-01T00:00:00Z", "delay": "5s"}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 3: invalid max_retries -1",
             GOOD_LINE * 2 + '{"command": "true", "max_retries": -1}\n'),
        Case(["enqueue", "--file", "-"], 1, "line 1: command is too long",
             json.dumps({"command": "x" * (MAX_COMMAND_BYTES + 1)}) + "\n"),
    ],
    "list show logs": [
        Case(["list", "--limit", "abc"], 2, "'abc' is not a valid integer"),
        Case(["list", "--limit", "-1"], 1, "invalid --limit -1: must be between 0 and 1000000000"),
        Case(["list", "--limit", "99999999999999999999"], 1, "invalid --limit"),
        Case(["list", "--state", "sleeping"], 2, "'sleeping' is not one of 'pending'"),
        Case(["list", "--bogus"], 2, "No such option"),
        Case(["show", "ghost"], 1, "job 'ghost' not found"),
        Case(["show"], 2, "Missing argument"),
        Case(["logs", "ghost"], 1, "job 'ghost' not found"),
        Case(["logs", "existing"], 1, "has not run yet"),
        Case(["logs", "existing", "--attempt", "one"], 2, "is not a valid integer"),
        Case(["logs", "existing", "--attempt", "0"], 1, "invalid --attempt 0: must be between 1"),
        Case(["logs", "existing", "--attempt", "99999999999999999999"], 1, "invalid --attempt"),
        Case(["logs", "existing", "--attempt", "3"], 1, "has no attempt 3"),
        Case(["dlq", "list", "--limit", "x"], 2, "is not a valid integer"),
        Case(["dlq", "list", "--limit", "-1"], 1, "invalid --limit -1"),
        Case(["dlq", "retry", "existing"], 1, "job 'existing' is pending, not dead"),
        Case(["dlq", "retry", "ghost"], 1, "not found"),
        Case(["dlq", "retry"], 2, "give job ids or --all"),
        Case(["nonsense"], 2, "No such command"),
    ],
    "wait purge metrics": [
        Case(["wait", "existing", "--timeout", "5x"], 2, "invalid duration '5x'"),
        Case(["wait", "existing", "--timeout", "-1"], 1, "invalid duration '-1': must be >= 0"),
        Case(["wait", "existing", "--timeout", "1e308"], 1, "at most 100 years"),
        Case(["wait", "ghost", "--timeout", "1"], 1, "job 'ghost' not found"),
        Case(["cancel", "ghost"], 1, "not found"),
        Case(["purge", "--older-than", "soon"], 2, "invalid duration 'soon'"),
        Case(["purge", "--older-than", "-1d"], 1, "must be >= 0"),
        Case(["purge", "--older-than", "99999999999999d"], 1, "at most 100 years"),
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
    "config": [
        Case(["config", "set", "job-timeout", "5x"], 1, "invalid value '5x' for job-timeout"),
        Case(["config", "set", "lease-timeout", "0s"], 1, "must be a duration >= 1s"),
        Case(["config", "set", "backoff-max", "-1m"], 1, "invalid value '-1m' for backoff-max"),
        Case(["config", "set", "job-timeout", "366d"], 1, "<= 365d"),
        Case(["config", "set", "max-retries", "abc"], 1, "must be an integer >= 0"),
        Case(["config", "set", "max-retries", "-1"], 1, "must be an integer >= 0"),
        Case(["config", "set", "backoff-base", "nan"], 1, "must be a number >= 1"),
        Case(["config", "set", "colour", "red"], 1, "valid keys: max-retries"),
        Case(["config", "get", "colour"], 1, "unknown config key 'colour'"),
        Case(["config", "set", "max-retries"], 2, "Missing argument"),
    ],
}

# Rows whose command does not use the bounded/duration callbacks (queuectl.cli.params) yet:
# click's IntRange/FloatRange still call a value out of range a usage error.

CLICK_ONLY = """
import sys
import queuectl.cli.fastpath
queuectl.cli.fastpath.run = lambda argv: None
from queuectl.cli.entry import main
sys.exit(main(sys.argv[1:]))
"""


def run_click(cli: Cli, case: Case) -> subprocess.CompletedProcess[str]:
    """The same command line with the enqueue fast path switched off."""
    return subprocess.run([sys.executable, "-c", CLICK_ONLY, *case.args], input=case.input,
                          capture_output=True, text=True, env=cli.env, cwd=cli.cwd,
                          timeout=60)


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


@pytest.mark.parametrize("section", list(TABLE))
def test_exit_codes(cli: Cli, store: Storage, section: str) -> None:
    cli.enqueue("true", "--id", "existing")
    cli.ok("config", "set", "max-retries", "2")
    before = contents(store)
    failures = []
    for case in TABLE[section]:
        done = cli.run(*case.args, input=case.input)
        failures += problems(done, case)
        if case.args[0] == "enqueue":
            slow = run_click(cli, case)
            if (slow.returncode, slow.stderr, slow.stdout) != (done.returncode, done.stderr,
                                                                done.stdout):
                failures.append(f"{case.args}: click says {slow.returncode} {slow.stderr!r}")
        if contents(store) != before:
            failures.append(f"{case.args}: the store changed")
            before = contents(store)
    assert not failures, "\n".join(failures)
