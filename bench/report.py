"""Targets, the results table and the JSON file."""

from __future__ import annotations

import json
import os
from typing import Any

MB = 1024 * 1024
SMALL_BUFFER = 4 * MB  # what "max-log-bytes plus a small buffer" allows on top

# figure -> backend -> (label, how to read the value, target text, pass test)
THROUGHPUT_MIN = {"sqlite": 0.85, "postgres": 0.7}
BULK_MIN = {"sqlite": 50_000, "postgres": 20_000}


def rows_for(backend: str, figs: dict[str, Any]) -> list[list[Any]]:
    """One table row per measured figure: name, backend, value, baseline, ratio, target, ok."""
    rows: list[list[Any]] = []
    for name in ("throughput", "pickup"):
        if figs.get(name, {}).get("against_figure"):
            from bench import against

            rows.extend(against.rows(backend, name, figs[name]))
            figs = {k: v for k, v in figs.items() if k != name}
    if tp := figs.get("throughput"):
        lo = THROUGHPUT_MIN[backend]
        rows.append(["throughput (jobs/s, 2 workers)", backend, tp["jobs_per_s"],
                     f"ceiling {tp['ceiling_per_s']}", tp["ratio"], f">= {lo}",
                     tp["ratio"] >= lo])
        if tp.get("worker_cpu_us") is not None:
            # The throughput figure is CPU-bound on 2 cores: (shell + loop) / (shell +
            # worker) is the ratio these CPU costs alone predict.
            per_job = tp["job_shell_cpu_us"] + tp["worker_cpu_us"]
            per_spawn = tp["ceiling_shell_cpu_us"] + tp["ceiling_loop_cpu_us"]
            rows.append(["CPU per job: worker / its shell (us)", backend,
                         f"{tp['worker_cpu_us']:.0f} / {tp['job_shell_cpu_us']:.0f}",
                         f"spawner {tp['ceiling_loop_cpu_us']:.0f} / shell "
                         f"{tp['ceiling_shell_cpu_us']:.0f}",
                         round(per_spawn / per_job, 3) if per_job else "", "(predicted ratio)",
                         ""])
    if pk := figs.get("pickup"):
        rows.append(["pickup p50 / p95 / max (ms)", backend,
                     f"{pk['p50_ms']} / {pk['p95_ms']} / {pk['max_ms']}", "", "",
                     "p50 <= 3, max <= 20", pk["p50_ms"] <= 3 and pk["max_ms"] <= 20])
        rows.append(["idle worker CPU (%)", backend, pk["idle_cpu_percent"], "", "", "~0 (< 0.5)",
                     pk["idle_cpu_percent"] < 0.5])
        rows.append(["idle worker RSS (MB)", backend, pk["idle_rss_mb"], "", "", "<= 30",
                     pk["idle_rss_mb"] <= 30])
        if big := pk.get("big_output"):
            limit = (big["max_log_bytes"] + SMALL_BUFFER) / MB
            name = f"worker RSS growth, {big['output_bytes'] / 1e6:g} MB output (MiB)"
            rows.append([name, backend,
                         big["peak_growth_mb"], f"max-log-bytes {big['max_log_bytes'] / MB:g} MB",
                         big["growth_over_max_log"], f"<= {limit:g}",
                         big["peak_growth_mb"] <= limit])
    if en := figs.get("enqueue_cli"):
        rows.append(["queuectl enqueue -c true (ms)", backend, en["enqueue_ms"],
                     f"python -c pass {en['python_pass_ms']}", en["ratio"], "<= 3",
                     en["ratio"] <= 3])
    if "cli" in figs:
        from bench import startup

        rows.extend(startup.rows(backend, figs["cli"]))
    if bk := figs.get("bulk"):
        lo = BULK_MIN[backend]
        rows.append([f"bulk enqueue --file ({bk['jobs']} jobs/s)", backend, bk["jobs_per_s"], "",
                     "", f">= {lo}", bk["jobs_per_s"] >= lo])
    if sc := figs.get("scale"):
        rows.extend(_scale_rows(backend, sc))
    return rows


def _scale_rows(backend: str, sc: dict[str, Any]) -> list[list[Any]]:
    size = f"{sc['finished']}+{sc['pending']}"
    rows: list[list[Any]] = []
    if sc.get("throughput_slowdown") is not None:
        rows.append([f"scale {size}: throughput (jobs/s)", backend, sc["throughput"]["jobs_per_s"],
                     "empty-store ratio", sc["throughput_slowdown"], "slowdown <= 1.5",
                     sc["throughput_slowdown"] <= 1.5])
    if sc.get("pickup_p50_slowdown") is not None:
        pk = sc["pickup"]
        rows.append([f"scale {size}: pickup p50 / max (ms)", backend,
                     f"{pk['p50_ms']} / {pk['max_ms']}", "empty-store p50",
                     sc["pickup_p50_slowdown"], "slowdown <= 1.5 (or +1 ms)",
                     sc["pickup_ok"]])
    for name, ms in sc["reads_ms"].items():
        if name == "python -c pass":
            continue
        rows.append([f"scale {size}: {name} (ms)", backend, ms,
                     f"python -c pass {sc['reads_ms']['python -c pass']}", "", "< 200",
                     ms < 200])
    return rows


def print_table(rows: list[list[Any]], notes: list[str]) -> None:
    headers = ["figure", "backend", "value", "baseline (same run)", "ratio", "target", "ok"]
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [headers, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    for note in notes:
        print(f"note: {note}")


def _cell(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "MISS"
    return "" if value is None else str(value)


def write_json(doc: dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
