"""Unique keys' refusals (in-process)."""

from __future__ import annotations

import json

from tests.helpers import Cli


def test_bad_unique_keys_are_refused_and_write_nothing(cli: Cli) -> None:
    for args, code in [
        (("enqueue", "-c", "true", "--unique-key", ""), 1),
        (("enqueue", "-c", "true", "--unique-key", "x" * 201), 1),
        (("enqueue", '{"command": "true", "unique_key": 5}'), 2),
    ]:
        proc = cli.run(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith("queuectl: error: ") and proc.stderr.count("\n") == 1
    assert cli.json("list") == []


def test_a_refused_dependency_names_its_own_line_beside_duplicates(cli: Cli) -> None:
    """Line 1 is a duplicate (its key is held), line 3 runs after an unknown job: the
    refusal names line 3, though the duplicate is not inserted."""
    held = cli.enqueue("true", "--unique-key", "K")
    lines = "\n".join([json.dumps({"command": "true", "unique_key": "K"}),
                       json.dumps({"command": "true"}),
                       json.dumps({"command": "true", "after": ["e1"]})])
    proc = cli.run("enqueue", "--file", "-", input=lines)
    assert (proc.returncode, proc.stderr) == (
        1, "queuectl: error: line 3: cannot run after 'e1': no such job\n")
    assert [job["id"] for job in cli.json("list")] == [held]

