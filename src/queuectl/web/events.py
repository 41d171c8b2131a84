"""GET /events: server-sent events telling open pages that something changed.

Each connected page gets its own small loop: read a cheap fingerprint of what it shows
(counts, workers, and the followed job with its output size) every POLL_SECONDS, and push
a `change` event only when the fingerprint moved. Nobody watching means no loop at all.
The page then re-fetches its own fragments, through the same routes and checks as ever.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable

import anyio
from starlette.requests import Request
from starlette.responses import StreamingResponse

from queuectl.app import documents
from queuectl.app.store import Storage
from queuectl.web.stores import StorePool

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0  # a comment line now and then keeps proxies from closing us
NAP_SECONDS = 0.1  # how fast an open stream notices shutdown
RETRY_MS = 2000  # how soon a browser reconnects after losing the stream


def fingerprint(store: Storage, job_id: str | None) -> str:
    stats = store.stats()
    workers = [(w.id, w.state, w.current_job, w.heartbeat_at.timestamp())
               for w in documents.workers(store)]
    parts: list[object] = [stats.to_dict(), workers]
    if job_id:
        job = store.get_job(job_id)
        out = store.read_output(job_id) if job is not None else None
        parts.append(job.to_dict() if job else None)
        parts.append((out.attempt, out.dropped + len(out.data), out.finished) if out else None)
    return repr(parts)


async def _stream(request: Request, read: Callable[[], str],
                  stopping: threading.Event) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    last, quiet = None, 0.0
    # Ends when the page goes away, or when the server shuts down (else Ctrl-C would wait
    # for every open page).
    while not stopping.is_set() and not await request.is_disconnected():
        current = await anyio.to_thread.run_sync(read)
        if current != last:
            last, quiet = current, 0.0
            yield "event: change\ndata: {}\n\n"
        elif quiet >= KEEPALIVE_SECONDS:
            quiet = 0.0
            yield ": keepalive\n\n"
        await _nap(POLL_SECONDS, stopping)
        quiet += POLL_SECONDS


async def _nap(seconds: float, stopping: threading.Event) -> None:
    """Sleep, waking early when the server shuts down."""
    for _ in range(int(seconds / NAP_SECONDS)):
        if stopping.is_set():
            return
        await anyio.sleep(NAP_SECONDS)


def endpoint(pool: StorePool, stopping: threading.Event) -> Callable[[Request], object]:
    async def events(request: Request) -> StreamingResponse:
        job_id = request.query_params.get("job") or None
        read = lambda: pool.call(lambda store: fingerprint(store, job_id))  # noqa: E731
        return StreamingResponse(
            _stream(request, read, stopping), media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return events
