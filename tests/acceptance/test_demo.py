"""The README's first command: `./demo.sh` runs, shows pasteable commands, leaves nothing."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo.sh"


@pytest.mark.slow
def test_demo_runs_shows_pasteable_commands_and_cleans_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("QUEUECTL_HOME", "QUEUECTL_DB")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["bash", str(DEMO)], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = [line[2:] for line in done.stdout.splitlines() if line.startswith("$ ")]
    words = [shlex.split(line) for line in shown]
    assert words[0][:2] == ["queuectl", "enqueue"]
    assert json.loads(words[0][2])["id"] == "hello"  # the JSON argument survives pasting
    assert ["queuectl", "enqueue", "-c", "sleep 1; echo built", "--id", "build", "--priority",
            "5"] in words
    assert "\x1b[" not in done.stdout  # no colour codes into a pipe
    assert list(tmp_path.iterdir()) == []  # the temporary store is gone
