"""A limited list's search looks at the newest jobs its other filters match, and says so
when it looked at only some; a list of all jobs and the bulk actions look at every job.
In-process on both stores, with the window made small."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from queuectl import Queue
from queuectl.app import documents
from tests.inprocess import InProcessCli

if TYPE_CHECKING:
    from starlette.testclient import TestClient

WINDOW = 5


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    from starlette.testclient import TestClient

    from queuectl.web.app import create_app

    with TestClient(create_app(db_url, None), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def small_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "SEARCH_WINDOW", WINDOW)


def test_a_search_looks_at_the_newest_jobs_and_says_so(
    cli: InProcessCli, small_window: None, api: TestClient, db_url: str,
) -> None:
    old = [cli.enqueue("echo Needle", "--delay", "1h") for _ in range(2)]
    queued = cli.enqueue("echo needle", "--delay", "1h", "--queue", "q")
    hay = [cli.enqueue("echo hay", "--delay", "1h", "--tag", "t") for _ in range(WINDOW)]
    said = f"(searched the newest {WINDOW} jobs only; --limit 0 searches all)\n"
    found = cli.run("list", "--search", "needle", "--json")
    assert (found.returncode, found.stdout.strip(), found.stderr) == (0, "[]", said)
    everything = cli.json("list", "--search", "NEEDLE", "--limit", "0")
    assert [job["id"] for job in everything] == [queued, *reversed(old)]
    assert cli.run("list", "--search", "needle", "--limit", "0").stderr == ""
    # The window is the newest jobs of the store, whatever their queue or state.
    inq = cli.run("list", "--search", "needle", "--queue", "q", "--json")
    assert (inq.stdout.strip(), inq.stderr) == ("[]", said)
    newer = cli.enqueue("echo needle", "--delay", "1h", "--queue", "q")
    assert [job["id"] for job in cli.json("list", "--search", "needle", "--queue", "q")] == [
        newer]
    assert cli.run("list", "--tag", "t", "--state", "completed").stderr == ""  # none older
    tagged = cli.run("list", "--tag", "t", "--json")
    assert len(tagged.stdout.split('"id"')) - 1 == WINDOW - 1 and tagged.stderr == said
    assert cli.run("list", "--tag", "t", "--limit", "4").stderr == (
        "(the newest 4; --limit 0 lists all)\n")  # it found what it was asked for
    # The bulk actions look at every job.
    assert cli.ok("cancel", "--all", "--search", "needle", "--dry-run").split() == [
        *old, queued, newer]
    with Queue(db_url) as q:
        assert [job.id for job in q.list(search="needle")] == [newer]
        assert [job.id for job in q.list(search="needle", limit=None)] == [
            newer, queued, *reversed(old)]
    answer = api.get("/api/jobs", params={"search": "NEEDLE"})
    assert [job["id"] for job in answer.json()] == [newer]
    assert answer.headers["x-queuectl-searched"] == str(WINDOW)
    answer = api.get("/api/jobs", params={"search": "needle", "limit": "0"})
    assert len(answer.json()) == 4 and "x-queuectl-searched" not in answer.headers
    assert 'id="searched-part"' in api.get("/jobs", params={"q": "hay"}).text
    page = api.get("/jobs", params={"q": "needle", "state": "completed"}).text
    assert 'id="searched-part"' not in page
    assert 'id="searched-part"' not in api.get("/jobs").text
    assert hay


def test_search_text_is_text_not_a_pattern(cli: InProcessCli) -> None:
    plain = cli.enqueue("echo plain", "--delay", "1h")
    slash = cli.enqueue("echo 'a\\b'", "--delay", "1h")
    percent = cli.enqueue("echo 100%_done", "--delay", "1h")

    def ids(text: str) -> list[str]:
        return [job["id"] for job in cli.json("list", "--search", text, "--limit", "0")]

    assert ids("\\") == [slash] and ids("a\\b") == [slash] and ids("a\\") == [slash]
    assert ids("%") == [percent] and ids("%_") == [percent] and ids("0%_D") == [percent]
    assert ids("_") == [percent] and ids("p_ain") == [] and ids("p%n") == []
    assert ids("PLAIN") == [plain]
