"""A bulk file's refusals name the line (in-process)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Cli


def test_bulk_refusals_name_the_line(cli: Cli, tmp_path: Path) -> None:
    cli.enqueue("true", "--id", "b")
    jobs = tmp_path / "jobs.jsonl"
    cases = {
        '{"id":"a","command":"true"}\n{"id":"b","command":"true"}\n':
            "line 2: job 'b' already exists",
        '{"id":"a","command":"true"}\n\n{"id":"a","command":"x"}\n':
            "line 3: job 'a' appears twice in the file (also line 1)",
        '[{"id":"c","command":"true"}, {"id":"b","command":"true"}]':
            "entry 2: job 'b' already exists",
    }
    for text, message in cases.items():
        jobs.write_text(text)
        for extra in ([], ["--json"]):
            proc = cli.run("enqueue", "--file", str(jobs), *extra)
            assert (proc.returncode, proc.stderr) == (1, f"queuectl: error: {message}\n")
    assert [j["id"] for j in cli.json("list")] == ["b"]  # nothing else went in

