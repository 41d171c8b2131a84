"""The dashboard's access policy, as a pure function of the request."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")

from starlette.datastructures import Headers  # noqa: E402

from queuectl.web.security import COOKIE, cookie_value, decide, is_loopback  # noqa: E402

T = "s3cret"


def verdict(method: str = "GET", token: str | None = T, query: dict[str, str] | None = None,
            cookies: dict[str, str] | None = None, **headers: str) -> int:
    raw = {"host": "127.0.0.1:5000", **{k.replace("_", "-"): v for k, v in headers.items()}}
    v = decide(token, method, Headers(raw), query or {}, cookies or {})
    return 302 if v.set_cookie else v.status


def test_token_via_header_cookie_or_query() -> None:
    assert verdict() == 401
    assert verdict(authorization=f"Bearer {T}") == 200
    assert verdict(authorization="Bearer nope") == 401
    assert verdict(cookies={COOKIE: cookie_value(T)}) == 200
    assert verdict(cookies={COOKIE: T}) == 401  # the cookie holds a digest, not the token
    assert verdict(query={"token": T}) == 302
    assert verdict("POST", query={"token": T}) == 401  # only a page visit may set the cookie


def test_writes_must_be_same_origin() -> None:
    auth = f"Bearer {T}"
    assert verdict("POST", origin="http://127.0.0.1:5000", authorization=auth) == 200
    assert verdict("POST", origin="http://evil.example", authorization=auth) == 403
    assert verdict("POST", origin="null", authorization=auth) == 403
    assert verdict("POST", referer="http://evil.example/x", authorization=auth) == 403
    assert verdict("POST", sec_fetch_site="cross-site", authorization=auth) == 403
    assert verdict("POST", authorization=auth) == 200  # a script: no Origin, explicit credentials


def test_cookie_alone_cannot_write_without_origin() -> None:
    jar = {COOKIE: cookie_value(T)}
    assert verdict("POST", cookies=jar) == 403
    assert verdict("POST", cookies=jar, origin="http://127.0.0.1:5000") == 200


def test_without_token_only_loopback_host_headers() -> None:
    assert verdict(token=None) == 200
    assert verdict(token=None, host="localhost:5000") == 200
    assert verdict(token=None, host="[::1]:5000") == 200
    assert verdict(token=None, host="rebound.example:5000") == 403  # DNS rebinding
    assert verdict("POST", token=None, origin="http://evil.example") == 403


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.4", False),
    ("example.com", False),
])
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected
