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

JOB_ACTIONS = frozenset({"logs", "retry", "cancel", "remove", "rerun", "hold", "release",
                         "edit"})
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
    # Some servers and test clients (starlette's before 0.38) leave the query string in
    # raw_path; a real "?" in a path is always sent as %3F.
    raw = raw.split(b"?", 1)[0]
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
        def read(store: Storage) -> tuple[list[Any], int | None]:
            jobs = documents.list_jobs(store, state, queue, limit, tags=tags, search=search)
            return jobs, documents.searched_part(store, state, queue, None, tags, search, limit,
                                                 len(jobs))

        jobs, searched = await self.pool.run(read)
        # A search that looked at the newest jobs only says so beside the list.
        headers = {"x-queuectl-searched": str(searched)} if searched is not None else None
        return JSONResponse(documents.job_docs(jobs), headers=headers)

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
            fields = await _edit_body(request) if action == "edit" else {}
            doc = await self.pool.run(lambda s: self._act(s, job_id, action, request, fields))
        except NoOutput as exc:
            return error(str(exc), 404)
        except QueuectlError as exc:
            return failure(exc)
        return JSONResponse(doc)

    def _act(self, store: Storage, job_id: str, action: str | None, request: Request,
             fields: dict[str, Any]) -> Any:
        """GET: `show --json`, or `logs --json` (NoOutput, answered 404 like an unknown job,
        when the job has no such attempt or has not run yet); POST: `dlq retry`, `cancel`,
        `remove`, `rerun` (the new job), `hold`, `release`, `edit` (``fields``: the JSON
        body; the edited job)."""
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
        if action == "edit":
            return submitting.edit(store, job_id, fields).to_dict()
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
        """POST /api/queues/NAME/pause|resume|limit|rate|window (`limit=N|none`,
        `rate=N/DUR|none`, `window=[DAYS ]HH:MM-HH:MM|none` with `tz=ZONE`, in the query, a
        form or a JSON body): the queue's settings after the change."""
        segments = path_segments(request, "/api/queues/")
        if len(segments) < 2 or segments[-1] not in QUEUE_ACTIONS:
            return error("no such queue action (pause, resume, limit, rate, window)", 404)
        name, action = "/".join(segments[:-1]), segments[-1]
        try:
            check_queue(name)  # before the body is read: a bad name is the first error
            value = await _setting_arg(request, action) if action in SETTINGS else None
            tz = await _setting_arg(request, "tz", needed=False) if action == "window" else None
            apply = control.queue_action(name, action, value, tz or None)
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


SETTINGS = {"limit": "a whole number >= 0, or none", "rate": "N/DURATION, or none",
            "window": "[DAYS ]HH:MM-HH:MM, or none"}  # what a queue action's value is


async def _setting_arg(request: Request, key: str, needed: bool = True) -> str:
    """The value ``key`` of a queue action (limit, rate, window, tz): from the query, a JSON
    body (null: none) or a form (htmx); "" for an optional one not given."""
    if key in request.query_params:
        return request.query_params[key]
    body = (await request.body()).decode("utf-8", "replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            doc = json.loads(body)
        except ValueError:
            raise InvalidValue("the body is not JSON") from None
        value = doc.get(key) if isinstance(doc, dict) else None
        return ("none" if needed else "") if value is None else str(value)
    values = parse_qs(body).get(key)
    if not values:
        if not needed:
            return ""
        raise InvalidValue(f"give a {key}: {SETTINGS[key]}")
    return values[0]


async def _edit_body(request: Request) -> dict[str, Any]:
    """An edit's fields: a JSON object with the keys of a JSON job (UsageError if not)."""
    from queuectl.specs import parse_object

    return parse_object((await request.body()).decode("utf-8", "replace") or "{}")


def _attempt_arg(request: Request) -> int | None:
    raw = request.query_params.get("attempt")
    if not raw:
        return None
    attempt = whole_number(raw, lowest=1)
    if attempt is None:
        raise InvalidValue(f"invalid attempt {raw!r}: must be an integer from 1 to {MAX_NUMBER}")
    return attempt
