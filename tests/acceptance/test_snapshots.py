"""`enqueue --snapshot` with a real pool: jobs queued one after another while the code
changes each run the code of their own enqueue, in copies the workers remove."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers import Cli


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C",
                    str(repo), *args], capture_output=True, check=True)


def test_each_queued_variant_runs_its_own_code_and_run_follows_one(cli: Cli,
                                                                     tmp_path: Path) -> None:
    repo = tmp_path / "experiment"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "src" / "train.sh").write_text("#!/bin/sh\necho lr=0.1\n")
    (repo / "src" / "train.sh").chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    cli.cwd = repo / "src"
    ids = []
    for lr in ("0.1", "0.01", "0.001"):  # edit, queue, edit again: nothing committed
        (repo / "src" / "train.sh").write_text(f"#!/bin/sh\necho lr={lr}; pwd\n")
        ids.append(cli.inline("enqueue", "--snapshot", "-c", "./train.sh").strip())
    (repo / "src" / "train.sh").write_text("#!/bin/sh\nexit 9\n")  # broken after queuing
    cli.start_workers(2)
    assert cli.run("wait", *ids, "--timeout", "60").returncode == 0
    for job_id, lr in zip(ids, ("0.1", "0.01", "0.001"), strict=True):
        first, place = cli.ok("logs", job_id).splitlines()
        assert first == f"lr={lr}"
        assert place.endswith("/src") and not os.path.exists(place)
    (repo / "src" / "train.sh").write_text("#!/bin/sh\necho followed\n")
    done = cli.run("run", "--snapshot", "-c", "./train.sh", timeout=60)
    assert (done.returncode, done.stdout) == (0, "followed\n")
