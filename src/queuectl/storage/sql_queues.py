"""Queue settings (paused, limited) over the SQL store base, once for both
dialects. The claim statements of each dialect enforce what is stored here."""

from __future__ import annotations

from queuectl.models import QueueChange, QueueInfo, QueueSettings, Rate
from queuectl.storage.base import KEEP, Keep, change_queue_settings
from queuectl.storage.queues import queue_from_row, queue_infos
from queuectl.storage.sql_store import C, SqlStore

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from datetime import datetime


class SqlQueues(SqlStore[C]):
    """SqlStore with queue settings; the dialects subclass this."""

    def queue_settings(self) -> list[QueueSettings]:
        return [queue_from_row(row) for row in self._read("queue_settings")]

    def queue_update(
        self, name: str, *, paused: bool | None = None, limit: int | None | Keep = KEEP,
        rate: Rate | None | Keep = KEEP, window: tuple[str, str] | None | Keep = KEEP,
    ) -> QueueChange:
        # refused before a write
        change_queue_settings(QueueSettings(name), paused, limit, rate, window)
        with self._write() as conn:
            row = conn.execute(self._q["queue_get"], {"name": name}).fetchone()
            before = queue_from_row(row) if row else QueueSettings(name)
            has_jobs = conn.execute(self._q["queue_has_jobs"], {"name": name}).fetchone()[0]
            after = change_queue_settings(before, paused, limit, rate, window)
            if after.has_settings:
                opens, closes = self._window_stretch(conn, after.window, after.window_tz)
                put = {"name": name, "paused": after.paused, "limit": after.limit,
                       "rate_count": after.rate.count if after.rate else None,
                       "rate_ms": after.rate.window_ms if after.rate else None,
                       "window_spec": after.window, "window_tz": after.window_tz,
                       "window_opens": opens, "window_closes": closes}
                conn.execute(self._q["queue_put"], {**put, **self._clock()})
            else:
                conn.execute(self._q["queue_drop"], {"name": name})
            if after.rate is None and before.rate is not None:
                conn.execute(self._q["queue_forget_starts"], {"name": name})
            self._wake(conn, "work")  # a resume or a raised limit makes jobs claimable
        return QueueChange(before, after, row is not None or bool(has_jobs))

    def _window_stretch(
        self, conn: C, spec: str | None, tz: str | None
    ) -> tuple[int | None, int | None]:
        """(opens, closes) in ms of the stretch a window is open now or opens next, by the
        store's clock; (None, None) without a window."""
        if spec is None or tz is None:
            return None, None
        from queuectl import windows
        from queuectl.schedules import zone

        now_ms = int(conn.execute(self._q["cron_now"], self._clock()).fetchone()[0])
        opens, closes = windows.next_open(windows.parse_window(spec), zone(tz),
                                          windows.from_ms(now_ms))
        return windows.to_ms(opens), windows.to_ms(closes)

    def store_now(self) -> datetime:
        # Not through windows.from_ms: `show` reads the store's time and must not import
        # the windows' parsing (dataclasses and all) to do it.
        from datetime import UTC, datetime

        [(now_ms,)] = self._read("cron_now", self._clock())
        return datetime.fromtimestamp(int(now_ms) / 1000, UTC)

    def queue_windows_refresh(self) -> int:
        clock = self._clock()
        if not self._read("queue_windows_ended", clock):
            return 0
        moved = 0
        with self._write() as conn:
            for name, spec, tz in conn.execute(self._q["queue_windows_ended"], clock).fetchall():
                opens, closes = self._window_stretch(conn, spec, tz)
                conn.execute(self._q["queue_window_move"],
                             {"name": name, "opens": opens, "closes": closes})
                moved += 1
            if moved:
                self._wake(conn, "work")
        return moved

    def mutex_holder(self, name: str) -> str | None:
        rows = self._read("mutex_holder", {"name": name})
        return str(rows[0][0]) if rows else None

    def queue_overview(self) -> list[QueueInfo]:
        with self._snapshot() as conn:
            counts = conn.execute(self._q["queue_counts"], {}).fetchall()
            settings = [queue_from_row(row) for row in conn.execute(self._q["queue_settings"], {})]
            now_ms = int(conn.execute(self._q["cron_now"], self._clock()).fetchone()[0])
        return queue_infos(counts, settings, now_ms)
