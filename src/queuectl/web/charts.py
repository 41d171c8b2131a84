"""Chart geometry for the overview: numbers in, rectangles out (drawn as inline SVG).

Rendered on the server so the page needs no chart library and works offline; the
template only places the rectangles computed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from queuectl.metrics import Bucket
from queuectl.timeparse import format_duration

WIDTH, HEIGHT = 600.0, 140.0  # SVG user units; the chart scales to its box
GAP = 1.0  # between bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    kind: str  # CSS class: ok, failed, p50, p95
    title: str  # tooltip


@dataclass(frozen=True)
class Chart:
    title: str
    top: str  # label of the y-axis maximum
    start: str  # x-axis labels
    end: str
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (kind, label)
    width: float = WIDTH
    height: float = HEIGHT
    empty: bool = True


def _hhmm(ts: datetime) -> str:
    return ts.astimezone().strftime("%H:%M")


def _scale(value: float, top: float) -> float:
    return 0.0 if top <= 0 else HEIGHT * value / top


def throughput(buckets: list[Bucket], minutes_per_bucket: float) -> Chart:
    """Stacked bars: completed (bottom) and failed attempts (top) per bucket."""
    top = max((b.completed + b.failed for b in buckets), default=0)
    width = WIDTH / max(1, len(buckets))
    bars: list[Bar] = []
    for i, b in enumerate(buckets):
        x, w = i * width, max(0.5, width - GAP)
        ok_h, bad_h = _scale(b.completed, top), _scale(b.failed, top)
        when = _hhmm(b.start)
        if b.completed:
            bars.append(Bar(x, HEIGHT - ok_h, w, ok_h, "ok", f"{when}: {b.completed} completed"))
        if b.failed:
            bars.append(Bar(x, HEIGHT - ok_h - bad_h, w, bad_h, "failed",
                            f"{when}: {b.failed} failed attempts"))  # fmt: skip
    per = "min" if minutes_per_bucket == 1 else f"{minutes_per_bucket:g} min"
    return Chart(f"Throughput (attempts per {per})", str(top), *_ends(buckets), bars=bars,
                 legend=[("ok", "completed"), ("failed", "failed")], empty=top == 0)  # fmt: skip


def latency(buckets: list[Bucket]) -> Chart:
    """Per bucket: a bar up to the p95 run time, a darker one up to the p50."""
    top = max((b.run.p95 or 0.0 for b in buckets), default=0.0)
    width = WIDTH / max(1, len(buckets))
    bars: list[Bar] = []
    for i, b in enumerate(buckets):
        if b.run.p95 is None or b.run.p50 is None:
            continue
        x, w = i * width, max(0.5, width - GAP)
        tip = (f"{_hhmm(b.start)}: p50 {format_duration(b.run.p50)}, "
               f"p95 {format_duration(b.run.p95)} ({b.run.count} runs)")  # fmt: skip
        for kind, value in (("p95", b.run.p95), ("p50", b.run.p50)):
            h = max(1.0, _scale(value, top))
            bars.append(Bar(x, HEIGHT - h, w, h, kind, tip))
    return Chart("Run time (p50 / p95)", format_duration(top) if top else "0s",
                 *_ends(buckets), bars=bars, legend=[("p50", "p50"), ("p95", "p95")],
                 empty=not bars)  # fmt: skip


def _ends(buckets: list[Bucket]) -> tuple[str, str]:
    if not buckets:
        return "", ""
    return _hhmm(buckets[0].start), "now"
