"""Workflows through the real `queuectl`: a DAG run by a pool, bulk files that name
each other, refusals, and `queuectl run` with its exit codes and Ctrl-C."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
from datetime import datetime

import pytest

from tests.helpers import QUEUECTL, Cli, wait_until


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def dag() -> list[dict[str, object]]:
    """50 jobs: a root fans out to 10, each of those to 3 (30), which fan in to 8 (each
    after 4-5 of them), which fan in to one last job."""
    jobs: list[dict[str, object]] = [{"id": "root", "after": []}]
    mids = [f"a{i}" for i in range(10)]
    jobs += [{"id": m, "after": ["root"]} for m in mids]
    leaves = [f"b{i}-{j}" for i in range(10) for j in range(3)]
    jobs += [{"id": leaf, "after": [leaf.split("-")[0].replace("b", "a")]} for leaf in leaves]
    joins = [f"c{k}" for k in range(8)]
    jobs += [{"id": c, "after": leaves[k::8]} for k, c in enumerate(joins)]
    jobs.append({"id": "final", "after": joins})
    for job in jobs:
        job["command"] = "sleep 0.05"
    assert len(jobs) == 50
    return jobs


def test_a_dag_of_50_jobs_runs_each_job_only_after_all_its_dependencies(cli: Cli) -> None:
    jobs = dag()
    random.Random(7).shuffle(jobs)  # a file may name jobs defined further down
    cli.ok("enqueue", "--file", "-", input="\n".join(json.dumps(j) for j in jobs))
    assert cli.json("status")["blocked"] == 49
    cli.start_workers(4)
    assert cli.run("wait", "final", "--timeout", "120").returncode == 0
    done = {j["id"]: j for j in cli.json("list", "--limit", "0")}
    assert len(done) == 50 and {j["state"] for j in done.values()} == {"completed"}
    for job in jobs:
        got = done[str(job["id"])]
        assert got["after"] == job["after"] and got["waiting_for"] == []
        for dep in got["after"]:
            assert ts(got["started_at"]) >= ts(done[dep]["finished_at"]), (got["id"], dep)
    assert sorted(cli.json("show", "root")["dependents"]) == sorted(f"a{i}" for i in range(10))


def test_a_file_is_refused_whole_for_a_cycle_or_an_unknown_id_naming_the_line(cli: Cli) -> None:
    cycle = ('{"id": "x", "command": "true"}\n{"id": "y", "command": "true", "after": ["z"]}\n'
             '{"id": "z", "command": "true", "after": ["y"]}\n')
    proc = cli.run("enqueue", "--file", "-", input=cycle)
    assert proc.returncode == 1
    assert proc.stderr == ("queuectl: error: line 2: cannot run after 'z': "
                           "dependency cycle y -> z -> y\n")
    unknown = '{"id": "x", "command": "true"}\n\n{"command": "true", "after": ["x", "nope"]}\n'
    proc = cli.run("enqueue", "--file", "-", input=unknown)
    assert (proc.returncode, proc.stderr) == (
        1, "queuectl: error: line 3: cannot run after 'nope': no such job\n")
    assert cli.json("list") == []


def test_flags_refuse_unknown_cancelled_and_self_dependencies(cli: Cli) -> None:
    gone = cli.enqueue("true", "--delay", "1h")
    cli.ok("cancel", gone)
    for flags, why in [
        (["--after", "nope"], "cannot run after 'nope': no such job"),
        (["--after", gone], f"cannot run after '{gone}': it was cancelled"),
        (["--id", "me", "--after", "me"], "cannot run after 'me': dependency cycle me -> me"),
    ]:
        proc = cli.run("enqueue", "-c", "true", *flags)
        assert (proc.returncode, proc.stderr) == (1, f"queuectl: error: {why}\n")
        proc = cli.run("enqueue", json.dumps({"command": "true", "after": flags[-1:]}),
                       *flags[:-2])
        assert proc.returncode == 1
    assert [j["id"] for j in cli.json("list")] == [gone]


# --- queuectl run ----------------------------------------------------------------------------


def run(cli: Cli, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return cli.run("run", *args, timeout=timeout)


@pytest.fixture
def pool(cli: Cli) -> Cli:
    cli.inline("config", "set", "backoff-base", "1")
    cli.start_workers(2)
    return cli


@pytest.mark.smoke
def test_run_streams_the_output_and_exits_0(pool: Cli) -> None:
    proc = run(pool, "--", "sh", "-c", "echo one; sleep 0.3; echo 'two  words'")
    assert (proc.returncode, proc.stdout) == (0, "one\ntwo  words\n")
    [job] = pool.json("list")
    assert job["command"] == "sh -c 'echo one; sleep 0.3; echo '\"'\"'two  words'\"'\"''"


def test_run_reports_retries_and_exits_with_the_last_exit_code(pool: Cli) -> None:
    proc = run(pool, "--max-retries", "1", "-c", "echo try; exit 3")
    assert (proc.returncode, proc.stdout) == (3, "try\ntry\n")
    assert "--- attempt 1 (exit code 3), retrying in 1s\n" in proc.stderr


@pytest.mark.parametrize(("command", "flags", "code"), [
    ("kill -TERM $$", [], 128 + signal.SIGTERM),
    ("sleep 30", ["--timeout", "0.5"], 124),
    ("true", ["--cwd", "/nonexistent-dir"], 1),
])
def test_run_exits_as_a_shell_reports_a_killed_timed_out_or_unstartable_job(
    pool: Cli, command: str, flags: list[str], code: int
) -> None:
    assert run(pool, "--max-retries", "0", *flags, "-c", command).returncode == code


@pytest.mark.smoke
def test_run_after_a_dependency(pool: Cli) -> None:
    first = pool.enqueue("sleep 0.5; echo first > order")
    proc = run(pool, "--after", first, "-c", "cat order")
    assert (proc.returncode, proc.stdout) == (0, "first\n")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_or_a_termination_cancels_the_running_job(pool: Cli, sig: signal.Signals) -> None:
    """Ctrl-C (130), or a CI timeout's SIGTERM (143) or a closed terminal's SIGHUP (129): the
    job is cancelled, never left behind on the workers."""
    proc = subprocess.Popen([QUEUECTL, "run", "-c", "echo started; sleep 60"], env=pool.env,
                            cwd=pool.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 128 + sig
    [job] = pool.json("list")
    assert job["state"] == "cancelled"
    wait_until(lambda: pool.json("status")["workers"]["busy"] == 0, what="the job to be killed")


# --- dashboard ---------------------------------------------------------------------------------


def test_dashboard_links_dependencies_and_dependents(cli: Cli) -> None:
    import httpx

    from tests.dashboard_server import dashboard

    cli.enqueue("true", "--id", "build", "--delay", "1h")
    cli.enqueue("true", "--id", "it's <b>", "--after", "build")
    with dashboard(cli) as base, httpx.Client(base_url=base) as http:
        page = http.get("/jobs/build").text
        assert re.search(r'id="job-dependents"><a class="mono" href="/jobs/it%27s%20%3Cb%3E">'
                         r"it&#39;s &lt;b&gt;</a>", page), page
        page = http.get("/jobs/it%27s%20%3Cb%3E").text
        assert '<a class="mono" href="/jobs/build">build</a> <span class="muted">(waiting)' in page
        listing = http.get("/jobs").text
        assert 'waiting for <a class="mono" href="/jobs/build">build</a>' in listing
        assert http.get("/api/jobs/build").json()["dependents"] == ["it's <b>"]
