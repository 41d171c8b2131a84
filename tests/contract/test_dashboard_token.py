"""A dashboard request with a token that does not match is told the token is invalid; one
without any is told a token is required."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from queuectl.web.app import create_app

TOKEN = "s3cret"


@pytest.mark.parametrize(
    ("credentials", "words"),
    [({}, "a token is required"),
     ({"headers": {"Authorization": "Bearer wrong"}}, "invalid token"),
     ({"cookies": {"queuectl_dashboard": "stale"}}, "invalid token"),
     ({"params": {"token": "wrong"}}, "invalid token"),
     ({"headers": {"Authorization": f"Bearer {TOKEN}"}}, None)],
)
def test_a_wrong_dashboard_token_is_called_wrong(
    db_url: str, credentials: dict[str, dict[str, str]], words: str | None
) -> None:
    with TestClient(create_app(db_url, TOKEN), base_url="http://queues.example") as client:
        client.cookies.update(credentials.get("cookies", {}))
        answer = client.get("/api/status", headers=credentials.get("headers"),
                            params=credentials.get("params"))
    if words is None:
        assert answer.status_code == 200
        return
    assert answer.status_code == 401
    assert words in answer.text
    assert ("invalid token" in answer.text) == (words == "invalid token")
