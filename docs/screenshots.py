"""Screenshots of the dashboard for the README, taken in Chromium through Playwright.

    python docs/screenshots.py [--out docs/screenshots]

Builds a demo store in a temporary folder: an hour of history, written through the storage
contract with the store's clock moved back (SQLiteStorage takes a clock for this), then
live workers running a few jobs. Serves it with `queuectl dashboard` on a free port and
saves overview.png, jobs.png, job.png and dlq.png.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from queuectl.models import AttemptResult, Job, JobSpec, Outcome, WorkerInfo
from queuectl.retry import NextStep, after_failure
from queuectl.storage.sqlite import SQLiteStorage

QUEUECTL = shutil.which("queuectl") or "queuectl"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
COMMANDS = [  # (command, queue, outcome, typical seconds)
    ("pg_dump app | gzip > /backup/app.sql.gz", "backups", Outcome.SUCCEEDED, 40.0),
    ("python manage.py send_digest --batch 500", "mail", Outcome.SUCCEEDED, 6.0),
    ("convert upload-4411.png -resize 800x thumb.png", "images", Outcome.SUCCEEDED, 1.5),
    ("curl -fsS https://api.example.com/sync", "default", Outcome.FAILED, 3.0),
    ("./scripts/reindex.sh --shard 3", "default", Outcome.SUCCEEDED, 12.0),
    ("rsync -a reports/ archive:/reports/", "backups", Outcome.TIMED_OUT, 30.0),
]


def policy(job: Job) -> NextStep:
    return after_failure(job.attempts, job.max_retries, 2, 3600)


def build_history(path: str) -> None:
    """An hour of jobs through the contract, with the store's clock running an hour behind."""
    rng = random.Random(7)
    now = [time.time() - 3600]
    store = SQLiteStorage(path, clock=lambda: now[0])
    workers = ["w-3f9kq2", "w-8hd71m"]
    for wid in workers:
        store.register_worker(WorkerInfo(wid, "build-01", 4000 + len(wid), "idle", None,
                                         *(2 * [_utc(now[0])])))  # fmt: skip
    while now[0] < time.time() - 30:
        for _ in range(rng.randint(2, 9)):
            command, queue, outcome, seconds = rng.choice(COMMANDS)
            if outcome is not Outcome.SUCCEEDED and rng.random() < 0.5:
                outcome = Outcome.SUCCEEDED  # flaky, not broken
            # max_retries 0: every history job ends final, so the live workers never run one
            store.enqueue([JobSpec(command=command, queue=queue, max_retries=0, cwd="/srv/app")])
            now[0] += rng.uniform(0.2, 3.0)
            job = store.claim(rng.choice(workers))
            if job is None:
                continue
            now[0] += seconds * rng.uniform(0.3, 1.6)
            code = 0 if outcome is Outcome.SUCCEEDED else 1
            error = None if code == 0 else ("exit code 22" if outcome is Outcome.FAILED
                                             else "timed out after 30s")  # fmt: skip
            output = b"done\n" if code == 0 else b"error: upstream said 503\n"
            result = AttemptResult(outcome, code, error, output)
            store.finish(job, job.worker or workers[0], result, policy)
        now[0] += rng.uniform(20, 70)
    for wid in workers:
        store.unregister_worker(wid)
    store.close()


def _utc(ts: float):  # noqa: ANN202 - tiny local helper
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(env: dict[str, str], *args: str) -> str:
    if args[0] == "enqueue":
        args = (*args, "--cwd", "/tmp")  # a neutral folder, not wherever this script runs
    return subprocess.run([QUEUECTL, *args], env=env, check=True, capture_output=True,
                          text=True, cwd="/tmp").stdout.strip()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).parent / "screenshots"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "demo.db")
        env = {**os.environ, "QUEUECTL_DB": db, "QUEUECTL_HOME": tmp}
        build_history(db)
        run(env, "config", "set", "max-retries", "1")
        follow = run(env, "enqueue", "--id", "nightly-report", "-c",
                     "for i in $(seq 1 60); do echo \"rendering page $i/60\"; sleep 1; done")
        run(env, "enqueue", "-c", "sleep 45", "--queue", "images")
        run(env, "enqueue", "-c", "echo 'connection refused' >&2; exit 7", "--max-retries", "3")
        run(env, "enqueue", "-c", "make -C /srv/app release", "--delay", "2h", "--priority", "5")
        procs = [subprocess.Popen([QUEUECTL, "worker", "start", "--count", "3"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)]  # fmt: skip
        port = free_port()
        server = [QUEUECTL, "dashboard", "--port", str(port)]
        procs.append(subprocess.Popen(server, env=env, stderr=subprocess.DEVNULL,
                                      start_new_session=True))  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(base + "/api/status")
            time.sleep(4)  # let the workers start the long jobs and print some output
            _shoot(base, out, follow)
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGKILL if proc is procs[0] else signal.SIGINT)
            for proc in procs:
                proc.wait(timeout=30)
    print(f"saved {', '.join(sorted(p.name for p in out.glob('*.png')))} in {out}")


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"dashboard did not answer at {url}")


def _shoot(base: str, out: Path, job_id: str) -> None:
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        shots = [("overview", "/"), ("jobs", "/jobs"), ("job", f"/jobs/{quote(job_id, safe='')}"),
                 ("dlq", "/dlq")]  # fmt: skip
        for name, path in shots:
            page.goto(base + path)
            page.wait_for_selector("#live.on")
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / f"{name}.png"), full_page=name != "jobs")
        browser.close()


if __name__ == "__main__":
    main()
