"""Chart geometry for the overview: numbers in, rectangles and axes out (drawn as inline SVG).

Rendered on the server so the page needs no chart library and works offline; the
template only places the rectangles and tick marks computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from queuectl.metrics import Bucket
from queuectl.timeparse import format_duration

WIDTH, HEIGHT = 600.0, 140.0  # SVG user units; the chart scales to its box
GAP = 1.0  # between bars
Y_TICKS = 4  # about this many steps up the value axis
X_TICKS = 4  # at most this many clock times along the time axis
NICE_STEPS = (1.0, 2.0, 5.0, 10.0)  # times a power of ten: 0, 20, 40, 60 reads at a glance
CLOCK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720)  # minutes, dividing a day
EDGE_ROOM = 0.05  # a clock tick centred this close (part of the axis) to its start sticks out
NOW_ROOM = 0.12  # a clock tick this close to "now" would overprint it
DURATION_UNITS = ((3600.0, "h"), (60.0, "min"), (1.0, "s"))  # the first that fits twice


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    kind: str  # CSS class: ok, failed, p50, p95
    title: str  # tooltip


@dataclass(frozen=True)
class Tick:
    at: float  # where on its axis, 0..1: from the left, or from the bottom
    label: str


@dataclass(frozen=True)
class Axis:
    label: str  # what the axis measures, with its unit
    ticks: list[Tick]
    top: float = 0.0  # a value axis: the value at its top end, in the data's own units


@dataclass(frozen=True)
class Chart:
    title: str
    x: Axis
    y: Axis
    bars: list[Bar] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (kind, label)
    width: float = WIDTH
    height: float = HEIGHT
    empty: bool = True


def nice_step(top: float, steps: int = Y_TICKS) -> float:
    """A round step (1, 2 or 5 times a power of ten) that reaches ``top`` in about ``steps``."""
    raw = top / steps
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in NICE_STEPS if m * power >= raw * (1 - 1e-9))


def value_axis(top: float, label: str, unit: float = 1.0, whole: bool = False) -> Axis:
    """0 up to ``top`` (in ``unit``s) in round steps; the axis ends on the first step at or
    above ``top``. ``whole``: counts, never a step below 1."""
    scaled = top / unit
    step = nice_step(scaled) if scaled > 0 else 1.0
    if whole:
        step = max(1.0, step)
    count = max(1, math.ceil(scaled / step - 1e-9))
    ticks = [Tick(i / count, _number(i * step)) for i in range(count + 1)]
    return Axis(label, ticks, count * step * unit)


def _number(value: float) -> str:
    """1200, not 1.2e+03; 0.3, not 0.30000000000000004."""
    return str(round(value)) if abs(value - round(value)) < 1e-9 else f"{value:.6g}"


def duration_unit(top_seconds: float) -> tuple[float, str]:
    """The unit a duration axis reads best in: hours or minutes once top is two of them."""
    return next(((size, name) for size, name in DURATION_UNITS if top_seconds >= 2 * size),
                DURATION_UNITS[-1])


def time_axis(since: datetime, now: datetime) -> Axis:
    """Round local clock times between ``since`` and ``now``; the right end reads "now"."""
    span = (now - since).total_seconds()
    zone = now.astimezone().tzname() or "local"
    if span <= 0:
        return Axis(f"time ({zone})", [Tick(1.0, "now")])
    step = next((m for m in CLOCK_STEPS if span / 60 / m <= X_TICKS), CLOCK_STEPS[-1])
    ticks = []
    for when in _round_minutes(since.astimezone(), now.astimezone(), step):
        at = (when - since).total_seconds() / span
        if EDGE_ROOM <= at <= 1 - NOW_ROOM:
            ticks.append(Tick(at, _hhmm(when)))
    return Axis(f"time ({zone})", [*ticks, Tick(1.0, "now")])


def _round_minutes(start: datetime, end: datetime, step: int) -> list[datetime]:
    """Local times in [start, end] whose minute of the day is a multiple of ``step``."""
    first = start.replace(second=0, microsecond=0)
    if first < start:
        first += timedelta(minutes=1)
    minute = first.hour * 60 + first.minute
    first += timedelta(minutes=-minute % step)
    count = int((end - first).total_seconds() // (step * 60)) + 1
    return [first + timedelta(minutes=step * i) for i in range(max(0, count))]


def _hhmm(ts: datetime) -> str:
    return ts.astimezone().strftime("%H:%M")


def _scale(value: float, top: float) -> float:
    return 0.0 if top <= 0 else HEIGHT * value / top


def throughput(buckets: list[Bucket], since: datetime, now: datetime) -> Chart:
    """Stacked bars: completed (bottom) and failed attempts (top) per bucket."""
    peak = max((b.completed + b.failed for b in buckets), default=0)
    minutes = (now - since).total_seconds() / 60 / max(1, len(buckets))
    per = "min" if minutes == 1 else f"{minutes:g} min"
    y = value_axis(peak, f"attempts per {per}", whole=True)
    top = y.top
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
                            f"{when}: {b.failed} failed attempts"))
    return Chart("Throughput", time_axis(since, now), y, bars=bars,
                 legend=[("ok", "completed"), ("failed", "failed")], empty=peak == 0)


def latency(buckets: list[Bucket], since: datetime, now: datetime) -> Chart:
    """Per bucket: a bar up to the p95 run time, a darker one up to the p50."""
    peak = max((b.run.p95 or 0.0 for b in buckets), default=0.0)
    unit, name = duration_unit(peak)
    y = value_axis(peak, f"run time ({name})", unit)
    top = y.top
    width = WIDTH / max(1, len(buckets))
    bars: list[Bar] = []
    for i, b in enumerate(buckets):
        if b.run.p95 is None or b.run.p50 is None:
            continue
        x, w = i * width, max(0.5, width - GAP)
        tip = (f"{_hhmm(b.start)}: p50 {format_duration(b.run.p50)}, "
               f"p95 {format_duration(b.run.p95)} ({b.run.count} runs)")
        for kind, value in (("p95", b.run.p95), ("p50", b.run.p50)):
            h = max(1.0, _scale(value, top))
            bars.append(Bar(x, HEIGHT - h, w, h, kind, tip))
    return Chart("Run time (p50 / p95)", time_axis(since, now), y, bars=bars,
                 legend=[("p50", "p50"), ("p95", "p95")], empty=not bars)
