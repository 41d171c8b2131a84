"""What `enqueue` and the polled reads import: nothing they do not use.

Each command runs through the real entry point in a fresh interpreter; the modules it
loaded are compared by name (not by timing, which a busy machine would blur) with what it
has no use for. A new import on these paths fails here, naming the module. What the bare
interpreter loads before any of our code runs (site hooks, `.pth` files of whatever else is
installed beside us) is not ours to count, and is left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import contextlib, io, json, sys
from queuectl.cli.entry import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

# Never needed to insert a job or read the store and print it, on either store.
UNUSED_BY_ALL = (
    "click", "rich", "platformdirs", "starlette", "uvicorn", "jinja2", "prometheus_client",
    "anyio", "cronsim", "zoneinfo", "pathlib", "urllib", "ipaddress", "hashlib", "_hashlib",
    "threading", "subprocess", "signal",
    "queuectl.cli.app", "queuectl.cli.jobs", "queuectl.schedules", "queuectl.recurring",
    "queuectl.storage.cron_flow", "queuectl.metrics", "queuectl.pool", "queuectl.web",
    "queuectl.localzone",
    # The model classes are built on demand (queuectl.records), not by dataclasses, whose
    # import brings inspect and through it ast, dis and tokenize; typing's names are for
    # checkers only (a store class is Generic to them, not at run time).
    "dataclasses", "inspect", "ast", "dis", "tokenize", "typing",
    # The worker's side: what becomes of a job after an attempt, and how a worker is judged
    # lost (which reads this host's boot id); a failure's wording only when one fails.
    "queuectl.transitions", "queuectl.retry", "queuectl.storage.liveness", "queuectl.hostinfo",
    "queuectl.storage.faults", "queuectl.storage.clock_steps",
)
# With no pool running there is no worker to wake: no datagram socket, no pick among them.
NO_WAKE_UP = ("socket", "random")
# A plain enqueue prints the ids: it neither reads jobs back nor draws a table.
UNUSED_BY_ENQUEUE = ("queuectl.output", "queuectl.cli.reads", "queuectl.api") + NO_WAKE_UP
# The reads check no job input and wake no worker.
UNUSED_BY_READS = ("queuectl.specs", "queuectl.submit", "queuectl.cli.enqueue_core",
                   "queuectl.dag", *NO_WAKE_UP)

# Durations are parsed and shown only by the commands that take or show one.
NO_DURATIONS = ("queuectl.timeparse",)

COMMANDS = {
    "enqueue": (["enqueue", "-c", "true"],
                UNUSED_BY_ALL + UNUSED_BY_ENQUEUE + NO_DURATIONS + ("queuectl.dag",)),
    "enqueue --after": (["enqueue", "-c", "true", "--after", "seed"],
                        UNUSED_BY_ALL + UNUSED_BY_ENQUEUE),
    "status": (["status"], UNUSED_BY_ALL + UNUSED_BY_READS + NO_DURATIONS + ("queuectl.api",)),
    "status --json": (["status", "--json"], UNUSED_BY_ALL + UNUSED_BY_READS),
    "list": (["list"], UNUSED_BY_ALL + UNUSED_BY_READS + ("queuectl.api",)),
    "list --state pending --json": (["list", "--state", "pending", "--json"],
                                    UNUSED_BY_ALL + UNUSED_BY_READS),
    # show reads the attempts through the Python API's one function, but not threading
    "show": (["show", "seed"], UNUSED_BY_ALL + UNUSED_BY_READS),
}


BARE = "import json, sys; print(json.dumps(sorted(sys.modules)))"


def loaded(argv: list[str], tmp_path: Path, default_store: bool = False) -> set[str]:
    """The modules `queuectl ARGV` loads beyond what a bare interpreter here loads; with
    ``default_store``, on the store a user gets with nothing set but $HOME."""
    env = {"QUEUECTL_HOME": str(tmp_path), "QUEUECTL_DB": str(tmp_path / "q.db"),
           "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    if default_store:
        env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    seed = ["enqueue", "-c", "true", "--id", "seed"]  # the job `show` and `--after` name
    subprocess.run([sys.executable, "-c", PROBE, *seed], env=env, cwd=tmp_path, check=True,
                   capture_output=True)
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          env=env, check=True, cwd=tmp_path)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, proc.stderr
    bare = subprocess.run([sys.executable, "-c", BARE], capture_output=True, text=True,
                          env=env, check=True, cwd=tmp_path)
    return set(result["modules"]) - set(json.loads(bare.stdout))


@pytest.mark.parametrize("name", COMMANDS)
def test_command_imports_nothing_it_does_not_use(name: str, tmp_path: Path) -> None:
    argv, unused = COMMANDS[name]
    modules = loaded(argv, tmp_path)
    found = sorted(m for m in modules if m in unused or m.split(".")[0] in unused
                   or any(m.startswith(u + ".") for u in unused))
    assert found == [], f"`queuectl {' '.join(argv)}` imported {found}"


@pytest.mark.parametrize("name", ["enqueue", "status", "list"])
def test_the_default_store_is_found_without_platformdirs(name: str, tmp_path: Path) -> None:
    """Most users set neither --db nor QUEUECTL_DB: finding ~/.local/share by the XDG rule
    must not bring platformdirs and its pathlib, tempfile and shutil."""
    argv, unused = COMMANDS[name]
    modules = loaded(argv, tmp_path, default_store=True)
    found = sorted(m for m in modules if m.split(".")[0] in unused)
    assert found == [], f"`queuectl {' '.join(argv)}` imported {found}"
    assert (tmp_path / ".local" / "share" / "queuectl" / "queuectl.db").exists()
