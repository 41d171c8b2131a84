"""The core commands that need no worker (enqueue forms, bulk files, config, list, errors),
run in-process through the console script's entry point on both stores."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.helpers import Cli


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_bulk_enqueue_is_all_or_nothing(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"command":"true","id":"b1"}\n{"command":"true","id":"b2","priority":3}\n')
    assert cli.ok("enqueue", "--file", str(good)).split() == ["b1", "b2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"command":"true","id":"b3"}\n{"command":"true","max_retries":-1}\n')
    result = cli.run("enqueue", "--file", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("queuectl: error: line 2:") and "max_retries" in result.stderr
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"command":"true","id":"b4"}\n{"command":"true","id":"b1"}\n')
    result = cli.run("enqueue", "--file", str(dup))
    assert result.returncode == 1
    assert result.stderr == "queuectl: error: line 2: job 'b1' already exists\n"
    assert sorted(j["id"] for j in cli.json("list")) == ["b1", "b2"]
    arr = cli.ok("enqueue", "--file", "-", "--json", input='[{"command":"true"}]')
    assert json.loads(arr)[0]["state"] == "pending"


def test_enqueue_forms_and_fields(cli: Cli, tmp_path: Path) -> None:
    cli.ok("config", "set", "max-retries", "5")
    job = json.loads(cli.ok("enqueue", "-c", "echo hi", "--id", "f1", "-p", "7", "--timeout",
                            "90", "--queue", "q1", "--json"))
    assert (job["id"], job["priority"], job["timeout"], job["queue"], job["max_retries"]) == (
        "f1", 7, 90, "q1", 5)
    assert job["cwd"] == str(tmp_path)
    assert job["created_at"].endswith("Z") and len(job["created_at"]) == 24
    delayed = json.loads(cli.ok("enqueue", "-c", "true", "--delay", "1h", "--json"))
    assert ts(delayed["run_at"]) - ts(delayed["created_at"]) > 3590
    assert cli.json("status")["scheduled"] == 1


def test_config_round_trip_and_json(cli: Cli) -> None:
    assert cli.ok("config", "set", "backoff_base", "3") == "backoff-base = 3\n"
    assert cli.ok("config", "get", "BACKOFF-BASE") == "3\n"
    values = cli.json("config", "list")
    assert values == {"max-retries": 3, "backoff-base": 3, "backoff-max": 3600, "job-timeout": 0,
                      "lease-timeout": 30, "max-log-bytes": 1048576, "retention": 0,
                      "max-snoozes": 100, "max-snapshot-bytes": 104857600}


def test_control_characters_in_fields_are_shown_not_obeyed(cli: Cli, tmp_path: Path) -> None:
    """Anyone who can enqueue must not be able to clear or retitle an operator's terminal."""
    esc = "\x1b[2J\x1b]0;owned\x07"
    (tmp_path / f"d{esc}").mkdir()
    job_id = cli.ok("enqueue", "-c", f"echo {esc}", "-e", f"A={esc}", "--cwd", f"d{esc}",
                    "--delay", "1h").strip()
    for args in (["list"], ["show", job_id]):
        shown = cli.ok(*args)
        assert "\x1b" not in shown and "\x07" not in shown, args
        assert "echo \\x1b[2J\\x1b]0;owned\\x07" in shown, args
    assert "A=\\x1b[2J" in cli.ok("show", job_id)
    assert cli.json("show", job_id)["command"] == f"echo {esc}"  # JSON keeps the data exactly


def test_list_says_when_it_stopped_at_the_limit(cli: Cli) -> None:
    for _ in range(3):
        cli.enqueue("true", "--delay", "1h")
    assert "(the newest 2; --limit 0 lists all)" in cli.run("list", "--limit", "2").stderr
    assert cli.run("list", "--limit", "4").stderr == ""
    assert cli.run("list", "--limit", "2", "--json").stderr == ""


def test_errors_are_one_line_with_the_right_exit_code(cli: Cli) -> None:
    cli.ok("enqueue", '{"id":"job1","command":"true"}')
    before = cli.json("list")
    cases = [
        (["enqueue", '{"id":"job1","command":"other"}'], 1, "job 'job1' already exists"),
        (["enqueue", "{not json"], 2, "not valid JSON"),
        (["enqueue", "--bogus"], 2, "No such option"),
        (["enqueue", '{"command":"x","priority":"high"}'], 2, "priority must be an integer"),
        (["enqueue", "-c", "x", "--max-retries", "-2"], 1, "max_retries"),
        (["show", "ghost"], 1, "job 'ghost' not found"),
        (["list", "--state", "sleeping"], 2, "pending"),
        (["dlq", "retry", "job1"], 1, "job 'job1' is pending, not dead"),
        (["config", "set", "max-retries", "-1"], 1, "must be an integer >= 0"),
        (["config", "set", "colour", "red"], 1, "valid keys"),
        (["nonsense"], 2, "No such command"),
    ]
    for args, code, text in cases:
        result = cli.run(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stdout == "", args
        assert result.stderr.count("\n") == 1 and text in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert cli.json("list") == before
    assert cli.json("config", "list")["max-retries"] == 3

