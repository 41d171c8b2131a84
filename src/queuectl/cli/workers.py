"""worker start / stop / list."""

from __future__ import annotations

import time

import click

from queuectl import output
from queuectl.cli.app import Env, Group, json_option, pass_env
from queuectl.errors import EXIT_FAILURE, EXIT_OK
from queuectl.models import iso, utcnow
from queuectl.settings import Config
from queuectl.storage import liveness

STOP_POLL = 0.1  # seconds between checks while waiting for workers to exit


@click.group(cls=Group)
def worker() -> None:
    """Run and control worker processes."""


@worker.command()
@click.option("-n", "--count", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes to start.")  # fmt: skip
@click.option("-q", "--queue", "queues", multiple=True, help="Serve only this queue (repeatable).")
@click.option("-d", "--detach", is_flag=True, help="Run in the background; print worker pids.")
@json_option
@pass_env
def start(env: Env, count: int, queues: tuple[str, ...], detach: bool, as_json: bool) -> None:
    """Start workers (foreground until Ctrl-C, SIGTERM or `worker stop`)."""
    from queuectl import supervisor

    if detach:
        pids = supervisor.run_detached(env.url, count, queues)
        if as_json:
            output.emit_json({"pids": pids})
        else:
            output.line("\n".join(map(str, pids)))
        return
    output.note(f"starting {count} worker(s) on {env.store().display_url}; Ctrl-C to stop")
    env.close()  # no connection may cross the fork
    supervisor.run_foreground(env.url, count, queues)


@worker.command()
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the workers have exited.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Give up waiting after this many seconds.")  # fmt: skip
@pass_env
def stop(env: Env, wait: bool, timeout: float | None) -> int:
    """Ask every worker of this store (any machine) to stop after its current job."""
    store = env.store()
    ids = set(store.request_stop())
    output.note(f"asked {len(ids)} worker(s) to stop")
    if not wait or not ids:
        return EXIT_OK
    deadline = None if timeout is None else time.monotonic() + timeout
    lease = Config.from_stored(store.config_items()).lease_timeout
    while True:
        now = utcnow().timestamp()
        alive = {w.id for w in store.list_workers() if not liveness.is_lost(w, now, lease)}
        left = ids & alive
        if not left:
            output.note("all stopped")
            return EXIT_OK
        if deadline is not None and time.monotonic() >= deadline:
            output.error(f"{len(left)} worker(s) still running after {timeout:g}s")
            return EXIT_FAILURE
        time.sleep(STOP_POLL)


@worker.command("list")
@json_option
@pass_env
def list_workers(env: Env, as_json: bool) -> None:
    """Registered workers: id, host, pid, state, current job, last heartbeat."""
    workers = env.store().list_workers()
    if as_json:
        output.emit_json([w.to_dict() for w in workers])
        return
    now = utcnow()
    rows = [(w.id, w.host, w.pid, w.state, w.current_job or "", iso(w.heartbeat_at),
             f"{(now - w.heartbeat_at).total_seconds():.1f}s ago") for w in workers]  # fmt: skip
    output.table(["ID", "HOST", "PID", "STATE", "JOB", "HEARTBEAT", "AGE"], rows)


def register(group: click.Group) -> None:
    group.add_command(worker)
