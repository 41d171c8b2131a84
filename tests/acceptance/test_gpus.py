"""GPUs with real pools: the GPUs held by a job whose whole pool was killed (SIGKILL to its
process group) are free again once that job is recovered, and the GPU job waiting for them
then runs on the other pool of the host, which owns the same GPUs; `--gpus auto` owns what
nvidia-smi lists, and without a working nvidia-smi the pool does not start. What each job
was given is read from what it saw: its $CUDA_VISIBLE_DEVICES. (Races between claimers of
overlapping pools run in-process: tests/contract/test_gpus.py.)"""

from __future__ import annotations

import os
import signal
from datetime import datetime
from pathlib import Path

from tests.acceptance.process_tools import assert_group_gone, read_pid
from tests.helpers import QUEUECTL, Cli, wait_until

SHOW_GPUS = 'echo "[$CUDA_VISIBLE_DEVICES]"'


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def fake_nvidia_smi(tmp_path: Path, script: str) -> dict[str, str]:
    """An environment whose PATH finds an nvidia-smi that runs ``script`` (sh)."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_a_killed_pools_gpus_are_free_when_its_job_is_recovered(
    cli: Cli, tmp_path: Path,
) -> None:
    cli.ok("config", "set", "lease-timeout", "2")
    cli.ok("config", "set", "backoff-base", "1")
    first = cli.enqueue(f"{SHOW_GPUS}; echo $$ > sh.pid; until [ -e go ]; do sleep 0.05; done",
                        "--gpus", "2", "-p", "1")
    pool = cli.start_workers(1, "--gpus", "0,1")
    first_shell = read_pid(tmp_path / "sh.pid")
    second = cli.enqueue(SHOW_GPUS, "--gpus", "2")
    cli.start_workers(1, "--gpus", "0-1")  # another pool owning the same GPUs of this host
    wait_until(lambda: len(cli.json("worker", "list")) == 2, what="both pools' workers")
    assert cli.job(second)["state"] == "pending"
    assert cli.json("show", second)["held_back"] == "waiting for 2 free GPUs"
    plain = cli.enqueue(f"{SHOW_GPUS}")  # a job without GPUs runs meanwhile, seeing none
    cli.wait_state(plain, "completed")
    assert cli.inline("logs", plain) == "[]\n"
    busy = [w["gpus"] for w in cli.json("worker", "list") if w["state"] == "busy"]
    assert busy == [[{"gpu": 0, "job": first}, {"gpu": 1, "job": first}]]
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait(timeout=10)
    assert_group_gone(first_shell, timeout=15)  # the recovery kills the orphaned shell
    done = cli.wait_state(second, "completed", timeout=30)
    assert cli.inline("logs", second) == "[0,1]\n"
    assert done["gpus_assigned"] == [0, 1]
    lost = cli.job(first)["attempts_log"][0]
    assert lost["error"] == "worker lost"
    assert when(done["attempts_log"][0]["started_at"]) >= when(lost["finished_at"])
    (tmp_path / "go").touch()
    again = cli.wait_state(first, "completed", timeout=30)
    assert cli.inline("logs", first) == "[0,1]\n"
    assert when(again["attempts_log"][1]["started_at"]) >= when(done["finished_at"])
    [left] = cli.json("worker", "list")
    assert left["gpus"] == [{"gpu": 0, "job": None}, {"gpu": 1, "job": None}]


def test_auto_owns_the_gpus_nvidia_smi_lists(cli: Cli, tmp_path: Path) -> None:
    env = fake_nvidia_smi(tmp_path, 'echo 0; echo 1; echo 2')
    cli.start_workers(1, "--gpus", "auto", env=env)
    [listed] = cli.json("worker", "list")
    assert [g["gpu"] for g in listed["gpus"]] == [0, 1, 2]
    job = cli.enqueue(SHOW_GPUS, "--gpus", "3")
    cli.wait_state(job, "completed")
    assert cli.inline("logs", job) == "[0,1,2]\n"


def test_auto_without_a_working_nvidia_smi_refuses_to_start(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    queuectl_dir = os.path.dirname(QUEUECTL)  # (its interpreter is named by its #! line)
    cli.env = {**cli.env, "PATH": f"{empty}{os.pathsep}{queuectl_dir}"}
    missing = cli.run("worker", "start", "--gpus", "auto")
    assert missing.returncode == 1
    assert missing.stderr == ("queuectl: error: --gpus auto: nvidia-smi was not found on "
                              "PATH; give the GPU indexes (--gpus 0,1)\n")
    cli.env.update(fake_nvidia_smi(tmp_path, 'echo "NVIDIA-SMI has failed because it '
                                             'could not communicate" >&2; exit 9'))
    failing = cli.run("worker", "start", "--gpus", "auto")
    assert failing.returncode == 1
    assert failing.stderr == ("queuectl: error: --gpus auto: nvidia-smi failed: NVIDIA-SMI "
                              "has failed because it could not communicate\n")
    assert cli.json("worker", "list") == []
