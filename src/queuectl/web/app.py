"""The Starlette application: routes, templates and the guard in front of them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from queuectl import output
from queuectl.app import documents, hooks
from queuectl.errors import StoreUnavailable
from queuectl.models import FINAL_STATES, State, iso
from queuectl.settings import redact_url
from queuectl.timeparse import format_age, format_duration
from queuectl.web import events, prom, views
from queuectl.web.api import Api, CronApi, path_segments
from queuectl.web.params import whole_number
from queuectl.web.security import Guard
from queuectl.web.stores import StorePool

HERE = Path(__file__).parent
STATES = tuple(str(state) for state in State)  # in the order the model declares them
# Seconds /healthz waits for the store: a PostgreSQL connection gives up after 5 s
# (storage/pgconn.py), a query on a silent network after much longer.
HEALTH_TIMEOUT = 10.0
NO_STORE = {"cache-control": "no-store"}


def _environment() -> jinja2.Environment:
    # Autoescape everything: job ids, commands and output are text, never markup.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        jobpath=lambda job_id: quote(job_id, safe=""),
        iso=iso,
        dur=lambda s: "-" if s is None else format_duration(s),
        ago=views.since,
        next_run=views.next_run,
        age=format_age,
        trunc=output.truncate,
        pct=lambda r: "-" if r is None else f"{r:.1%}",
        urlencode_query=urlencode,
    )
    env.globals.update(STATES=STATES, CANCELLABLE={str(s) for s in views.CANCELLABLE},
                       ENDED={str(s) for s in FINAL_STATES})
    return env


class Pages:
    def __init__(self, pool: StorePool, templates: Jinja2Templates, store_url: str) -> None:
        self.pool = pool
        self.templates = templates
        self.store_url = store_url

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("events_url", "/events")
        context.update(store_url=self.store_url, nav=context.get("nav", ""))
        # One URL serves a page and, to htmx, its live fragment: caches must keep them apart.
        headers = {"vary": "HX-Request", "cache-control": "no-store"}
        return self.templates.TemplateResponse(request, name, context, status_code=status,
                                               headers=headers)

    async def overview(self, request: Request) -> Response:
        data = await self.pool.run(views.overview)
        name = "_overview.html" if _fragment(request) else "overview.html"
        return self.render(request, name, o=data, nav="overview")

    async def jobs(self, request: Request) -> Response:
        flt = views.JobFilter.parse(request.query_params)
        data = await self.pool.run(lambda s: views.jobs(s, flt))
        name = "_jobs.html" if _fragment(request) else "jobs.html"
        return self.render(request, name, p=data, nav="jobs")

    async def job(self, request: Request) -> Response:
        job_id = request.query_params.get("id")
        if job_id is None:
            job_id = "/".join(path_segments(request, "/jobs/"))
        attempt = _attempt(request)
        data = await self.pool.run(lambda s: views.job(s, job_id, attempt))
        if data is None:
            return self.render(request, "missing.html", 404, job_id=job_id)
        name = "_job.html" if _fragment(request) else "job.html"
        return self.render(request, name, d=data, nav="jobs",
                           events_url="/events?" + urlencode({"job": job_id}))

    async def cron(self, request: Request) -> Response:
        data = await self.pool.run(views.crons)
        name = "_cron.html" if _fragment(request) else "cron.html"
        return self.render(request, name, crons=data, nav="cron")

    async def dlq(self, request: Request) -> Response:
        flt = views.JobFilter.parse(request.query_params)
        data = await self.pool.run(lambda s: views.dead(s, flt.page))
        name = "_dlq.html" if _fragment(request) else "dlq.html"
        return self.render(request, name, p=data, nav="dlq")


    async def hooks(self, request: Request) -> Response:
        found = await self.pool.run(hooks.listed)
        name = "_hooks.html" if _fragment(request) else "hooks.html"
        return self.render(request, name, hooks=found, nav="hooks")

    async def queues(self, request: Request) -> Response:
        infos = await self.pool.run(documents.queues)
        name = "_queues.html" if _fragment(request) else "queues.html"
        return self.render(request, name, queues=infos, nav="queues")


def _attempt(request: Request) -> int | None:
    """The attempt a job page asks for; anything but a number >= 1 means the latest."""
    return whole_number(request.query_params.get("attempt", ""), lowest=1)


def _fragment(request: Request) -> bool:
    """htmx asks for the live part only; a plain visit gets the whole page."""
    return request.headers.get("hx-request") == "true"


def create_app(url: str, token: str | None, stopping: threading.Event | None = None) -> Starlette:
    """The dashboard for the store at ``url``; ``stopping`` ends open event streams."""
    pool = StorePool(url)
    registry = prom.registry(pool)
    templates = Jinja2Templates(env=_environment())
    pages, api = Pages(pool, templates, redact_url(url)), Api(pool)
    cron_api = CronApi(pool)

    async def metrics(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        """For load balancers and container probes: does the store answer? Open to all
        (security.OPEN_PATHS), so it says nothing but that."""
        try:
            await asyncio.wait_for(pool.run(lambda s: s.config_items()), HEALTH_TIMEOUT)
        except Exception:  # noqa: BLE001 - whatever it was, the store did not answer
            return JSONResponse({"store": "unavailable"}, 503, headers=NO_STORE)
        return JSONResponse({"store": "ok"}, headers=NO_STORE)

    async def favicon(request: Request) -> Response:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        pool.close()

    routes = [
        Route("/", pages.overview),
        Route("/jobs", pages.jobs),
        Route("/jobs/{rest:path}", pages.job),
        Route("/job", pages.job),
        Route("/dlq", pages.dlq),
        Route("/cron", pages.cron),
        Route("/queues", pages.queues),
        Route("/hooks", pages.hooks),
        Route("/events", events.endpoint(pool, stopping or threading.Event())),
        Route("/api/status", api.status),
        Route("/api/jobs", api.jobs),
        Route("/api/jobs/bulk", api.bulk, methods=["POST"]),
        Route("/api/jobs/{rest:path}", api.job, methods=["GET", "POST"]),
        Route("/api/dlq/retry", api.retry_all, methods=["POST"]),
        Route("/api/cron", cron_api.list),
        Route("/api/cron/{rest:path}", cron_api.act, methods=["POST"]),
        Route("/api/queues", api.queues),
        Route("/api/hooks", api.hooks),
        Route("/api/queues/{rest:path}", api.queue, methods=["POST"]),
        Route("/metrics", metrics),
        Route("/healthz", healthz),
        Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    guard = Middleware(Guard, token=token)
    handlers = {StoreUnavailable: _store_unavailable}
    return Starlette(routes=routes, middleware=[guard], lifespan=lifespan,
                     exception_handlers=handlers)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    """The store is down (a PostgreSQL server gone, a disk full): 503 with the reason, the
    password already scrubbed, as JSON under /api/ and as text on a page, never a bare 500."""
    message = f"store unavailable: {exc}"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, 503, headers=NO_STORE)
    return Response(message + "\n", 503, media_type="text/plain", headers=NO_STORE)
