"""Keeping the store's times true to elapsed time when its clock steps, once for both
dialects: what a step is and which times move is storage/clock_steps.py's."""

from __future__ import annotations

from collections.abc import Callable

from queuectl.storage.sql_store import C, SqlStore

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from queuectl.storage.clock_steps import Reading, Shift
    from queuectl.storage.sql_store import Params


class SqlClock(SqlStore[C]):
    """SqlStore with the clock-step tracking that pools call in their recovery passes."""

    def track_clock(self, boot_id: str, boot_ms: Callable[[], int]) -> int:
        if not boot_id:
            return 0  # readings of unknown boots cannot be compared
        # Only a pool tracks the clock: the commands that open this store do not import it.
        from queuectl.storage import clock_steps

        # A read without the write lock: the reading is written again only now and then.
        with self._reading() as conn:
            last, now = self._clock_readings(conn, boot_id, boot_ms)
        if not clock_steps.worth_writing(last, now):
            return 0
        with self._write() as conn:  # read again: another pool may have corrected it
            conn.execute(self._q["clock_lock"])
            last, now = self._clock_readings(conn, boot_id, boot_ms)
            found = None
            if last is not None:
                found = clock_steps.shift(last, now)
                if found is not None and self._witnessed(conn, boot_id, last, now):
                    found = None  # this boot's clocks disagree, not the store's
            if found is not None:
                self._shift(conn, boot_id, found, now.store_ms)
            params = {"boot_id": boot_id, "store_ms": now.store_ms, "boot_ms": now.boot_ms,
                      "forget_ms": clock_steps.FORGET_MS}
            conn.execute(self._q["clock_save"], params)
            conn.execute(self._q["clock_forget"], params)
            if found is not None:
                self._wake(conn, "work")  # jobs may be due now, or idle workers oversleep
        return 0 if found is None else found.step_ms

    def _clock_readings(
        self, conn: C, boot_id: str, boot_ms: Callable[[], int]
    ) -> tuple[Reading | None, Reading]:
        """(this boot's last reading, None: none yet; the two clocks now)."""
        from queuectl.storage.clock_steps import Reading

        ticks = boot_ms()  # next to the store's clock: in the same statement's moment
        row = conn.execute(self._q["clock_reading"], {"boot_id": boot_id, **self._clock()}
                           ).fetchone()
        assert row is not None
        now = Reading(int(row[0]), ticks)
        return (None if row[1] is None else Reading(int(row[1]), int(row[2]))), now

    def _witnessed(self, conn: C, boot_id: str, last: Reading, now: Reading) -> bool:
        """Another boot read the store's clock since the step seen here without seeing it:
        the store's clock did not step (see clock_steps.witnesses)."""
        from queuectl.storage import clock_steps

        after, until = clock_steps.witnesses(last, now)
        row = conn.execute(self._q["clock_witnesses"],
                           {"boot_id": boot_id, "after": after, "until": until}).fetchone()
        return row is not None and int(row[0]) > 0

    def _shift(self, conn: C, boot_id: str, shift: Shift, now_ms: int) -> None:
        """Move every time counted from when it was written by the step, in one
        transaction; the stamps written since the step stay (see clock_steps)."""
        params: Params = {"step": shift.step_ms, "new_from": shift.new_from_ms,
                          "new_until": shift.new_until_ms, "now": now_ms, "boot_id": boot_id}
        for name in ("clock_shift_workers", "clock_shift_claims", "clock_shift_run_at",
                     "clock_shift_readings"):
            conn.execute(self._q[name], params)
        for name, schedule, next_run_at, updated_at in conn.execute(
                self._q["clock_schedules"], {}).fetchall():
            # A cron expression's next tick is a wall-clock time: it stays (a step back
            # does not run again the ticks that ran, a step forward runs the one missed).
            if _every_ms(schedule) is not None and shift.moves(updated_at):
                conn.execute(self._q["clock_shift_schedule"],
                             {"step": shift.step_ms, "name": name, "next_run_at": next_run_at})


def _every_ms(schedule: str) -> int | None:
    """An ``every`` schedule's period; None for a cron expression. Imported here: the
    schedules module (cronsim, zoneinfo) is the pool's, not every command's."""
    from queuectl.schedules import parse_schedule

    return parse_schedule(schedule).every_ms
