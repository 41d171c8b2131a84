"""A store that cannot write is an outage, never a second copy: a full disk under SQLite,
connections killed or answers lost under PostgreSQL. Workers keep the job and its process,
record its end once the store writes again, and run nothing twice; the CLI says what is
wrong in plain words."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests import pg
from tests.acceptance import disks
from tests.acceptance.netfault import AnswerLost
from tests.helpers import Cli, wait_until


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with disks.small_disk(tmp_path / "small-disk") as where:
        yield where


@pytest.fixture
def full_cli(small_disk: Path, tmp_path: Path) -> Iterator[Cli]:
    """The CLI on an SQLite store that lives on the small disk (workers stop before the
    disk goes)."""
    cli = Cli(str(small_disk / "queuectl.db"), tmp_path / "home", cwd=tmp_path)
    yield cli
    cli.cleanup()


def pool_log(cli: Cli) -> str:
    return b"".join(p.read_bytes() for p in cli.cwd.glob("workers-*.log")).decode(errors="replace")


def test_enqueue_on_a_full_disk_says_so_and_changes_nothing(
    full_cli: Cli, small_disk: Path
) -> None:
    cli = full_cli
    cli.inline("config", "set", "max-retries", "1")  # the store exists, idle
    filler = disks.fill(small_disk)
    # Even a read needs room here: nobody has the store open, and SQLite must make its
    # shared-memory file again to read a WAL store.
    for args in (("enqueue", "-c", "echo " + "x" * 100_000), ("status",)):
        refused = cli.run(*args)
        assert refused.returncode == 1
        assert refused.stderr.startswith("queuectl: error: the store's disk is full ("), refused
        assert refused.stderr.count("\n") == 1 and "unexpected" not in refused.stderr
    filler.unlink()
    assert cli.json("status")["counts"]["pending"] == 0  # the refused enqueue left nothing
    cli.enqueue("true")
    assert cli.json("status")["counts"]["pending"] == 1


def test_a_job_that_ends_while_the_disk_is_full_is_recorded_once_space_is_back(
    full_cli: Cli, small_disk: Path, tmp_path: Path
) -> None:
    """Past the lease, so that the idle sibling would take the job for lost if it judged
    a silence it shared; the job prints more than the full disk can hold."""
    cli = full_cli
    cli.inline("config", "set", "lease-timeout", "1")
    big = "head -c 300000 /dev/zero | tr '\\0' {}; echo"
    wait_for_go = "while [ ! -e go ]; do sleep 0.05; done"
    job_id = cli.enqueue(f"echo $$ >> runs.txt; {big.format('x')}; {wait_for_go};"
                         f" {big.format('y')}; echo end")
    cli.start_workers(2)
    wait_until(lambda: (tmp_path / "runs.txt").exists(), what="the job to start")
    time.sleep(0.5)  # its first output is saved
    filler = disks.fill(small_disk)
    (tmp_path / "go").touch()
    shell = int((tmp_path / "runs.txt").read_text())
    wait_until(lambda: not Path(f"/proc/{shell}").exists(), what="the job to end")
    time.sleep(3)  # three leases of a store that cannot write
    assert cli.job(job_id)["state"] == "processing"  # its end is not recorded yet...
    assert "the store's disk is full" in pool_log(cli)  # ...because the store is full
    filler.unlink()
    done = cli.wait_state(job_id, "completed", "failed", "dead", timeout=30)
    assert [(a["outcome"], a["worker"] is not None) for a in done["attempts_log"]] == [
        ("succeeded", True)]
    assert (tmp_path / "runs.txt").read_text().split() == [str(shell)]  # it ran once
    time.sleep(2)  # and nothing runs it again
    assert (tmp_path / "runs.txt").read_text().split() == [str(shell)]
    output = cli.inline("logs", job_id)
    assert output.endswith("y\nend\n") and output.count("x") == 300_000
    assert "Traceback" not in pool_log(cli)
    assert cli.json("status")["counts"]["processing"] == 0


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg.fresh_url()


def backends_sleeping(url: str) -> list[int]:
    dbname = url.rsplit("/", 1)[1]
    with pg.admin() as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s"
                            " AND wait_event = 'PgSleep'", (dbname,)).fetchall()
    return [r[0] for r in rows]


@pytest.mark.postgres
def test_a_connection_killed_inside_the_finishing_transaction_records_the_job_once(
    pg_url: str, tmp_path: Path
) -> None:
    """A trigger holds the finishing statement open, and the test kills its connection
    there: nothing of it is committed; the worker records the end once it reconnects."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION slow_finish() RETURNS trigger LANGUAGE plpgsql AS"
                     " $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER slow_finish BEFORE UPDATE ON jobs FOR EACH ROW"
                     " WHEN (NEW.id = 'slow' AND NEW.state = 'completed')"
                     " EXECUTE FUNCTION slow_finish()")
    cli = Cli(pg_url, tmp_path / "home", cwd=tmp_path)
    try:
        cli.inline("config", "set", "lease-timeout", "2")
        cli.ok("enqueue", "-c", "echo slow >> runs.txt; echo out", "--id", "slow")
        cli.ok("enqueue", "-c", "echo next >> runs.txt", "--id", "next")
        cli.start_workers(2)
        wait_until(lambda: bool(backends_sleeping(pg_url)), what="the finish to be under way")
        with pg.admin() as conn:
            for pid in backends_sleeping(pg_url):
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for job_id in ("slow", "next"):
            done = cli.wait_state(job_id, "completed", "failed", "dead", timeout=30)
            assert [a["outcome"] for a in done["attempts_log"]] == ["succeeded"], job_id
        assert sorted((tmp_path / "runs.txt").read_text().split()) == ["next", "slow"]
        assert cli.inline("logs", "slow") == "out\n"
    finally:
        cli.cleanup()


@pytest.mark.postgres
def test_a_finish_whose_answer_was_lost_leaves_nothing_stuck_or_run_twice(
    pg_url: str, tmp_path: Path
) -> None:
    """The connection drops after the server committed a job's end and the claim of the
    next job, before the worker heard so: the end stays recorded once, and the next job,
    which the store says the worker holds, is run by it (not left processing forever)."""
    proxy = AnswerLost(b"queuectl_finish")
    cli = Cli(pg_url, tmp_path / "home", cwd=tmp_path)
    try:
        cli.inline("config", "set", "lease-timeout", "3")
        ids = [cli.enqueue(f"echo {n} >> runs.txt") for n in range(3)]
        cli.start_workers(1, env={"QUEUECTL_DB": proxy.url(pg_url.rsplit("/", 1)[1])})
        for job_id in ids:
            done = cli.wait_state(job_id, "completed", "failed", "dead", timeout=30)
            assert [a["outcome"] for a in done["attempts_log"]] == ["succeeded"], job_id
        assert proxy.fired.is_set()
        assert sorted((tmp_path / "runs.txt").read_text().split()) == ["0", "1", "2"]
        assert cli.json("status")["counts"]["processing"] == 0
    finally:
        cli.cleanup()
        proxy.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_connections_killed_again_and_again_while_jobs_run_and_end(
    pg_url: str, tmp_path: Path
) -> None:
    cli = Cli(pg_url, tmp_path / "home", cwd=tmp_path)
    dbname = pg_url.rsplit("/", 1)[1]
    try:
        ids = [cli.enqueue(f"sleep 0.1; echo {n} >> runs.txt") for n in range(30)]
        cli.start_workers(2)
        deadline = time.monotonic() + 4
        with pg.admin() as conn:
            while time.monotonic() < deadline:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                             " datname = %s AND pid <> pg_backend_pid()", (dbname,))
                time.sleep(0.15)
        proc = cli.run("wait", *ids, "--timeout", "60", timeout=90)
        assert proc.returncode == 0, proc.stderr
        runs = (tmp_path / "runs.txt").read_text().split()
        assert sorted(runs, key=int) == [str(n) for n in range(30)]  # each ran once
        for job_id in ids:
            assert cli.job(job_id)["attempts"] == 1
    finally:
        cli.cleanup()


@pytest.mark.postgres
def test_a_pool_told_to_stop_while_its_store_is_gone_stops(pg_url: str, tmp_path: Path) -> None:
    """A graceful stop with no job in hand needs nothing of the store: a pool whose database
    went away stops when told to, instead of retrying its heartbeats until the store is back
    (it did, for as long as the outage lasted)."""
    cli = Cli(pg_url, tmp_path / "home", cwd=tmp_path)
    try:
        pool = cli.start_workers(2)
        pg.drop(pg_url.rsplit("/", 1)[1])  # every call fails from now on
        log = tmp_path / "workers-0.log"
        # A worker's heartbeat, retried until the store answers: where the stop must reach it.
        wait_until(lambda: "; retrying in" in log.read_text(), timeout=30,
                   what="a worker to retry a call through the outage")
        pool.send_signal(signal.SIGTERM)
        assert pool.wait(timeout=20) == 0, log.read_text()[-2000:]
    finally:
        cli.cleanup()
