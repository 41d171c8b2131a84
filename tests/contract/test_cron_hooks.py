"""A schedule's hook events, on both stores, with the test's clock: `overdue` (once per
overdue episode, whatever the number of pools judging) and `suspect` (once per flagged
job), each enqueued in the transaction that began the episode or flagged the job."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from queuectl.pool.worker import Worker
from queuectl.storage.base import Storage
from tests.clocks import MovingClock
from tests.inprocess import InProcessCli

HOUR = 3600

# Time passes only as the test moves it (conftest.frozen_clock).
pytestmark = pytest.mark.usefixtures("frozen_clock")


def _at_once(stores: list[Storage], judge: str) -> list[str]:
    """Every store runs its ``judge`` method at the same moment; what each returned."""
    got: list[str] = []
    gate = threading.Barrier(len(stores))

    def one(store: Storage) -> None:
        gate.wait()
        got.extend(getattr(store, judge)())

    threads = [threading.Thread(target=one, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return got


def hook_jobs(cli: InProcessCli) -> list[dict[str, Any]]:
    return [job for job in cli.json("list", "--queue", "hooks", "--limit", "0")]


def _events(cli: InProcessCli, event: str) -> list[tuple[str, str | None, str | None]]:
    """(hook, job, schedule) of the hook jobs of ``event``, sorted."""
    return sorted(((j["hook"]["name"], j["hook"]["job"], j["hook"]["cron"])
                   for j in hook_jobs(cli) if j["hook"]["event"] == event),
                  key=lambda e: (e[0], e[2] or "", e[1] or ""))


def test_hook_add_takes_the_schedule_events(cli: InProcessCli) -> None:
    cli.ok("hook", "add", "page", "--on", "overdue,suspect", "--cron", "backup", "-c", "true")
    assert cli.json("hook", "list") == [
        {"name": "page", "on": ["overdue", "suspect"], "command": "true", "queue": None,
         "cron": "backup"}]
    bad = cli.run("hook", "add", "x", "--on", "late", "-c", "true")
    assert bad.returncode == 1
    assert "completed, failed, dead, cancelled, lost, overdue, suspect" in bad.stderr
    assert cli.json("hook", "list")[0]["name"] == "page"  # nothing written


def test_queue_adds_a_schedule_hook(db_url: str, cli: InProcessCli) -> None:
    from queuectl import Queue

    with Queue(db_url) as q:
        hook = q.add_hook("late", on=["overdue"], command="true", cron="backup")
        assert hook.to_dict()["on"] == ["overdue"]
        assert [h.on for h in q.hooks()] == [("overdue",)]


def test_overdue_fires_once_per_episode_across_pools_and_again_after_a_success(
    clocked_cli: InProcessCli, clocked_store: Storage, second_store: Storage,
    clock: MovingClock, worker: Worker,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "nightly", "@daily", "-c", "true", "--tz", "UTC",
           "--alert-after", "26h")
    cli.ok("cron", "add", "ledger", "@daily", "-c", "true", "--tz", "UTC",
           "--alert-after", "26h", "--queue", "billing")
    cli.ok("cron", "add", "quiet", "@daily", "-c", "true", "--tz", "UTC")  # no alert
    cli.ok("hook", "add", "page", "--on", "overdue", "--cron", "nightly", "-c", "true")
    cli.ok("hook", "add", "any", "--on", "overdue", "-c", "true")
    cli.ok("hook", "add", "billing", "--on", "overdue", "--queue", "billing", "-c", "true")
    cli.ok("hook", "add", "other", "--on", "overdue", "--cron", "quiet", "-c", "true")
    # Every end of a job fires this one; hook jobs' own ends never do.
    cli.ok("hook", "add", "ends", "--on", "completed,failed,dead", "-c", "true")
    assert _at_once([clocked_store, second_store], "cron_judge_overdue") == []
    assert hook_jobs(cli) == []
    clock.move(27 * HOUR)  # no pool ran: overdue, with no job yet
    assert sorted(_at_once([clocked_store, second_store], "cron_judge_overdue")) == [
        "ledger", "nightly"]
    first = [("any", None, "ledger"), ("billing", None, "ledger"),
             ("any", None, "nightly"), ("page", None, "nightly")]
    assert _events(cli, "overdue") == sorted(first, key=lambda e: (e[0], e[2] or ""))
    assert _at_once([clocked_store, second_store], "cron_judge_overdue") == []
    assert len(hook_jobs(cli)) == 4  # the same episode fires nothing more
    # A pool runs each schedule's latest missed tick: their successes end the episodes;
    # the hook jobs run too.
    worker.work_until_idle()
    jobs = {doc["name"]: doc["last_job"] for doc in cli.json("cron", "list")}
    made = hook_jobs(cli)
    assert all(j["state"] == "completed" for j in made)
    assert sorted(j["hook"]["job"] for j in made if j["hook"]["event"] == "completed") == \
        sorted(jobs.values())  # "ends" fired for the three schedules' jobs only
    assert _at_once([clocked_store, second_store], "cron_judge_overdue") == []
    clock.move(27 * HOUR)  # no pool again: new episodes, fired once each
    assert sorted(_at_once([clocked_store, second_store], "cron_judge_overdue")) == [
        "ledger", "nightly"]
    again = [("any", jobs["ledger"], "ledger"), ("billing", jobs["ledger"], "ledger"),
             ("any", jobs["nightly"], "nightly"), ("page", jobs["nightly"], "nightly")]
    assert _events(cli, "overdue") == sorted(first + again,
                                             key=lambda e: (e[0], e[2] or "", e[1] or ""))


def test_two_workers_idle_at_once_make_one_overdue_hook_job(
    clocked_cli: InProcessCli, clocked_store: Storage, second_store: Storage,
    clock: MovingClock,
) -> None:
    cli = clocked_cli
    cli.ok("cron", "add", "nightly", "@daily", "-c", "exit 1", "--tz", "UTC",
           "--alert-after", "26h", "--max-retries", "0")
    cli.ok("hook", "add", "page", "--on", "overdue", "-c", "true")
    clock.move(27 * HOUR)
    workers = [Worker(store, (), clocks=clock.clocks) for store in (clocked_store,
                                                                      second_store)]
    gate = threading.Barrier(2)

    def idle_pass(worker: Worker) -> None:
        gate.wait()
        worker.work_until_idle()

    threads = [threading.Thread(target=idle_pass, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    workers[0].work_until_idle()  # whatever either left
    [made] = hook_jobs(cli)
    assert made["hook"]["event"] == "overdue" and made["hook"]["cron"] == "nightly"
    assert made["state"] == "completed"


def test_an_overdue_hook_job_gets_the_event(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, db_url: str,
) -> None:
    cli = clocked_cli
    worker = Worker(clocked_store, (), clocks=clock.clocks, url=db_url)
    cli.ok("cron", "add", "backup", "@daily", "-c", "exit 1", "--tz", "UTC",
           "--alert-after", "26h", "--max-retries", "0")
    cli.ok("hook", "add", "page", "--on", "overdue", "--cron", "backup", "-c",
           'cat > "event-$QUEUECTL_CRON.json"; '
           'echo "$QUEUECTL_EVENT:$QUEUECTL_EVENT_JOB:$QUEUECTL_CRON" >> event.txt')
    failed = json.loads(cli.ok("cron", "run", "backup", "--json"))
    assert worker.work_until_idle() == 1
    assert cli.job(failed["id"])["state"] == "dead"
    clock.move(27 * HOUR)
    assert clocked_store.cron_judge_overdue() == ["backup"]  # its event job: the latest
    [made] = hook_jobs(cli)
    assert made["hook"] == {"name": "page", "event": "overdue", "job": failed["id"],
                            "cron": "backup"}
    worker.work_until_idle()  # the hook's job (and the missed tick's, which fails)
    assert cli.job(made["id"])["state"] == "completed"
    assert (cli.cwd / "event.txt").read_text() == f"overdue:{failed['id']}:backup\n"
    doc = json.loads((cli.cwd / "event-backup.json").read_text())
    assert doc["id"] == failed["id"] and doc["state"] == "dead"


def test_an_overdue_hook_job_before_any_job_reads_an_empty_document(
    clocked_cli: InProcessCli, clocked_store: Storage, clock: MovingClock, db_url: str,
) -> None:
    cli = clocked_cli
    worker = Worker(clocked_store, (), clocks=clock.clocks, url=db_url)
    cli.ok("cron", "add", "backup", "@daily", "-c", "true", "--tz", "UTC",
           "--alert-after", "26h")
    cli.ok("cron", "pause", "backup")  # never fires: overdue with no job at all
    cli.ok("hook", "add", "page", "--on", "overdue", "-c",
           'cat > event.json; echo "$QUEUECTL_EVENT:$QUEUECTL_EVENT_JOB:$QUEUECTL_CRON" '
           '> event.txt')
    clock.move(27 * HOUR)
    assert clocked_store.cron_judge_overdue() == ["backup"]
    assert worker.work_until_idle() == 1
    [made] = hook_jobs(cli)
    assert made["hook"]["job"] is None and made["state"] == "completed"
    assert (cli.cwd / "event.txt").read_text() == "overdue::backup\n"
    assert json.loads((cli.cwd / "event.json").read_text()) == {}


def test_suspect_fires_once_per_flagged_job(
    clocked_cli: InProcessCli, clocked_store: Storage, second_store: Storage,
    clock: MovingClock, db_url: str, tmp_path: Path,
) -> None:
    cli = clocked_cli
    worker = Worker(clocked_store, (), clocks=clock.clocks, url=db_url)
    quiet = tmp_path / "quiet"
    cli.ok("cron", "add", "dump", "every 1h", "-c",
           f"[ -e {quiet} ] || head -c 4096 /dev/zero", "--overlap", "allow")
    cli.ok("hook", "add", "sus", "--on", "suspect", "--cron", "dump", "-c",
           'cat > suspect.json; '
           'echo "$QUEUECTL_EVENT:$QUEUECTL_EVENT_JOB:$QUEUECTL_CRON" >> suspect.txt')
    cli.ok("hook", "add", "elsewhere", "--on", "suspect", "--cron", "other", "-c", "true")
    for _ in range(5):
        clock.move(HOUR)
        assert worker.work_until_idle() == 1
    _at_once([clocked_store, second_store], "cron_judge_suspects")
    assert hook_jobs(cli) == []
    quiet.touch()
    clock.move(HOUR)
    worker.work_until_idle()  # the quiet run (and maybe, judged in its pass, its hook's)
    last = cli.json("cron", "list")[0]["last_job"]
    _at_once([clocked_store, second_store], "cron_judge_suspects")
    _at_once([clocked_store, second_store], "cron_judge_suspects")
    worker.work_until_idle()
    [made] = hook_jobs(cli)
    assert made["hook"] == {"name": "sus", "event": "suspect", "job": last, "cron": "dump"}
    assert made["state"] == "completed"
    assert (cli.cwd / "suspect.txt").read_text() == f"suspect:{last}:dump\n"
    doc = json.loads((cli.cwd / "suspect.json").read_text())
    assert doc["id"] == last and doc["state"] == "completed"
    # A second quiet run is flagged too: its own hook job.
    clock.move(HOUR)
    worker.work_until_idle()
    second = cli.json("cron", "list")[0]["last_job"]
    _at_once([clocked_store, second_store], "cron_judge_suspects")
    worker.work_until_idle()
    assert [j["hook"]["job"] for j in hook_jobs(cli)] in ([second, last], [last, second])
    assert all(j["state"] == "completed" for j in hook_jobs(cli))
