"""The JSON API: the same documents as the CLI's --json, from the same application layer
(app/): this module only reads requests and answers them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from queuectl.app import control, documents
from queuectl.app import enqueue as submitting
from queuectl.app.store import Storage
from queuectl.errors import (
    InvalidValue,
    JobNeeded,
    JobNotFound,
    NoOutput,
    QueuectlError,
    ScheduleNotFound,
    WrongState,
)
from queuectl.models import State
from queuectl.specs import check_queue
from queuectl.web.params import MAX_NUMBER, whole_number
from queuectl.web.stores import StorePool

JOB_ACTIONS = frozenset({"logs", "retry", "cancel", "remove", "rerun", "hold", "release"})
QUEUE_ACTIONS = frozenset(control.QUEUE_ACTIONS)
DEFAULT_LIMIT = 100  # as `list`; limit=0 means all, as `list --limit 0`


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def failure(exc: QueuectlError) -> JSONResponse:
    """A refused operation as JSON: unknown job or schedule 404, wrong state 409, bad
    value 400."""
    missing = isinstance(exc, JobNotFound | ScheduleNotFound)
    conflict = isinstance(exc, WrongState | JobNeeded)
    status = 404 if missing else 409 if conflict else 400
    return error(str(exc), status)


def path_segments(request: Request, prefix: str) -> list[str]:
    """The path after ``prefix``, split on real slashes only: a job id may hold an
    encoded one (%2F), which the decoded path would no longer tell apart."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    rest = raw[len(prefix.encode()) :]
    return [unquote_to_bytes(seg).decode("utf-8", "replace") for seg in rest.split(b"/")]


class Api:
    def __init__(self, pool: StorePool) -> None:
        self.pool = pool

    async def status(self, request: Request) -> Response:
        return JSONResponse(await self.pool.run(documents.status))

    async def jobs(self, request: Request) -> Response:
        try:
            state, queue, limit = _list_args(request)
        except InvalidValue as exc:
            return error(str(exc), 400)
        tags = request.query_params.getlist("tag")
        search = request.query_params.get("search") or None
        jobs = await self.pool.run(lambda s: documents.list_jobs(s, state, queue, limit,
                                                                 tags=tags, search=search))
        return JSONResponse(documents.job_docs(jobs))

    async def job(self, request: Request) -> Response:
        segments = path_segments(request, "/api/jobs/")
        if len(segments) == 2 and segments[1] in JOB_ACTIONS:
            job_id, action = segments[0], segments[1]
        else:
            job_id, action = "/".join(segments), None  # an id with an unencoded slash
        if not job_id:
            return error("no job id", 404)
        allowed = "GET" if action in (None, "logs") else "POST"
        if request.method != allowed:
            return error(f"method {request.method} not allowed here (use {allowed})", 405)
        try:
            doc = await self.pool.run(lambda s: self._act(s, job_id, action, request))
        except NoOutput as exc:
            return error(str(exc), 404)
        except QueuectlError as exc:
            return failure(exc)
        return JSONResponse(doc)

    def _act(self, store: Storage, job_id: str, action: str | None, request: Request) -> Any:
        """GET: `show --json`, or `logs --json` (NoOutput, answered 404 like an unknown job,
        when the job has no such attempt or has not run yet); POST: `dlq retry`, `cancel`,
        `remove`, `rerun` (the new job), `hold`, `release`."""
        if action is None:
            return documents.job_with_attempts(store, job_id).to_dict()
        if action == "logs":
            return documents.output_ran(store, job_id, _attempt_arg(request)).to_dict()
        if action == "retry":
            return control.retry_dead(store, [job_id])[0].to_dict()
        if action == "remove":
            return control.removed_doc(control.remove(store, [job_id]))
        if action == "rerun":
            return submitting.rerun(store, job_id, {}).to_dict()
        if action in ("hold", "release"):
            act = control.hold if action == "hold" else control.release
            return act(store, [job_id])[0].to_dict()
        return control.cancel(store, [job_id])[0].to_dict()

    async def hooks(self, request: Request) -> Response:
        """GET /api/hooks: `hook list --json`."""
        from queuectl.app import hooks

        found = await self.pool.run(hooks.listed)
        return JSONResponse(hooks.docs(found))

    async def queues(self, request: Request) -> Response:
        """GET /api/queues: `queue list --json`."""
        infos = await self.pool.run(documents.queues)
        return JSONResponse([info.to_dict() for info in infos])

    async def queue(self, request: Request) -> Response:
        """POST /api/queues/NAME/pause|resume|limit (limit: `limit=N|none`, in the query,
        a form or a JSON body): the queue's settings after the change."""
        segments = path_segments(request, "/api/queues/")
        if len(segments) < 2 or segments[-1] not in QUEUE_ACTIONS:
            return error("no such queue action (pause, resume, limit)", 404)
        name, action = "/".join(segments[:-1]), segments[-1]
        try:
            check_queue(name)  # before the body is read: a bad name is the first error
            limit = await _limit_arg(request) if action == "limit" else None
            apply = control.queue_action(name, action, limit)
        except QueuectlError as exc:
            return failure(exc)
        done = await self.pool.run(apply)
        return JSONResponse({**control.queue_doc(done.after), "known": done.known})

    async def bulk(self, request: Request) -> Response:
        """POST /api/jobs/bulk: an action on every job a filter matches, answered like
        `cancel --all --json` (see control.bulk_request for the body)."""
        try:
            doc = json.loads(await request.body() or b"{}")
        except ValueError:
            return error("the body is not JSON", 400)
        try:
            action, flt, dry_run = control.bulk_request(doc)
        except QueuectlError as exc:
            return failure(exc)
        done = await self.pool.run(lambda s: control.bulk(s, action, flt, dry_run=dry_run))
        return JSONResponse(done)

    async def retry_all(self, request: Request) -> Response:
        jobs = await self.pool.run(lambda s: control.retry_dead(s, None))
        return JSONResponse(documents.job_docs(jobs))


CRON_ACTIONS = control.CRON_ACTIONS


class CronApi:
    """GET /api/cron (like `cron list --json`); POST /api/cron/NAME/pause|resume|run, under
    the token and origin rules of every state-changing request (web/security.py)."""

    def __init__(self, pool: StorePool) -> None:
        self.pool = pool

    async def list(self, request: Request) -> Response:
        found = await self.pool.run(documents.schedules)
        return JSONResponse([c.to_dict() for c in found])

    async def act(self, request: Request) -> Response:
        segments = path_segments(request, "/api/cron/")
        if len(segments) != 2 or segments[1] not in CRON_ACTIONS:
            return error("use /api/cron/NAME/pause, /resume or /run", 404)
        name, action = segments
        try:
            doc = await self.pool.run(lambda s: control.cron_act(s, name, action))
        except QueuectlError as exc:
            return failure(exc)
        return JSONResponse(doc)


def _list_args(request: Request) -> tuple[State | None, str | None, int | None]:
    params = request.query_params
    state = documents.parse_state(params.get("state") or None)
    raw_limit = params.get("limit") or str(DEFAULT_LIMIT)
    limit = whole_number(raw_limit)
    if limit is None:
        raise InvalidValue(
            f"invalid limit {raw_limit!r}: must be an integer from 0 to {MAX_NUMBER}"
        )
    return state, params.get("queue") or None, limit or None


async def _limit_arg(request: Request) -> str:
    """The `limit` of a limit action: from the query, a JSON body or a form (htmx)."""
    if "limit" in request.query_params:
        return request.query_params["limit"]
    body = (await request.body()).decode("utf-8", "replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            doc = json.loads(body)
        except ValueError:
            raise InvalidValue("the body is not JSON") from None
        value = doc.get("limit") if isinstance(doc, dict) else None
        return "none" if value is None else str(value)
    values = parse_qs(body).get("limit")
    if not values:
        raise InvalidValue("give a limit: a whole number >= 0, or none")
    return values[0]


def _attempt_arg(request: Request) -> int | None:
    raw = request.query_params.get("attempt")
    if not raw:
        return None
    attempt = whole_number(raw, lowest=1)
    if attempt is None:
        raise InvalidValue(f"invalid attempt {raw!r}: must be an integer from 1 to {MAX_NUMBER}")
    return attempt
