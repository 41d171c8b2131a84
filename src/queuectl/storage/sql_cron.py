"""Recurring jobs over the SQL store base: the Storage contract's cron_* methods, once for
both dialects.

The flow of firing a tick (and the guard that makes it fire once) is storage/cron_flow.py;
this class runs it in the dialect's transactions (SqlStore's hooks) with the dialect's named
``cron_*`` queries. Every change wakes the idle workers of every pool, as an enqueue does,
so they plan their sleep around the new ticks at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from queuectl.errors import DuplicateSchedule, ScheduleNotFound
from queuectl.models import Job
from queuectl.settings import Config
from queuectl.storage.sql_store import C, SqlStore, unmatchable

# cron_flow brings the schedules (cronsim, zoneinfo): each method below imports it when
# called, so that the enqueues and reads which open this store never pay for it.
TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    from typing import Any

    from queuectl.recurring import Cron, CronSpec
    from queuectl.storage import cron_flow
    from queuectl.storage.sql_store import Params


class SqlCron(SqlStore[C]):
    """SqlStore with recurring jobs; the dialects subclass this."""

    def _mappings(self, conn: C, name: str, params: Params) -> Sequence[Mapping[str, Any]]:
        """The rows of query ``name`` by column name (cron_flow reads them so)."""
        rows: Sequence[Mapping[str, Any]] = conn.execute(self._q[name], params).fetchall()
        return rows

    def _cron_rows(self, conn: C, name: str | None) -> Sequence[Mapping[str, Any]]:
        """cron_list's rows: every schedule, or the one named."""
        return self._mappings(conn, "cron_list", {"name": name, **self._clock()})

    def _store_now(self, conn: C) -> int:
        """The store's now (epoch ms), as the transaction sees it."""
        return int(conn.execute(self._q["cron_now"], self._clock()).fetchone()[0])

    def _runner(self, conn: C) -> cron_flow.Run:
        """cron_flow's way to run a named query in this transaction: its first row."""

        def run(name: str, params: dict[str, Any]) -> Any:
            cur = conn.execute(self._q[name], params)
            return cur.fetchone() if cur.description else None  # a statement without rows

        return run

    def _canceller(self, conn: C) -> cron_flow.Cancel:
        """cron_flow's way to cancel a job in this transaction, as cancel() does: a running
        job's attempt is kept, its worker woken to kill it, its waiting dependents
        cancelled."""

        def cancel(job_id: str) -> None:
            clock = self._clock()
            params = {"ids": self._list([job_id]), **clock}
            conn.execute(self._q["keep_running_attempts"], params)
            done = self._jobs(conn, "cancel_jobs", params)
            conn.execute(self._q["cancel_dependents"], params).fetchall()
            holders = [job.worker for job in done if job.worker and job.started_at]
            if holders:
                self._wake(conn, "cancel", [w for w in holders if w])

        return cancel

    def cron_judge_overdue(self) -> list[str]:
        from queuectl.storage import cron_flow

        with self._reading() as conn:
            names = [row[0] for row in conn.execute(self._q["cron_alerting"], {}).fetchall()]
            rows = [r for name in names for r in self._cron_rows(conn, name)]
        began = []
        for row in rows:
            if not cron_flow.episode_due(cron_flow.cron_from_row(row)):
                continue  # the common case: nothing to write
            with self._write() as conn:  # judged again under the write lock
                for fresh in self._cron_rows(conn, row["name"]):
                    if cron_flow.judge_overdue(fresh, self._runner(conn)):
                        began.append(str(fresh["name"]))
                        self._wake_for_hooks(conn)  # its `overdue` hooks' jobs
        return began

    def cron_judge_suspects(self) -> list[str]:
        from queuectl.storage import cron_flow

        rows = self._read("cron_unjudged", {})
        news = [(str(name), int(seen), int(top)) for name, seen, top in rows
                if top is not None and int(top) > int(seen)]
        flagged: list[str] = []
        for name, seen, top in news:
            with self._write() as conn:
                runs = self._mappings(conn, "cron_runs", {"name": name, "top": top,
                                                          "limit": cron_flow.RUNS_READ})
                made = cron_flow.judge_suspects(name, seen, top, runs, self._store_now(conn),
                                                self._runner(conn))
                if made:
                    self._wake_for_hooks(conn)  # their `suspect` hooks' jobs
                flagged += made
        return flagged

    def cron_suspects(self, name: str, limit: int = 20) -> list[tuple[str, str]]:
        if unmatchable(name):
            return []
        rows = self._read("cron_suspects", {"name": name, "limit": limit})
        return [(str(job_id), str(reason)) for job_id, reason, _ in rows]

    def cron_backfill(self, name: str, start: datetime, end: datetime) -> list[str]:
        from queuectl.storage import cron_flow

        if unmatchable(name):
            raise ScheduleNotFound(name)
        config = Config.from_stored(self.config_items())
        with self._write() as conn:
            rows = self._cron_rows(conn, name)
            if not rows:
                raise ScheduleNotFound(name)
            made = cron_flow.backfill(rows[0], start, end, self._store_now(conn), config,
                                      self._runner(conn))
            if made:
                self._wake(conn, "work")
        return made

    def cron_add(self, spec: CronSpec, replace: bool = False) -> Cron:
        from queuectl.storage import cron_flow

        with self._write() as conn:
            params = cron_flow.upsert_params(spec, self._store_now(conn), replace)
            if conn.execute(self._q["cron_upsert"], params).fetchone() is None:
                raise DuplicateSchedule(spec.name)
            self._wake(conn, "work")
        return self.cron_get(spec.name)

    def cron_list(self, name: str | None = None) -> list[Cron]:
        from queuectl.storage import cron_flow

        if unmatchable(name):
            return []
        with self._reading() as conn:
            rows = self._cron_rows(conn, name)
        return [cron_flow.cron_from_row(row) for row in rows]

    def cron_remove(self, name: str) -> None:
        if unmatchable(name):
            raise ScheduleNotFound(name)
        with self._write() as conn:
            if conn.execute(self._q["cron_delete"], {"name": name}).fetchone() is None:
                raise ScheduleNotFound(name)
            conn.execute(self._q["cron_delete_skipped"], {"name": name})
            conn.execute(self._q["cron_delete_suspects"], {"name": name})
            self._wake(conn, "work")

    def cron_set_paused(self, name: str, paused: bool) -> Cron:
        from queuectl.storage import cron_flow

        if unmatchable(name):
            raise ScheduleNotFound(name)
        with self._write() as conn:
            rows = self._cron_rows(conn, name)
            if not rows:
                raise ScheduleNotFound(name)
            params = cron_flow.paused_params(rows[0], paused, self._store_now(conn))
            conn.execute(self._q["cron_set_paused"], params)
            self._wake(conn, "work")
        return self.cron_get(name)

    def cron_run_now(self, name: str) -> Job:
        from queuectl.storage import cron_flow

        if unmatchable(name):
            raise ScheduleNotFound(name)
        config = Config.from_stored(self.config_items())
        with self._write() as conn:
            params = cron_flow.manual_job_params(name, self._store_now(conn), config)
            if conn.execute(self._q["cron_insert_job"], params).fetchone() is None:
                raise ScheduleNotFound(name)
            self._wake(conn, "work")
        job = self.get_job(params["id"])
        assert job is not None
        return job

    def cron_skipped(self, name: str, limit: int = 20) -> list[datetime]:
        from queuectl.storage import cron_flow

        if unmatchable(name):
            return []
        rows = self._read("cron_skipped", {"name": name, "limit": limit})
        return cron_flow.skipped_from_rows(rows)

    def cron_seconds_until_tick(self) -> float | None:
        from queuectl.storage import cron_flow

        [(delta_ms,)] = self._read("cron_next", self._clock())
        return cron_flow.seconds_until(delta_ms)

    def cron_fire(self, worker_id: str | None = None) -> list[cron_flow.Fired]:
        from queuectl.storage import cron_flow

        config: Config | None = None
        fired: list[cron_flow.Fired] = []
        while True:  # again while a pass fired a late tick whose next has come too
            with self._reading() as conn:
                due = self._mappings(conn, "cron_due", self._clock())
            if not due:
                return fired
            config = config or Config.from_stored(self.config_items())
            before = len(fired)
            for row in due:  # one short transaction per schedule: no lock is held long
                with self._write() as conn:
                    done = cron_flow.fire(row, config, self._runner(conn),
                                          self._canceller(conn), worker_id)
                    if done is not None and done.job_id:
                        self._wake(conn, "work")
                if done is not None:
                    fired.append(done)
            if len(fired) == before:
                return fired
