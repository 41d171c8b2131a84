"""worker start / stop / list."""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

import click

from queuectl import output
from queuectl.app import control, documents
from queuectl.cli.app import CliContext, Group, json_option, pass_cli_context
from queuectl.cli.params import bounded, duration
from queuectl.errors import EXIT_FAILURE, EXIT_OK
from queuectl.models import iso, utcnow
from queuectl.settings import redact_url
from queuectl.specs import check_queue
from queuectl.timeparse import format_age, format_duration

if TYPE_CHECKING:  # the pool's modules (and logging) load only when a pool starts
    from queuectl.pool.log import LogFormat

STOP_POLL = 0.1  # seconds between checks while waiting for workers to exit


@click.group(cls=Group)
def worker() -> None:
    """Run and control worker processes."""


@worker.command()
@click.option("-n", "--count", type=int, callback=bounded(1, 256), default=1, show_default=True,
              help="Worker processes to start.")
@click.option("-q", "--queue", "queues", multiple=True, help="Serve only this queue (repeatable).")
@click.option("-d", "--detach", is_flag=True,
              help="Run in the background; print the worker pids (stderr: the supervisor's "
              "pid and the log file).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="The pool's log on stderr (or its log file): lines for people, or one JSON "
              "object per line for log shippers.")
@click.option("--gpus", "gpu_list", metavar="LIST|auto", default=None,
              help="The GPUs of this host the pool owns: 0,1,2,3 or 0-3, or auto (those "
              "nvidia-smi lists). Jobs given --gpus N run only where N of them are free.")
@json_option
@pass_cli_context
def start(cli_ctx: CliContext, count: int, queues: tuple[str, ...], detach: bool,
          log_format: LogFormat, gpu_list: str | None, as_json: bool) -> int:
    """Start workers (foreground until Ctrl-C, SIGTERM or `worker stop`).

    Under systemd (NOTIFY_SOCKET set) it tells the service manager when every worker is
    ready, how many are busy, and when it stops (Type=notify)."""
    from queuectl.gpulist import pool_gpus
    from queuectl.pool import supervisor

    for queue in queues:  # the names enqueue accepts: a worker for "" would serve nothing
        check_queue(queue)
    gpus = pool_gpus(gpu_list)

    if detach:
        pool = supervisor.run_detached(cli_ctx.url, count, queues, log_format, gpus)
        if as_json:
            output.emit_json(pool.to_dict())
            return EXIT_OK
        output.line("\n".join(map(str, pool.workers)))  # the data: worker pids, as before
        stop = "queuectl worker stop" if cli_ctx.db is None else \
            f"queuectl --db {shlex.quote(redact_url(cli_ctx.url))} worker stop"
        output.note(f"supervisor {pool.supervisor} runs {count} worker(s) on "
                    f"{redact_url(cli_ctx.url)} in the background; log: {pool.log_path}; "
                    f"stop: {stop}")
        return EXIT_OK
    store = cli_ctx.store(create=True)
    if log_format == "text":  # stderr is the JSON log's own: nothing else may be written there
        owned = f" with GPUs {','.join(map(str, gpus))}" if gpus else ""
        output.note(f"starting {count} worker(s){owned} on {store.display_url}; "
                    "Ctrl-C to stop")
    cli_ctx.close()  # no connection may cross the fork
    # 130 when a second Ctrl-C killed the running jobs, as a shell reports an interrupt.
    return supervisor.run_foreground(cli_ctx.url, count, queues, log_format, gpus)


@worker.command()
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the workers have exited.")
@click.option("--timeout", callback=duration, metavar="DURATION", default=None,
              help="Give up waiting after this long: seconds or 30s, 5m.")
@json_option
@pass_cli_context
def stop(cli_ctx: CliContext, wait: bool, timeout: float | None, as_json: bool) -> int:
    """Ask every worker of this store (any machine) to stop after its current job.

    --json: {"asked": [ids], "running": [ids still running when the command returned]}."""
    store = cli_ctx.store()
    ids = set(control.stop_workers(store))
    output.note(f"asked {len(ids)} worker(s) to stop")
    left = _wait_for_exit(cli_ctx, ids, timeout) if wait and ids else ids
    if as_json:
        output.emit_json({"asked": sorted(ids), "running": sorted(left)})
    if not wait:
        return EXIT_OK
    if left:
        output.error(f"{len(left)} worker(s) still running after {format_duration(timeout or 0)}")
        return EXIT_FAILURE
    if ids:
        output.note("all stopped")
    return EXIT_OK


def _wait_for_exit(cli_ctx: CliContext, ids: set[str], timeout: float | None) -> set[str]:
    """The workers of ``ids`` still alive when they have all gone or ``timeout`` is up."""
    store = cli_ctx.store()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        alive = {w.id for w in documents.workers(store) if w.state != "lost"}
        left = ids & alive
        if not left or (deadline is not None and time.monotonic() >= deadline):
            return left
        time.sleep(STOP_POLL)


@worker.command("list")
@json_option
@pass_cli_context
def list_workers(cli_ctx: CliContext, as_json: bool) -> None:
    """Registered workers: id, host, pid, state (idle, busy, or lost: silent past the lease,
    or its process gone on this host), current job, last heartbeat."""
    workers = documents.workers(cli_ctx.store())
    if as_json:
        output.emit_json([w.to_dict() for w in workers])
        return
    now = utcnow()
    rows: list[tuple[object, ...]] = [
        (w.id, w.host, w.pid, w.state, ",".join(w.queues) or "all", w.current_job or "",
         iso(w.heartbeat_at), format_age((now - w.heartbeat_at).total_seconds()))
        for w in workers]
    headers = ["ID", "HOST", "PID", "STATE", "QUEUES", "JOB", "HEARTBEAT", "AGE"]
    if any(w.gpus for w in workers):  # pools with GPUs: each GPU, and the job holding it
        headers.append("GPUS")
        rows = [(*row, output.gpus_in_words(w.gpus))
                for row, w in zip(rows, workers, strict=True)]
    output.table(headers, rows)
    from queuectl.cli.queues_cmd import queue_settings_note

    if note := queue_settings_note(cli_ctx.store().queue_settings()):
        output.note(note)


def register(group: click.Group) -> None:
    group.add_command(worker)
