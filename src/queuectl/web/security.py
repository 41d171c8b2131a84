"""Who may use the dashboard, decided before any route runs (a pure ASGI middleware).

- With a token, every request carries it: ``Authorization: Bearer T``, or the cookie a
  browser gets by opening ``/?token=T`` once (HttpOnly, SameSite=Strict; it holds a digest
  of the token, never the token, and the redirect drops the token from the address bar).
- Without a token the server only listens on loopback, and then also insists that the
  Host header names loopback: a hostile page cannot reach it through DNS rebinding.
- State-changing requests must come from this origin: a foreign Origin, Referer or
  ``Sec-Fetch-Site`` is refused (403). A request with neither Origin nor Referer is a
  script (every current browser sends Origin on POST); it is let through unless it relies
  on the cookie, the one credential a browser attaches by itself.
- ``/healthz`` (OPEN_PATHS) is open to every GET: it tells only whether the store answers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "queuectl_dashboard"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Paths anyone may reach, without a token or a loopback Host: a health check, which says
# only whether the store answers (probes rarely carry credentials).
OPEN_PATHS = frozenset({"/healthz"})
SECURITY_HEADERS = {
    # Defence in depth behind autoescaping: no inline script, no foreign script, no framing.
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


@dataclass(frozen=True)
class Verdict:
    status: int = 200  # 200: let the request through
    reason: str = ""
    set_cookie: bool = False  # authenticated by ?token=: set the cookie and redirect


ALLOW = Verdict()


def cookie_value(token: str) -> str:
    """What the cookie holds: a digest, so the token itself never sits in the browser."""
    return hmac.new(token.encode(), b"queuectl dashboard cookie", hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _hostname(netloc: str) -> str:
    try:
        return (urlsplit(f"//{netloc}").hostname or "").lower()
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1 (names other than localhost are not resolved)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authenticate(token: str, method: str, headers: Headers, query: dict[str, str],
                  cookies: dict[str, str]) -> tuple[str | None, Verdict | None]:
    """How the request proved it knows the token ("header" / "cookie"), or a verdict."""
    scheme, _, given = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _same(given.strip(), token):
        return "header", None
    if COOKIE in cookies and _same(cookies[COOKIE], cookie_value(token)):
        return "cookie", None
    if method in SAFE_METHODS and "token" in query and _same(query["token"], token):
        return None, Verdict(set_cookie=True)
    if _gave_token(method, headers, query, cookies):
        return None, Verdict(401, "invalid token: the token given does not match the "
                                  "dashboard's")
    return None, Verdict(401, "a token is required: send Authorization: Bearer <token>, "
                              "or open /?token=<token> once in the browser")


def _gave_token(method: str, headers: Headers, query: dict[str, str],
                cookies: dict[str, str]) -> bool:
    """The request carried a credential (a bearer token, the cookie, or ?token= where it
    counts), so a refusal says it was wrong rather than that none was sent."""
    scheme, _, given = headers.get("authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer" and bool(given.strip())
    by_query = method in SAFE_METHODS and bool(query.get("token"))
    return bearer or bool(cookies.get(COOKIE)) or by_query


def _foreign_origin(headers: Headers) -> str | None:
    """Why a state-changing request is not same-origin, or None when it is (or is a script)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    host = headers.get("host", "").lower()
    origin = headers.get("origin")
    if origin is not None:
        if origin == "null" or urlsplit(origin).netloc.lower() != host:
            return "cross-origin request refused"
        return None
    referer = headers.get("referer")
    if referer is not None and urlsplit(referer).netloc.lower() != host:
        return "cross-origin request refused (Referer)"
    return None


def decide(token: str | None, method: str, headers: Headers, query: dict[str, str],
           cookies: dict[str, str]) -> Verdict:
    """The whole policy, pure: may this request go on?"""
    if token is None and not is_loopback(_hostname(headers.get("host", ""))):
        return Verdict(403, "unexpected Host header: this dashboard answers on loopback only")
    via = None
    if token is not None:
        via, verdict = _authenticate(token, method, headers, query, cookies)
        if verdict is not None:
            return verdict
    if method not in SAFE_METHODS:
        reason = _foreign_origin(headers)
        scripted = not (headers.get("origin") or headers.get("referer"))
        if reason is None and via == "cookie" and scripted:
            reason = "state-changing request without Origin refused (cookie authentication)"
        if reason is not None:
            return Verdict(403, reason)
    return ALLOW


def _cookies(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in headers.get("cookie", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name] = value
    return out


class Guard:
    """ASGI middleware applying ``decide`` and adding security headers to every response."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in OPEN_PATHS and scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, _secured(send))
            return
        headers = Headers(scope=scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        verdict = decide(self.token, scope["method"], headers, query, _cookies(headers))
        if verdict.status != 200 or verdict.set_cookie:
            await self._refuse(verdict, scope, query)(scope, receive, _secured(send))
            return
        await self.app(scope, receive, _secured(send))

    def _refuse(self, verdict: Verdict, scope: Scope, query: dict[str, str]) -> Response:
        if verdict.set_cookie:
            assert self.token is not None
            rest = urlencode({k: v for k, v in query.items() if k != "token"})
            path = scope.get("raw_path", b"/").decode("latin-1")
            if not path.startswith("/") or path.startswith("//"):
                path = "/"  # never a redirect to another host
            response: Response = RedirectResponse(
                path + (f"?{rest}" if rest else ""), status_code=303
            )
            secure = scope.get("scheme") == "https"
            response.set_cookie(COOKIE, cookie_value(self.token), httponly=True,
                                samesite="strict", secure=secure)
            return response
        extra = {"www-authenticate": "Bearer"} if verdict.status == 401 else {}
        if scope["path"].startswith("/api/") or scope["path"] == "/events":
            return JSONResponse({"error": verdict.reason}, verdict.status, headers=extra)
        return PlainTextResponse(verdict.reason + "\n", verdict.status, headers=extra)


def _secured(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return wrapped
