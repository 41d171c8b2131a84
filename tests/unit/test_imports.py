"""`queuectl enqueue` runs in scripts thousands of times: it must not load the web stack.

Checked in a fresh interpreter (the test process has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("starlette", "uvicorn", "jinja2", "prometheus_client", "anyio", "rich", "psycopg")

PROBE = """
import json, sys
{body}
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""


def loaded(body: str, tmp_path: Path) -> set[str]:
    env = {"QUEUECTL_HOME": str(tmp_path), "QUEUECTL_DB": str(tmp_path / "q.db"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], capture_output=True,
                          text=True, env=env, check=True, cwd=tmp_path)
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    assert loaded("import queuectl.cli.app", tmp_path) & set(HEAVY) == set()


def test_enqueue_loads_no_heavy_module(tmp_path: Path) -> None:
    body = ("from queuectl.cli.entry import main\n"
            "assert main(['enqueue', '-c', 'true']) == 0")
    assert loaded(body, tmp_path) & set(HEAVY) == set()


def test_help_lists_dashboard_and_metrics_without_loading_them(tmp_path: Path) -> None:
    body = ("import contextlib, io\nfrom queuectl.cli.entry import main\n"
            "buf = io.StringIO()\nwith contextlib.redirect_stdout(buf): main(['--help'])\n"
            "assert 'dashboard' in buf.getvalue() and 'metrics' in buf.getvalue()")
    assert loaded(body, tmp_path) & set(HEAVY) == set()
