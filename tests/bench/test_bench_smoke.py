"""`python -m bench --quick` runs end to end on tiny sizes and writes its JSON.

Timings are not asserted (performance is measured in bench/, never in tests): only that
every figure was produced with its baseline beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k not in ("QUEUECTL_DB", "QUEUECTL_HOME")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--backends", "sqlite", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert {"meta", "figures", "skipped", "rows"} <= doc.keys()
    figs = doc["figures"]["sqlite"]
    assert {"throughput", "pickup", "enqueue_cli", "bulk", "scale"} <= figs.keys()
    assert {"jobs_per_s", "ceiling_per_s", "ratio"} <= figs["throughput"].keys()
    assert {"p50_ms", "p95_ms", "max_ms", "idle_cpu_percent", "idle_rss_mb",
            "big_output"} <= figs["pickup"].keys()
    assert {"enqueue_ms", "python_pass_ms", "ratio", "imports"} <= figs["enqueue_cli"].keys()
    assert "click" not in figs["enqueue_cli"]["imports"]["heavy_loaded"]
    assert {"jobs_per_s"} <= figs["bulk"].keys()
    assert {"throughput", "pickup", "reads_ms"} <= figs["scale"].keys()
    assert len(doc["rows"]) >= 8 and "figure" in proc.stdout


def test_unknown_figure_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--figures", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown figure" in proc.stderr


def test_against_runs_both_codes_side_by_side(tmp_path: Path) -> None:
    """--against REV: each side's figure, and REV / tree; the run stops if a worker of a
    side ran the other side's code (each worker reports the queuectl it imported)."""
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k not in ("QUEUECTL_DB", "QUEUECTL_HOME")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--backends", "sqlite", "--figures",
         "throughput,pickup", "--against", "HEAD", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=110,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    figs = json.loads(out.read_text())["figures"]["sqlite"]
    assert not json.loads(out.read_text())["skipped"]
    for name, key in (("throughput", "worker_cpu_us"), ("pickup", "p50_ms")):
        fig = figs[name]
        assert {"tree", "rev", "against", "rev_over_tree"} <= fig.keys()
        assert fig["tree"][key] is not None and fig["rev"][key] is not None
    assert "tree, " in proc.stdout


def test_store_path_runs_on_both_stores() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("QUEUECTL_DB", "QUEUECTL_HOME")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.storepath", "--jobs", "20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["sqlite tree", "postgres tree"]
    assert "µs CPU per job (client)" in lines[0] and "(server)" in lines[1]
