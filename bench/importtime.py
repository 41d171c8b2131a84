"""What a command imports: `python -X importtime` parsed into the modules it adds to a bare
interpreter start, their cumulative cost, and whether the heavy ones were loaded."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

HEAVY = ("click", "rich", "platformdirs", "psycopg", "starlette", "uvicorn", "jinja2",
         "prometheus_client")
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _parse(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) per imported module, in import order."""
    rows = []
    for line in stderr.splitlines():
        m = _LINE.match(line)
        if m:
            rows.append((m[4], int(m[1]), int(m[2]), len(m[3]) // 2))
    return rows


def modules(argv: list[str], env: dict[str, str] | None = None) -> list[tuple[str, int, int, int]]:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    return _parse(proc.stderr)


def profile(argv: list[str], env: dict[str, str] | None = None, top: int = 12) -> dict[str, Any]:
    bare = {name for name, *_ in modules([sys.executable, "-X", "importtime", "-c", "pass"], env)}
    rows = modules(argv, env)
    extra = [r for r in rows if r[0] not in bare]
    # Top-level imports (depth 0) carry the cost of everything they pulled in.
    roots = sorted((r for r in extra if r[3] == 0), key=lambda r: -r[2])
    loaded = {r[0].split(".")[0] for r in extra}
    return {
        "extra_modules": len(extra),
        "extra_import_ms": round(sum(r[1] for r in extra) / 1000, 1),
        "heavy_loaded": sorted(h for h in HEAVY if h in loaded),
        "top_level": [
            {"module": r[0], "cumulative_ms": round(r[2] / 1000, 2)} for r in roots[:top]
        ],
        "queuectl_modules": [r[0] for r in extra if r[0].startswith("queuectl")],
    }
