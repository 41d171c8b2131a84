"""What the pool's commands tell a person: --detach, process titles, stop, list, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from queuectl.pool.supervisor import log_path as log_path_of
from queuectl.settings import redact_url
from tests.acceptance.process_tools import read_pid
from tests.helpers import QUEUECTL, Cli, wait_until


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def _detach(cli: Cli, *flags: str) -> subprocess.CompletedProcess[str]:
    return cli.run("worker", "start", "--count", "2", "--detach", *flags)


def test_detach_says_whom_to_signal_and_where_it_logs(cli: Cli) -> None:
    started = _detach(cli)
    assert started.returncode == 0, started.stderr
    workers = [int(p) for p in started.stdout.split()]
    assert len(workers) == 2  # stdout stays the data: the worker pids
    [note] = started.stderr.splitlines()
    assert f"log: {log_path_of(cli.db_url)}" in note and "stop: queuectl worker stop" in note
    supervisor = int(note.split()[1])
    store = redact_url(cli.db_url)
    assert _cmdline(supervisor) == f"queuectl supervisor [2 workers] {store}"
    assert all(_cmdline(pid) == f"queuectl worker {store}" for pid in workers)
    os.kill(supervisor, signal.SIGTERM)  # the pid it printed is the one that stops the pool
    wait_until(lambda: cli.json("worker", "list") == [], timeout=20, what="the pool to stop")


def test_detach_json_names_the_supervisor_and_the_log(cli: Cli) -> None:
    doc = json.loads(_detach(cli, "--json").stdout)
    assert set(doc) == {"supervisor", "pids", "log"} and len(doc["pids"]) == 2
    assert doc["log"] == log_path_of(cli.db_url)
    assert os.path.dirname(doc["log"]) == str(cli.home / "logs")
    assert sorted(w["pid"] for w in cli.json("worker", "list")) == sorted(doc["pids"])
    stopped = cli.json("worker", "stop", "--timeout", "20")
    assert len(stopped["asked"]) == 2 and stopped["running"] == []


def test_worker_stop_json_without_workers(cli: Cli) -> None:
    cli.enqueue("true")
    assert cli.json("worker", "stop") == {"asked": [], "running": []}
    assert cli.json("worker", "stop", "--no-wait") == {"asked": [], "running": []}


def test_worker_list_shows_queues(cli: Cli) -> None:
    cli.start_workers(1, "--queue", "render", "--queue", "mail")
    cli.start_workers(1)
    lines = cli.ok("worker", "list").splitlines()
    assert lines[0].split()[:6] == ["ID", "HOST", "PID", "STATE", "QUEUES", "JOB"]
    assert sorted(line.split()[4] for line in lines[1:]) == ["all", "render,mail"]


def test_first_ctrl_c_says_what_the_pool_is_waiting_for(cli: Cli, tmp_path: Path) -> None:
    job_id = cli.enqueue("echo $$ > sh.pid; sleep 60")
    pool = cli.start_workers(1)
    read_pid(tmp_path / "sh.pid")
    log = tmp_path / "workers-0.log"
    os.killpg(pool.pid, signal.SIGINT)
    wait_until(lambda: "finishing 1 running job(s); a second Ctrl-C" in log.read_text(),
               timeout=10, what="the pool to say it is finishing its job")
    os.killpg(pool.pid, signal.SIGINT)
    wait_until(lambda: "killing the running jobs and handing" in log.read_text(),
               timeout=10, what="the pool to say it kills the job")
    assert pool.wait(timeout=20) == 130  # interrupted, as a shell says it
    assert cli.job(job_id)["state"] == "pending"


@pytest.mark.smoke
def test_ctrl_c_of_an_idle_pool(cli: Cli, tmp_path: Path) -> None:
    pool = cli.start_workers(1)
    os.killpg(pool.pid, signal.SIGINT)
    assert pool.wait(timeout=20) == 0
    said = (tmp_path / "workers-0.log").read_text()
    assert "INFO" in said.split("stopping: no job is running")[0].splitlines()[-1], said


def test_detach_hint_names_the_store_it_was_given(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    started = cli.run("--db", str(db), "worker", "start", "--detach")
    assert started.returncode == 0, started.stderr
    assert f"on {db} in the background" in started.stderr
    hint = started.stderr.split("stop: ", 1)[1].strip()
    assert hint == f"queuectl --db {db} worker stop"
    stopped = subprocess.run([*hint.split()[:1], *hint.split()[1:], "--timeout", "20"],
                             env=cli.env, capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and "asked 1 worker(s)" in stopped.stderr


def test_a_killed_pool_shows_as_lost_not_busy(cli: Cli, tmp_path: Path) -> None:
    cli.inline("config", "set", "lease-timeout", "2")
    cli.enqueue("echo $$ > sh.pid; sleep 60")
    pool = cli.start_workers(1)
    read_pid(tmp_path / "sh.pid")
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait(timeout=10)

    def states() -> list[str]:
        return [row.split()[3] for row in cli.observe("worker", "list").stdout.splitlines()[1:]]

    wait_until(lambda: states() == ["lost"], timeout=15, what="the killed worker to be lost")


def test_a_worker_for_an_impossible_queue_is_refused(cli: Cli) -> None:
    for name in ("", "a\x1bb", "q" * 101):
        done = cli.run("worker", "start", "--queue", name)
        assert done.returncode == 1 and "invalid queue name" in done.stderr
    assert cli.json("worker", "list") == []


def test_the_dashboard_keeps_a_typed_password_out_of_ps(cli: Cli) -> None:
    url = cli.db_url.replace("postgres@", "postgres:s3cret@") if "postgres" in cli.db_url \
        else cli.db_url
    proc = subprocess.Popen([QUEUECTL, "--db", url, "dashboard", "--port", "0"], env=cli.env,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stderr is not None
        assert "queuectl dashboard on" in proc.stderr.readline()
        wait_until(lambda: _cmdline(proc.pid).startswith("queuectl dashboard"), timeout=10,
                   what="the dashboard's title")
        assert "s3cret" not in _cmdline(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)


def test_a_detached_pool_that_did_not_start_is_not_left_running(tmp_path: Path) -> None:
    """PostgreSQL lets the pool's role hold one connection: the supervisor's LISTEN takes it
    and no worker can register. `--detach` reports failure (exit 1), and the supervisor it
    started is gone: a pool the user was told did not start must not run on behind them."""
    import psycopg

    from tests import pg

    pg.require_server()
    name = pg.create(pg.template())
    role = f"{name}_one"
    with pg.admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
    with psycopg.connect(pg.url_for(name), autocommit=True) as conn:
        conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        conn.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    url = f"postgresql://{role}@{pg.HOST}:{pg.PORT}/{name}"
    try:
        cli = Cli(url, tmp_path / "home", cwd=tmp_path)
        proc = cli.run("worker", "start", "--count", "2", "--detach", timeout=90)
        assert proc.returncode == 1, proc.stderr
        assert "workers started (the pool was stopped)" in proc.stderr
        wait_until(lambda: not _supervisors_of(name), what="the supervisor to stop")
    finally:
        for pid in _supervisors_of(name):
            os.kill(pid, signal.SIGKILL)
        pg.drop(name)
        with pg.admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def _supervisors_of(dbname: str) -> list[int]:
    """The pids of pool processes whose title names the database."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if dbname in _cmdline(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_each_store_has_its_own_pool_log(cli: Cli, tmp_path: Path) -> None:
    """Detached pools of two stores, one logging text and one JSON: two files, each with
    its own store's lines only (a log shipper reading the JSON one never meets text)."""
    other = tmp_path / "other.db"
    text = json.loads(_detach(cli, "--json").stdout)
    as_json = json.loads(cli.run("--db", str(other), "worker", "start", "--detach",
                                 "--log-format", "json", "--json").stdout)
    assert text["log"] != as_json["log"]
    assert os.path.basename(as_json["log"]).startswith("workers-other-")
    # The same store however it is written: the same file.
    assert log_path_of(f"sqlite:///{other}") == log_path_of(str(other)) == as_json["log"]
    job = cli.enqueue("true")
    cli.wait_state(job, "completed")
    for pool in (text, as_json):
        os.kill(pool["supervisor"], signal.SIGTERM)
    wait_until(lambda: not os.path.exists(f"/proc/{text['supervisor']}")
               and not os.path.exists(f"/proc/{as_json['supervisor']}"),
               timeout=20, what="both pools to stop")
    text_lines = Path(text["log"]).read_text().splitlines()
    assert text_lines and not any(line.startswith("{") for line in text_lines)
    assert any(f"job {job} started (attempt 1): true" in line for line in text_lines)
    docs = [json.loads(line) for line in Path(as_json["log"]).read_text().splitlines()]
    assert {d["event"] for d in docs} >= {"worker_started", "worker_stopped"}
    assert not any(d.get("job") == job for d in docs)  # the other store's job
