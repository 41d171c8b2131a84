"""When the store's clock steps (NTP at boot, `date -s`, a resumed VM), and which stored times
move with it. Pure: the store reads the clocks and applies the shift (sql_clock.py).

Times come in two kinds. A wall-clock time stays where it is: a job's ``--run-at``, a cron
expression's next tick. A time counted from when it was written moves with the step, so
that it keeps its distance in elapsed time: a job due now or after ``--delay``, a retry's
backoff, an ``every DUR`` schedule's next run, a worker's heartbeat and its claims.

A step is seen by comparing how far the store's clock moved with how far a host's
boot-time clock (``CLOCK_BOOTTIME``: it never steps, and it counts a suspend, so a resumed
laptop is no step) moved between two readings taken in one boot. NTP slews a clock by at
most 500 ppm, so a gap beyond a couple of seconds plus twice that rate is a step.

Rows written after the step and before it is seen are already in the new clock and must
not move again. A row of the old clock was written at most ``e`` (the boot-time clock's
elapsed time since the last reading R) after R; a row of the new clock was written after
R, at R + Δ or later, and no later than now. So a stamp inside [R + Δ, now] (with the
tolerance either side) is taken as new, and every other one as old. The two overlap when
a forward step is smaller than the time since the last reading, which readings taken
every few seconds make rare.
"""

from __future__ import annotations

from queuectl.records import record

TOLERANCE_MS = 2_000  # a gap this small is never a step (scheduling, a slow statement)
DRIFT_PER_MS = 0.001  # ms a clock may slew per elapsed ms: twice NTP's 500 ppm
# A reading older than this is written again. The stamps of the clock before a step are
# told from those of the clock after it by the last reading (see the module's text): the
# fresher it is, the smaller a step can be and still be told right, so it is kept about
# as fresh as the pools' recovery passes (one per heartbeat interval), and written at most
# once a second by all of a boot's pools together.
REFRESH_MS = 1_000
FORGET_MS = 7 * 86_400_000  # readings of boots not seen this long are dropped


@record(frozen=True)
class Reading:
    """The store's clock and a boot's CLOCK_BOOTTIME read together (both in ms)."""

    store_ms: int
    boot_ms: int


@record(frozen=True)
class Shift:
    """A step of ``step_ms`` (positive: forward) to apply to the stamps written before it:
    those outside [``new_from_ms``, ``new_until_ms``]."""

    step_ms: int
    new_from_ms: int
    new_until_ms: int

    def moves(self, stamp_ms: int) -> bool:
        """Whether a time stamped ``stamp_ms`` is of the clock before the step."""
        return not self.new_from_ms <= stamp_ms <= self.new_until_ms


def tolerance_ms(elapsed_ms: int) -> int:
    """The largest gap (ms) between the two clocks that is drift, not a step, after
    ``elapsed_ms`` of boot time."""
    return TOLERANCE_MS + int(abs(elapsed_ms) * DRIFT_PER_MS)


def step_ms(last: Reading, now: Reading) -> int:
    """How far the store's clock stepped between two readings of one boot (ms; positive:
    forward, negative: back); 0 when the gap is within drift, or when the boot-time clock
    went back (readings that cannot be of one boot are not compared)."""
    elapsed = now.boot_ms - last.boot_ms
    if elapsed < 0:
        return 0
    gap = (now.store_ms - last.store_ms) - elapsed
    return gap if abs(gap) > tolerance_ms(elapsed) else 0


def shift(last: Reading, now: Reading) -> Shift | None:
    """The shift that puts the stamps written before a step into the store's clock as it
    reads now; None when the clock did not step."""
    step = step_ms(last, now)
    if not step:
        return None
    slack = tolerance_ms(now.boot_ms - last.boot_ms)
    return Shift(step, last.store_ms + step - slack, now.store_ms + slack)


def witnesses(last: Reading, now: Reading) -> tuple[int, int]:
    """The span (after, until] of the store's clock (ms) in which another boot's reading
    shows that what looks like a step here is this boot's own: a VM paused by its host,
    whose boot-time clock stood still while the database server's ran on.

    No clock read before a step can read later than ``after``, so such a reading was taken
    after the step, and its boot compared it with its own last reading: had the store's
    clock stepped, that boot would have corrected it, and moved this boot's reading too.
    (Wrong only when that was the boot's first reading: a step of the server's clock that
    comes just as a new host starts is not corrected.) Only a PostgreSQL store has other
    boots' readings that run on meanwhile."""
    elapsed = now.boot_ms - last.boot_ms
    return last.store_ms + elapsed + tolerance_ms(elapsed), now.store_ms + tolerance_ms(elapsed)


def worth_writing(last: Reading | None, now: Reading) -> bool:
    """Whether a recovery pass that found ``last`` should take the write lock: to correct a
    step, or to keep the reading fresh (see the module's text), or to make the first one."""
    if last is None or step_ms(last, now):
        return True
    return not 0 <= now.boot_ms - last.boot_ms < REFRESH_MS
