"""`--unique-key K --on-duplicate keep|replace` and `--debounce DUR`: a duplicate replaces the
fields of the waiting job holding K (its id kept), or leaves it (keep, the default); a
running holder is never touched. A debounced job is due DUR after the latest enqueue of its
key, so it runs once things have been quiet for DUR."""

from __future__ import annotations

import pytest

from queuectl import Queue
from queuectl.pool.worker import Worker
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli


def test_replace_takes_the_duplicates_fields_and_keeps_the_id(
    clocked_cli: InProcessCli, worker: Worker,
) -> None:
    cli = clocked_cli
    first = cli.enqueue("echo old", "--unique-key", "report", "-p", "1", "--tag", "a")
    again = cli.run("enqueue", "-c", "echo new", "--unique-key", "report", "--on-duplicate",
                    "replace", "-p", "7", "--queue", "reports", "-e", "X=1", "--mutex", "m")
    assert again.returncode == 0 and again.stdout.strip() == first
    assert "replaced its fields" in again.stderr
    job = cli.job(first)
    assert (job["command"], job["priority"], job["queue"], job["env"], job["tags"],
            job["mutex"], job["unique_key"]) == (
        "echo new", 7, "reports", {"X": "1"}, [], "m", "report")
    assert len(cli.json("list")) == 1
    # keep (the default) leaves it as it is.
    kept = cli.json("enqueue", "-c", "echo newer", "--unique-key", "report")
    assert kept["duplicate"] is True and kept["command"] == "echo new"
    assert worker.work_until_idle() == 1
    assert cli.ok("logs", first) == "new\n"


def test_a_running_holder_is_left_alone(clocked_cli: InProcessCli, db_url: str,
                                         worker: Worker) -> None:
    cli = clocked_cli
    # The holder enqueues its own duplicate while it runs: nothing changes, its id is printed.
    first = cli.enqueue(f"queuectl --db '{db_url}' enqueue -c 'echo replaced' --unique-key k"
                        " --on-duplicate replace --debounce 1h", "--unique-key", "k")
    assert worker.work_until_idle() == 1
    assert cli.job(first)["state"] == "completed"
    assert cli.ok("logs", first) == (
        f"job {first} (processing) already has unique key 'k': nothing enqueued\n{first}\n")
    assert len(cli.json("list")) == 1


def test_debounce_runs_once_things_are_quiet(
    clocked_cli: InProcessCli, worker: Worker, clock: MovingClock,
) -> None:
    cli = clocked_cli
    clock.freeze()
    first = cli.enqueue("true", "--unique-key", "sync", "--debounce", "30s")
    clock.move(20)
    assert worker.work_until_idle() == 0
    said = cli.run("enqueue", "-c", "true", "--unique-key", "sync", "--debounce", "30s")
    assert said.stdout.strip() == first and "due 30s from now" in said.stderr
    clock.move(20)  # 40 s after the first enqueue, 20 s after the last
    assert worker.work_until_idle() == 0
    clock.move(10)
    assert worker.work_until_idle() == 1
    assert cli.job(first)["state"] == "completed"
    assert len(cli.json("list")) == 1


def test_debounce_with_replace_from_python(clocked_cli: InProcessCli, db_url: str,
                                           clock: MovingClock, worker: Worker) -> None:
    clock.freeze()
    with Queue(db_url) as q:
        one = q.enqueue("echo 1", unique_key="k", debounce="1m", on_duplicate="replace")
        two = q.enqueue("echo 2", unique_key="k", debounce=60, on_duplicate="replace")
    assert two.id == one.id and two.duplicate and two.command == "echo 2"
    clock.move(61)
    assert worker.work_until_idle() == 1
    assert clocked_cli.ok("logs", one.id) == "2\n"


@pytest.mark.parametrize(("args", "code", "says"), [
    (["--on-duplicate", "replace"], 1, "on_duplicate replace needs a unique_key"),
    (["--debounce", "30s"], 1, "debounce needs a unique_key"),
    (["--unique-key", "k", "--on-duplicate", "merge"], 2, "invalid on_duplicate 'merge'"),
    (["--unique-key", "k", "--debounce", "soon"], 2, "invalid duration"),
    (["--unique-key", "k", "--debounce", "5s", "--delay", "1m"], 2,
     "give debounce or run_at/delay, not both"),
])
def test_refusals(cli: InProcessCli, args: list[str], code: int, says: str) -> None:
    done = cli.run("enqueue", "-c", "true", *args)
    assert done.returncode == code and says in done.stderr, done.stderr
    assert cli.json("list") == []
