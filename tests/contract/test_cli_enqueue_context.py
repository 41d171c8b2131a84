"""What could never reach exec is refused at enqueue (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from queuectl.specs import MAX_COMMAND_BYTES
from tests.helpers import Cli


def test_what_could_never_reach_exec_is_refused_at_enqueue(cli: Cli, tmp_path: Path) -> None:
    refused = {
        "A B": "invalid env variable name 'A B'",
        "1A": "invalid env variable name '1A'",
        "": "invalid env variable name ''",
        "É": "invalid env variable name 'É'",
    }
    for key, message in refused.items():
        for how in (["-e", f"{key}=x"], [json.dumps({"command": "true", "env": {key: "x"}})]):
            args = ["enqueue", "-c", "true", *how] if how[0] == "-e" else ["enqueue", *how]
            done = cli.run(*args)
            assert (done.returncode, done.stderr) == (1, f"queuectl: error: {message}: use "
                   "letters, digits and _, not starting with a digit\n"), args
    too_long = {"command": "true", "env": {"A": "x" * MAX_COMMAND_BYTES}}
    too_much = {"command": "true", "env": {f"K{i}": "x" * 100_000 for i in range(11)}}
    for doc, message in ((too_long, "env variable 'A' is too long"),
                         (too_much, "command and env are too big for one exec")):
        jobs = tmp_path / "big.json"
        jobs.write_text(json.dumps(doc))
        done = cli.run("enqueue", "--file", str(jobs))
        assert done.returncode == 1 and f"line 1: {message}" in done.stderr
    assert cli.json("list") == []

