"""Queue settings (paused, limited) over the SQL store base, once for both
dialects. The claim statements of each dialect enforce what is stored here."""

from __future__ import annotations

from queuectl.models import QueueChange, QueueInfo, QueueSettings, Rate
from queuectl.storage.base import KEEP, Keep, change_queue_settings
from queuectl.storage.queues import queue_from_row, queue_infos
from queuectl.storage.sql_store import C, SqlStore


class SqlQueues(SqlStore[C]):
    """SqlStore with queue settings; the dialects subclass this."""

    def queue_settings(self) -> list[QueueSettings]:
        return [queue_from_row(row) for row in self._read("queue_settings")]

    def queue_update(
        self, name: str, *, paused: bool | None = None, limit: int | None | Keep = KEEP,
        rate: Rate | None | Keep = KEEP,
    ) -> QueueChange:
        change_queue_settings(QueueSettings(name), paused, limit, rate)  # refused before a write
        with self._write() as conn:
            row = conn.execute(self._q["queue_get"], {"name": name}).fetchone()
            before = queue_from_row(row) if row else QueueSettings(name)
            has_jobs = conn.execute(self._q["queue_has_jobs"], {"name": name}).fetchone()[0]
            after = change_queue_settings(before, paused, limit, rate)
            if after.has_settings:
                put = {"name": name, "paused": after.paused, "limit": after.limit,
                       "rate_count": after.rate.count if after.rate else None,
                       "rate_ms": after.rate.window_ms if after.rate else None}
                conn.execute(self._q["queue_put"], {**put, **self._clock()})
            else:
                conn.execute(self._q["queue_drop"], {"name": name})
            if after.rate is None and before.rate is not None:
                conn.execute(self._q["queue_forget_starts"], {"name": name})
            self._wake(conn, "work")  # a resume or a raised limit makes jobs claimable
        return QueueChange(before, after, row is not None or bool(has_jobs))

    def mutex_holder(self, name: str) -> str | None:
        rows = self._read("mutex_holder", {"name": name})
        return str(rows[0][0]) if rows else None

    def queue_overview(self) -> list[QueueInfo]:
        with self._snapshot() as conn:
            counts = conn.execute(self._q["queue_counts"], {}).fetchall()
            settings = [queue_from_row(row) for row in conn.execute(self._q["queue_settings"], {})]
        return queue_infos(counts, settings)
