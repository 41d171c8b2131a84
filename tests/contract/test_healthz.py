"""`GET /healthz`: 200 `{"store": "ok"}` while the store answers, 503 when it does not;
no token needed, nothing else said."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.helpers import Cli

TOKEN = "s3cret-token"


def requests(url: str, *calls: tuple[str, str]) -> list[httpx.Response]:
    """Each (method, path) asked of the dashboard app for the store at ``url``, in process
    (a server would refuse to start on a store it cannot open)."""
    from queuectl.web.app import create_app

    async def ask() -> list[httpx.Response]:
        # A probe names the server's address, not loopback: the token-less Host check must
        # not stop it either.
        transport = httpx.ASGITransport(app=create_app(url, TOKEN))
        base = "http://queues.example:5000"
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            return [await c.request(method, path) for method, path in calls]

    return asyncio.run(ask())


def test_healthz_ok_without_a_token(db_url: str) -> None:
    ok, other, post = requests(db_url, ("GET", "/healthz"), ("GET", "/api/status"),
                               ("POST", "/healthz"))
    assert ok.status_code == 200 and ok.json() == {"store": "ok"}
    assert ok.headers["cache-control"] == "no-store"
    assert other.status_code == 401  # the rest still wants the token
    assert post.status_code == 401  # open to reads only


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["port nothing listens on", "database that does not exist"])
def test_healthz_503_when_postgresql_refuses(where: str) -> None:
    pg.require_server()
    url = ("postgresql://postgres@127.0.0.1:1/queuectl" if where.startswith("port")
           else pg.url_for("qtest_never_created_db"))
    [answer] = requests(url, ("GET", "/healthz"))
    assert answer.status_code == 503 and answer.json() == {"store": "unavailable"}


@pytest.mark.postgres
def test_healthz_of_a_running_dashboard_follows_its_database(tmp_path: Path) -> None:
    """A real `queuectl dashboard` whose database is dropped under it: 200, then 503."""
    from tests.dashboard_server import dashboard

    pg.require_server()
    name = pg.create(pg.template())
    try:
        cli = Cli(pg.url_for(name), tmp_path / "home", cwd=tmp_path)
        with dashboard(cli, "--token", TOKEN) as base:
            assert httpx.get(base + "/healthz").json() == {"store": "ok"}
            pg.drop(name)  # WITH (FORCE): the dashboard's connections are cut too
            answer = httpx.get(base + "/healthz", timeout=30)
            assert answer.status_code == 503 and answer.json() == {"store": "unavailable"}
            # The pages and the API say so too (503 and why), never a bare 500.
            auth = {"Authorization": f"Bearer {TOKEN}"}
            api = httpx.get(base + "/api/status", headers=auth, timeout=30)
            assert api.status_code == 503 and "store unavailable" in api.json()["error"]
            page = httpx.get(base + "/", headers=auth, timeout=30)
            assert page.status_code == 503 and "store unavailable" in page.text
    finally:
        pg.drop(name)
