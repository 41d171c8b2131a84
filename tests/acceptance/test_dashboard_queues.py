"""The dashboard's queues: the page, its pause/resume/limit actions under the same
token and origin rules as every write, and the per-queue Prometheus gauges."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.dashboard_server import dashboard
from tests.helpers import Cli

ODD = 'r/e p"<b>'  # a queue name is data: slashes, quotes, markup


def samples(text: str, name: str) -> dict[str, float]:
    return {s.labels["queue"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == name}


def test_queue_actions_page_and_gauges(cli: Cli) -> None:
    cli.enqueue("true", "--queue", ODD, "--delay", "1h")
    path = "/api/queues/" + quote(ODD, safe="")
    with dashboard(cli) as base, httpx.Client(base_url=base, headers={"origin": base}) as http:
        assert http.get("/api/queues").json() == cli.json("queue", "list")
        paused = http.post(path + "/pause")
        assert paused.status_code == 200 and paused.json()["paused"] is True
        assert cli.json("status")["paused_queues"] == [ODD]
        limited = http.post(path + "/limit", data={"limit": "2"})  # as the page's form
        assert limited.json() == {"name": ODD, "paused": True, "limit": 2, "rate": None,
                                  "window": None, "tz": None, "known": True}
        assert http.post(path + "/limit", json={"limit": 3}).json()["limit"] == 3
        page = http.get("/queues").text
        assert "r/e p&#34;&lt;b&gt;" in page and "<b>" not in page.split("<main>")[1]
        assert "Resume" in page
        overview = http.get("/").text  # the overview says it too
        shown = "r/e p&#34;&lt;b&gt;"
        assert f"paused {shown}" in overview and f"limits {shown}=3" in overview
        metrics = http.get("/metrics").text
        assert samples(metrics, "queuectl_queue_limit") == {ODD: 3.0}
        assert samples(metrics, "queuectl_queue_paused") == {ODD: 1.0}
        assert samples(metrics, "queuectl_queue_running") == {ODD: 0.0}
        # Refusals: one JSON error each, nothing changed.
        for body, code in [({"limit": "-1"}, 400), ({"limit": "lots"}, 400), ({}, 400)]:
            refused = http.post(path + "/limit", data=body)
            assert refused.status_code == code and "error" in refused.json(), body
        assert http.post(path + "/explode").status_code == 404
        assert http.get(path + "/pause").status_code == 405
        resumed = http.post(path + "/resume").json()
        assert (resumed["paused"], resumed["limit"]) == (False, 3)
        assert http.post(path + "/limit", data={"limit": "none"}).json()["limit"] is None
        assert samples(http.get("/metrics").text, "queuectl_queue_limit") == {}
    assert cli.json("queue", "list")[0]["limit"] is None


def test_queue_writes_follow_the_token_and_origin_rules(cli: Cli) -> None:
    token = "t0ken-for-tests"
    with dashboard(cli, "--token", token) as base:
        assert httpx.post(base + "/api/queues/q/pause", headers={"origin": base}).status_code == 401
        bearer = {"authorization": f"Bearer {token}"}
        foreign = httpx.post(base + "/api/queues/q/pause",
                             headers={**bearer, "origin": "http://evil.example"})
        assert foreign.status_code == 403
        assert cli.json("status")["paused_queues"] == []
        ok = httpx.post(base + "/api/queues/q/pause", headers={**bearer, "origin": base})
        assert ok.status_code == 200 and cli.json("status")["paused_queues"] == ["q"]
