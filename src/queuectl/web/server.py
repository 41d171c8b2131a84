"""Listening and serving: the socket is bound before uvicorn starts, so that a busy port or
a bad address is one clear error line instead of a server log."""

from __future__ import annotations

import socket

from queuectl.errors import QueuectlError
from queuectl.web.security import is_loopback

GRACEFUL_SHUTDOWN = 2.0  # seconds open streams get to end after Ctrl-C

__all__ = ["bind", "is_loopback", "public_url", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0: any free port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise QueuectlError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def public_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(url: str, sock: socket.socket, token: str | None) -> None:
    """Run until Ctrl-C / SIGTERM. No access log: it would print /?token=... lines."""
    import contextlib
    import threading
    from collections.abc import Iterator
    from types import FrameType

    import uvicorn

    from queuectl.web.app import create_app

    stopping = threading.Event()

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopping.set()  # let open event streams end instead of waiting them out
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                # uvicorn raises the stop signal again once it has shut down, so that the
                # process dies of it (143 for SIGTERM). A stop that was asked for and done
                # is a success, as for a worker pool: exit 0 on SIGTERM and Ctrl-C alike.
                getattr(self, "_captured_signals", []).clear()

    app = create_app(url, token, stopping)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False, proxy_headers=False,
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN),
    )
    Server(config).run(sockets=[sock])
