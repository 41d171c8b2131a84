"""`queue` settings and their refusals, without a worker (in-process)."""

from __future__ import annotations

from pathlib import Path

from queuectl.storage import open_store
from tests.helpers import Cli
from tests.inprocess import InProcessCli


def test_bad_queue_input_is_one_line_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    before = cli.json("queue", "list")
    for args, code in [
        (("queue", "limit", "q", "-1"), 1),
        (("queue", "limit", "q", "lots"), 2),
        (("queue", "limit", "q", "99999999999"), 1),
        (("queue", "pause", ""), 1),
        (("queue", "pause", "bad\x1bname"), 1),
        (("queue", "limit", "q"), 2),
    ]:
        proc = cli.run(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith("queuectl: error: "), args
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stdout == ""
    assert cli.json("queue", "list") == before
    # Resuming a queue nobody knows is fine, but says so; it stays unknown.
    proc = cli.run("queue", "resume", "ghost")
    assert proc.returncode == 0 and "unknown queue" in proc.stdout
    assert cli.json("queue", "list") == before
    # Pausing one is fine too (for the jobs to come), but a typo must not pass unseen.
    proc = cli.run("queue", "pause", "ghost")
    assert proc.returncode == 0 and "has no jobs yet" in proc.stderr
    assert [q["name"] for q in cli.json("queue", "list")] == [*(q["name"] for q in before),
                                                              "ghost"]


def test_a_refused_limit_never_creates_the_store(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "q.db"
    cli = InProcessCli(str(path), tmp_path / "home", cwd=tmp_path)
    proc = cli.run("queue", "limit", "q", "-3")
    assert proc.returncode == 1 and not path.parent.exists()


def test_queue_settings_survive_reopening(db_url: str) -> None:
    store = open_store(db_url)
    try:
        store.queue_update("a", paused=True)
        store.queue_update("a", limit=4)
        change = store.queue_update("a", paused=False)
        assert (change.before.paused, change.after.paused, change.after.limit) == (True, False, 4)
        store.queue_update("b", limit=2)
        store.queue_update("b", limit=None)  # neither paused nor limited: no row left
    finally:
        store.close()
    store = open_store(db_url)
    try:
        assert [(q.name, q.paused, q.limit) for q in store.queue_settings()] == [("a", False, 4)]
    finally:
        store.close()

