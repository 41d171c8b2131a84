"""The fleet figure: what idle pools cost PostgreSQL, counted rather than timed.

For P pools of W workers (`queuectl worker start --count W`, each its own process tree)
on one throwaway database, idle:
- **connections held**: rows of ``pg_stat_activity`` for the database (this script watches
  from the admin database, so it is not among them);
- **idle transactions per worker-second**: the idle window's transactions over its length
  and the number of workers (heartbeats, recovery looks, timed checks);
- **transactions per enqueue**: ``xact_commit + xact_rollback`` of ``pg_stat_database``
  over N single `queuectl enqueue -c true` (a fresh process each, GAP seconds apart, each
  job runs and ends), minus the same pools' transactions over an idle window of the same
  length (heartbeats, recovery looks: time-driven, not enqueue-driven), minus the CLI's
  own transactions per enqueue (measured with no pool). The idle windows come before and
  after the busy one, and their mean is subtracted. Backends report their counts
  with a delay (PostgreSQL flushes an idle backend's statistics within ~10 s), so each
  window lasts SETTLE seconds past its last action. The windows last exactly as long,
  a whole number of heartbeat intervals (5 s): workers started together
  heartbeat together, and a window one round longer than the other would count 32
  workers' heartbeats as the enqueues' cost.

Run: ``python -m bench.fleet [--pools 1x2,1x16,2x8,1x32] [--enqueues 20]``; prints one
line per shape and a Markdown table.

With 32 workers an idle window holds over a thousand transactions, so the difference of two
windows is only good to a few transactions per enqueue. ``--server-log FILE`` (the file
the server logs to, readable by this script) counts exactly instead: the throwaway
database gets ``log_statement = 'all'`` (its own sessions only), and each statement the
pools' backends ran during the enqueues is read from the log and counted as a transaction
(a BEGIN ... COMMIT block as one), except those of a heartbeat's round (a backend's
statements each within ROUND seconds of the one before, one of them a heartbeat: the
heartbeat, the config read and recovery look around it and the timed claim that follows
are time-driven). The same count
over an idle window of the same length says how well that split holds (it should be 0).

``--pickup 32`` instead: one pool of that many idle workers on each store (``--backends``),
PICKUPS single `queuectl enqueue -c true` 20 ms apart; pickup = the job's ``started_at``
minus its ``created_at`` (whole milliseconds), p50 and p99.

``--idle 40``: the idle cost of each shape's pools, per worker-second over 40 s (a whole
number of heartbeat intervals; with 8 workers a pool's recovery looks come round every 40 s):
transactions, CPU of the database's backends, and CPU of the pools' own processes, both
from /proc/PID/schedstat. The same run with the previous version's interpreter (its
``queuectl`` beside it) gives the baseline.

``--plan-cost 1000``: the server CPU of the idle plan that a claim taking nothing reads
(`queuectl_idle_plan`), per call, beside ``SELECT 1``; with no jobs, then with BACKLOG
pending jobs in a queue the planning worker does not serve.

``--capacity 32``: one pool of that many workers on PostgreSQL drains JOBS no-op jobs
(`true`, enqueued in one `enqueue --file` before the pool starts); jobs per second (N over
first start to last finish) and the server's CPU per job: utime + stime from
``/proc/PID/stat`` of the database's backends (pg_stat_activity), summed over the drain
(the WAL writer and other background processes are not in it).

``--drain 12x8``: that many pools (each its own `worker start --count W` and its own
``QUEUECTL_HOST_ID``) on one throwaway database drain JOBS `true` jobs (``--jobs``, one
`enqueue --file` once every worker has registered, or after 40 s); the most server
connections of the database seen (``pg_stat_activity``, sampled every 50 ms from the admin
database), the workers registered, attempts per job (1.0: no duplicate), jobs failed, and
the drain's seconds. Point ``QUEUECTL_BENCH_PG`` at a server of its own when the shape may
reach its ``max_connections``: a full server refuses everyone else's connections too.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import psycopg

from bench.driver import console_script
from bench.stats import median, percentile
from bench.stores import PG_ADMIN_URL, throwaway
from queuectl.storage.sql import queries

GAP = 0.2  # seconds between two enqueues
SETTLE = 11.0  # seconds: an idle backend's statistics reach pg_stat_database within 10 s
HEARTBEAT = 5.0  # seconds between two heartbeats of an idle worker (worker.MAX_HEARTBEAT)
# Seconds idle pools run before their idle cost is measured: past SETTLE (their start is
# reported), and past 5 heartbeat rounds, after which psycopg runs each of a worker's
# statements prepared (its prepare_threshold): the steady state of a long-lived pool.
WARM = 7 * HEARTBEAT
ROUND = 0.05  # seconds: statements of one backend this close together are one round
# A statement line of the server's log (log_line_prefix '%m [%p] %q%u@%d '): time, pid,
# database, text (its first line; psycopg's parameterized statements are "execute").
LOG_LINE = re.compile(r"^(\S+ \S+) \S+ \[(\d+)\] \S*@(\S+) LOG:  "
                      r"(?:statement|execute [^:]*): (.*)$")


@dataclass
class Shape:
    pools: int
    workers: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        pools, _, workers = text.partition("x")
        return cls(int(pools), int(workers))

    def __str__(self) -> str:
        return f"{self.pools}x{self.workers}"


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def xacts(admin: psycopg.Connection[tuple[object, ...]], db: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                        "WHERE datname = %s", (db,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def connections(admin: psycopg.Connection[tuple[object, ...]], db: str) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                        (db,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def window(admin: psycopg.Connection[tuple[object, ...]], db: str,
           action: Callable[[], None], length: float | None = None) -> tuple[int, float]:
    """(transactions of the database, seconds) over a window that begins with ``action``
    and lasts ``length`` seconds, or the fewest heartbeat intervals that hold ``action``
    and SETTLE seconds after it."""
    began = time.monotonic()
    before = xacts(admin, db)
    action()
    if length is None:
        took = time.monotonic() - began
        length = HEARTBEAT * math.ceil((took + SETTLE) / HEARTBEAT)
    time.sleep(max(0.0, began + length - time.monotonic()))
    return xacts(admin, db) - before, length


def logged(log: str, span: tuple[int, int], db: str) -> list[tuple[int, float, str]]:
    """(pid, epoch seconds, first line) of each statement of ``db`` logged between the two
    offsets of ``span``."""
    with open(log, "rb") as f:
        f.seek(span[0])
        text = f.read(span[1] - span[0]).decode(errors="replace")
    found = []
    for line in text.splitlines():
        match = LOG_LINE.match(line)
        if match and match[3] == db:
            when = datetime.fromisoformat(match[1]).timestamp()
            found.append((int(match[2]), when, match[4].strip()))
    return found


def event_transactions(statements: list[tuple[int, float, str]], pids: set[int]) -> int:
    """Transactions of the backends ``pids`` outside their heartbeat rounds (a round: a
    backend's statements each within ROUND seconds of the one before; a heartbeat's round
    may begin with a config read, and ends with the timed claim)."""
    heartbeat = queries("postgres")["heartbeat"].splitlines()[0]
    rounds: dict[int, list[list[str]]] = {}
    last: dict[int, float] = {}
    for pid, when, first in statements:
        if pid not in pids:
            continue
        mine = rounds.setdefault(pid, [])
        if not mine or when - last[pid] > ROUND:
            mine.append([])
        mine[-1].append(first)
        last[pid] = when
    count = 0
    for mine in rounds.values():
        for round_ in mine:
            if heartbeat in round_:
                continue
            block = False  # inside BEGIN ... COMMIT: one transaction, counted at BEGIN
            for first in round_:
                word = first.split()[0].upper() if first else ""
                if word in ("COMMIT", "ROLLBACK"):
                    block = False
                elif not block:
                    count += 1
                    block = word == "BEGIN"
    return count


@dataclass
class Pools:
    enqueue: Callable[[], None]  # enqueues one `true` job
    sessions: set[int]  # each pool's session id (its supervisor's pid)


@contextmanager
def idle_pools(shape: Shape, url: str, home: str) -> Iterator[Pools]:
    """``shape``'s pools started on ``url`` and idle (every worker registered and asleep);
    yields them (Pools). Stopped on the way out."""
    exe = console_script()
    env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": home}
    subprocess.run([exe, "config", "set", "max-retries", "0"], env=env, check=True,
                   capture_output=True)
    pools = [subprocess.Popen([exe, "worker", "start", "--count", str(shape.workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
             for _ in range(shape.pools)]
    try:
        deadline = time.monotonic() + 60
        while _registered(url) < shape.pools * shape.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # every worker asleep

        def enqueue() -> None:
            subprocess.run([exe, "enqueue", "-c", "true"], env=env, check=True,
                           capture_output=True)

        yield Pools(enqueue, {proc.pid for proc in pools})
    finally:
        for proc in pools:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in pools:
            proc.wait(30)


def measure_logged(shape: Shape, enqueues: int, log: str) -> dict[str, float]:
    """Worker transactions per enqueue counted from the server's log (see above), over the
    enqueues (and a second to end the last job), then over an idle window as long."""
    with tempfile.TemporaryDirectory() as tmp, throwaway("postgres", tmp) as url:
        db = _dbname(url)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{db}" SET log_statement = \'all\'')
        with idle_pools(shape, url, os.path.join(tmp, "home")) as pools:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                pids = {int(str(r[0])) for r in admin.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))}
            began, start = time.monotonic(), os.path.getsize(log)
            for _ in range(enqueues):
                pools.enqueue()
                time.sleep(GAP)
            time.sleep(1.0)
            took, middle = time.monotonic() - began, os.path.getsize(log)
            time.sleep(took)
            end = os.path.getsize(log)
            done = _finished(url)
    busy = event_transactions(logged(log, (start, middle), db), pids)
    idle = event_transactions(logged(log, (middle, end), db), pids)
    return {"workers_per_enqueue": busy / enqueues, "idle_per_enqueue": idle / enqueues,
            "finished": done}


def measure(shape: Shape, enqueues: int, cli_own: float | None,
            length: float | None = None) -> dict[str, float]:
    """One shape's figures; ``length``: the windows' (None: sized by the enqueues, which
    the run without pools does; its length is returned)."""
    with tempfile.TemporaryDirectory() as tmp, throwaway("postgres", tmp) as url, \
            idle_pools(shape, url, os.path.join(tmp, "home")) as pools, \
            psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        db = _dbname(url)
        held = connections(admin, db)

        def idle() -> None:
            time.sleep(enqueues * GAP)

        def enqueue() -> None:
            for _ in range(enqueues):
                pools.enqueue()
                time.sleep(GAP)

        # Idle windows on both sides, their mean subtracted: workers started together
        # heartbeat together, and a burst of heartbeats reported across one edge of the
        # busy window would otherwise count as the enqueues' cost.
        before = window(admin, db, idle, length)[0] if shape.pools else 0
        busy, length = window(admin, db, enqueue, length)
        after = window(admin, db, idle, length)[0] if shape.pools else 0
        quiet = (before + after) / 2
        done = _finished(url)
    total = (busy - quiet) / enqueues
    workers = total - cli_own if cli_own is not None else 0.0
    size = shape.pools * shape.workers
    return {"connections": held, "per_enqueue": total, "workers_per_enqueue": workers,
            "idle_window": quiet, "finished": done, "length": length,
            "idle_per_worker_s": quiet / length / size if size else 0.0}


def _registered(url: str) -> int:
    with psycopg.connect(url) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM workers").fetchone()
        except psycopg.Error:
            return 0
        return int(str(row[0])) if row else 0


def _finished(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM jobs WHERE state = 'completed'").fetchone()
        return int(str(row[0])) if row else 0


def pickup(backend: str, workers: int, pickups: int) -> dict[str, float | None]:
    """p50 / p99 / max milliseconds from enqueue to start, ``workers`` idle in one pool."""
    from queuectl.storage import open_store

    with tempfile.TemporaryDirectory() as tmp, throwaway(backend, tmp) as url:
        exe = console_script()
        env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": os.path.join(tmp, "home")}
        subprocess.run([exe, "config", "set", "max-retries", "0"], env=env, check=True,
                       capture_output=True)
        pool = subprocess.Popen([exe, "worker", "start", "--count", str(workers)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        store = open_store(url)
        try:
            deadline = time.monotonic() + 60
            while store.stats().workers_active < workers and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)
            for _ in range(pickups):
                subprocess.run([exe, "enqueue", "-c", "true"], env=env, check=True,
                               capture_output=True)
                time.sleep(0.02)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                jobs = store.list_jobs(limit=None)
                if all(j.finished_at for j in jobs):
                    break
                time.sleep(0.1)
            waits = [(j.started_at - j.created_at).total_seconds() * 1000
                     for j in jobs if j.started_at]
        finally:
            store.close()
            with suppress(ProcessLookupError):
                os.killpg(pool.pid, signal.SIGTERM)
            pool.wait(30)
    return {"samples": len(waits), "p50_ms": median(waits), "p99_ms": percentile(waits, 99),
            "max_ms": max(waits)}


def _backend_cpu(admin: psycopg.Connection[tuple[object, ...]], db: str,
                 mine: int) -> dict[int, int]:
    """Clock ticks (utime + stime) of each backend of ``db`` but ``mine``, by pid."""
    admin.execute("SELECT pg_stat_clear_snapshot()")
    pids = [int(str(r[0])) for r in admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s", (db, mine))]
    ticks = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def _cpu_ns(pids: list[int]) -> int:
    """Nanoseconds on a CPU (/proc/PID/schedstat, exact, unlike the clock ticks of stat)
    of the processes ``pids`` that are still there."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
        except OSError:
            continue
    return total


def _sessions(sids: set[int]) -> list[int]:
    """The processes of the sessions ``sids`` (a pool started in its own session: its
    supervisor, its workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) in sids:
                found.append(int(entry))
    return found


def idle_cost(shape: Shape, seconds: float) -> dict[str, float]:
    """What idle pools cost, per worker-second over ``seconds`` (after WARM seconds):
    transactions of the database (pg_stat_database),
    CPU of its backends, and CPU of the pools' own processes (both in µs). Backends that
    come and go within the window (workers that close their connections when idle) are
    counted through the server's postmaster: the CPU of its reaped children (cutime +
    cstime, which also holds any autovacuum worker that ended meanwhile)."""
    with tempfile.TemporaryDirectory() as tmp, throwaway("postgres", tmp) as url, \
            idle_pools(shape, url, os.path.join(tmp, "home")) as pools, \
            psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        db = _dbname(url)
        time.sleep(WARM)
        processes = _sessions(pools.sessions)
        postmaster = _parent(admin.info.backend_pid)
        before = xacts(admin, db), _server_cpu(admin, db, postmaster), _cpu_ns(processes)
        time.sleep(seconds)
        after = xacts(admin, db), _server_cpu(admin, db, postmaster), _cpu_ns(processes)
    per = seconds * shape.pools * shape.workers
    live_us = sum(after[1][0].values()) - sum(before[1][0].values())
    reaped_us = after[1][1] - before[1][1]
    return {"tx": (after[0] - before[0]) / per,
            "server_us": (live_us + reaped_us) / per,
            "pool_us": (after[2] - before[2]) / per / 1000}


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _server_cpu(admin: psycopg.Connection[tuple[object, ...]], db: str,
                postmaster: int) -> tuple[dict[int, float], float]:
    """(µs on a CPU of each live backend of ``db``, by pid; µs of the postmaster's reaped
    children). A backend alive at both readings counts its difference; one that ended
    between them counts whole in the second part, so its share before the first reading
    is taken off: the first reading's value of a pid gone by the second stays subtracted."""
    admin.execute("SELECT pg_stat_clear_snapshot()")
    pids = [int(str(r[0])) for r in admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))]
    live = {pid: _cpu_ns([pid]) / 1000 for pid in pids}
    with open(f"/proc/{postmaster}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK") * 1e6
    return live, reaped


def plan_cost(calls: int, backlog: int) -> dict[str, float]:
    """Server CPU (µs) per call of what a claim that takes nothing adds, the idle plan
    (``SELECT queuectl_idle_plan(...)``) for a worker of all queues and one of a queue
    with no jobs, beside ``SELECT 1`` on the same connection; ``backlog`` pending jobs wait
    in a queue neither serves. CPU from /proc/PID/schedstat of the connection's backend."""
    from queuectl.storage import open_store

    with tempfile.TemporaryDirectory() as tmp, throwaway("postgres", tmp) as url:
        open_store(url).close()  # migrated by the queuectl installed beside this interpreter
        with psycopg.connect(url, autocommit=True) as conn:
            if backlog:
                conn.execute("INSERT INTO jobs (id, command, queue, state, run_at, created_at,"
                             " updated_at, max_retries, priority, cwd)"
                             " SELECT 'j' || g, 'true', 'backlog', 'pending', 0, 0, 0, 0, 0, '/'"
                             " FROM generate_series(1, %s) AS g", (backlog,))
                conn.execute("ANALYZE jobs")
            backend = [conn.info.backend_pid]

            def cost(sql: str) -> float:
                for _ in range(20):  # past psycopg's prepare threshold and the plan caches
                    conn.execute(sql, prepare=True)
                began = _cpu_ns(backend)
                for _ in range(calls):
                    conn.execute(sql, prepare=True)
                return (_cpu_ns(backend) - began) / calls / 1000

            return {"select_1": cost("SELECT 1"),
                    "plan_all_queues": cost("SELECT queuectl_idle_plan(NULL)"),
                    "plan_one_queue": cost("SELECT queuectl_idle_plan(ARRAY['idle'])")}


def capacity(workers: int, jobs: int) -> dict[str, float]:
    """Jobs per second and server CPU (µs) per job, ``workers`` draining ``jobs``."""
    from queuectl.storage import open_store

    hz = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory() as tmp, throwaway("postgres", tmp) as url:
        db = _dbname(url)
        exe = console_script()
        env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": os.path.join(tmp, "home")}
        path = os.path.join(tmp, "jobs.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"command": "true"}\n' * jobs)
        subprocess.run([exe, "enqueue", "--file", path], env=env, check=True,
                       capture_output=True)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin, \
                psycopg.connect(url, autocommit=True) as watch:
            mine = watch.info.backend_pid
            pool = subprocess.Popen([exe, "worker", "start", "--count", str(workers)],
                                    env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                # The latest reading of each backend (the pool's connect from their start,
                # so their whole lives; a CLI's that came and went in between is missed).
                seen: dict[int, int] = {}
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    row = watch.execute("SELECT count(*) FROM jobs "
                                        "WHERE finished_at IS NOT NULL").fetchone()
                    seen.update(_backend_cpu(admin, db, mine))
                    if row is not None and int(str(row[0])) >= jobs:
                        break
                    time.sleep(0.2)
            finally:
                with suppress(ProcessLookupError):
                    os.killpg(pool.pid, signal.SIGTERM)
                pool.wait(60)
        store = open_store(url)
        try:
            listed = store.list_jobs(limit=None)
        finally:
            store.close()
    starts = [j.started_at for j in listed if j.started_at]
    ends = [j.finished_at for j in listed if j.finished_at]
    span = (max(ends) - min(starts)).total_seconds()
    return {"jobs": len(ends), "jobs_per_s": round(len(ends) / span, 1),
            "server_cpu_us_per_job": round(sum(seen.values()) / hz / len(ends) * 1e6),
            "backends": len(seen)}


def drain(shape: Shape, jobs: int) -> dict[str, float | str]:
    """``shape``'s pools, one host id each, drain ``jobs`` `true` jobs (see above)."""
    with tempfile.TemporaryDirectory() as tmp, throwaway("postgres", tmp) as url, \
            psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        db = _dbname(url)
        exe = console_script()
        env = {**os.environ, "QUEUECTL_DB": url, "QUEUECTL_HOME": os.path.join(tmp, "home")}
        subprocess.run([exe, "config", "set", "max-retries", "0"], env=env, check=True,
                       capture_output=True)
        path = os.path.join(tmp, "jobs.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"command": "true"}\n' * jobs)
        # Opened first, so that a full server cannot refuse it; not counted below.
        watch = psycopg.connect(url, autocommit=True)
        most = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                most[0] = max(most[0], connections(admin, db) - 1)

        def read(sql: str) -> int:
            row = watch.execute(sql).fetchone()
            return int(str(row[0])) if row else 0

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        pools = [subprocess.Popen([exe, "worker", "start", "--count", str(shape.workers)],
                                  env={**env, "QUEUECTL_HOST_ID": f"bench-host-{n}"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
                 for n in range(shape.pools)]
        try:
            want, registered, started = shape.pools * shape.workers, 0, time.monotonic()
            while registered < want and time.monotonic() < started + 40:
                time.sleep(0.2)
                registered = max(registered, read("SELECT count(*) FROM workers"))
            began = time.monotonic()
            all_in = began - started
            while subprocess.run([exe, "enqueue", "--file", path], env=env,
                                 capture_output=True).returncode != 0:
                if time.monotonic() - began > 30:  # the server refused it all along
                    return {"registered": registered, "workers": want,
                            "most_connections": most[0], "enqueue": "refused"}
                time.sleep(0.5)
            deadline = time.monotonic() + 300
            while read("SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL") < jobs:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            took = time.monotonic() - began
            attempts = read("SELECT count(*) FROM attempts")
            failed = read("SELECT count(*) FROM jobs WHERE state <> 'completed'")
        finally:
            for proc in pools:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in pools:
                proc.wait(60)
            done.set()
            sampler.join()
            watch.close()
    return {"registered": registered, "workers": want, "registered_in_s": round(all_in, 1),
            "most_connections": most[0], "attempts_per_job": attempts / jobs,
            "not_completed": failed, "drain_s": round(took, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("--pools", default="1x2,1x16,2x8,1x32",
                        help="comma list of POOLSxWORKERS")
    parser.add_argument("--enqueues", type=int, default=20)
    parser.add_argument("--pickup", type=int, default=0, metavar="WORKERS",
                        help="measure pickup with this many idle workers instead")
    parser.add_argument("--pickups", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--capacity", type=int, default=0, metavar="WORKERS",
                        help="measure jobs/s and server CPU per job with this many workers")
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--plan-cost", type=int, default=0, metavar="CALLS",
                        help="measure the server CPU of an idle plan over this many calls")
    parser.add_argument("--backlog", type=int, default=100_000,
                        help="--plan-cost's second run: pending jobs in an unserved queue")
    parser.add_argument("--idle", type=float, default=0, metavar="SECONDS",
                        help="measure what idle pools cost over this many seconds instead")
    parser.add_argument("--server-log", metavar="FILE",
                        help="count transactions per enqueue exactly, from this log of the "
                             "server's (see the module's docstring)")
    parser.add_argument("--drain", metavar="POOLSxWORKERS",
                        help="pools, one host id each, drain --jobs jobs: connections held")
    args = parser.parse_args(argv)
    if args.drain:
        print(f"postgres, {args.drain}: {drain(Shape.parse(args.drain), args.jobs)}")
        return 0
    if args.plan_cost:
        for backlog in (0, args.backlog):
            got = plan_cost(args.plan_cost, backlog)
            print(f"backlog {backlog}: " + ", ".join(f"{k} {v:.0f} µs" for k, v in got.items()))
        return 0
    if args.capacity:
        print(f"postgres, {args.capacity} workers: {capacity(args.capacity, args.jobs)}")
        return 0
    if args.pickup:
        for backend in args.backends.split(","):
            print(f"{backend}, {args.pickup} idle workers: "
                  f"{pickup(backend, args.pickup, args.pickups)}")
        return 0
    shapes = [Shape.parse(s) for s in args.pools.split(",")]
    if args.idle:
        print("| pools x workers | transactions per worker-second | server CPU per "
              "worker-second (µs) | pool CPU per worker-second (µs) |")
        print("|---|---|---|---|")
        for shape in shapes:
            got = idle_cost(shape, args.idle)
            print(f"| {shape} | {got['tx']:.2f} | {got['server_us']:.0f} | "
                  f"{got['pool_us']:.0f} |", flush=True)
        return 0
    if args.server_log:
        print("| pools x workers | worker transactions per enqueue | the same count over an "
              "idle window as long, per enqueue | jobs finished |")
        print("|---|---|---|---|")
        for shape in shapes:
            got = measure_logged(shape, args.enqueues, args.server_log)
            print(f"| {shape} | {got['workers_per_enqueue']:.2f} | "
                  f"{got['idle_per_enqueue']:.2f} | {got['finished']:.0f}/{args.enqueues} |",
                  flush=True)
        return 0
    cli = measure(Shape(0, 0), args.enqueues, None)
    cli_own = cli["per_enqueue"]
    length = cli["length"] + HEARTBEAT  # (with pools about, an enqueue takes a bit longer)
    print(f"no pool: CLI's own {cli_own:.1f} transactions per enqueue", file=sys.stderr)
    rows = []
    for shape in shapes:
        got = measure(shape, args.enqueues, cli_own, length)
        print(f"{shape}: {got}", file=sys.stderr)
        rows.append((shape, got))
    print("| pools x workers | connections held | transactions per enqueue (CLI's "
          f"{cli_own:.1f} excluded) | idle transactions per worker-second | jobs finished |")
    print("|---|---|---|---|---|")
    for shape, got in rows:
        print(f"| {shape} | {got['connections']:.0f} | {got['workers_per_enqueue']:.1f} | "
              f"{got['idle_per_worker_s']:.2f} | {got['finished']:.0f}/{args.enqueues} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
