"""SQLite's wake-ups: a datagram to each worker's own abstract Unix socket.

Every address is named after the store (its file's real path, hashed) and a worker id, so
any process that writes to the store reaches its workers without a server in between. A
worker on its own binds its address itself (SQLiteStorage.listener); a pool's supervisor
binds the addresses of all its workers (DatagramWakeups) and routes what it hears to one
of them (pool/relay.py), as it does with a PostgreSQL LISTEN.
"""

from __future__ import annotations

import os
from contextlib import suppress

from queuectl.storage.base import WakeSource

TYPE_CHECKING = False  # not typing's: importing typing would cost every call
if TYPE_CHECKING:
    import socket
    from hashlib import sha1
else:
    try:  # the interpreter's own SHA-1: hashlib loads OpenSSL, for every command, for a name
        from _sha1 import sha1
    except ImportError:  # an interpreter built without it
        from hashlib import sha1


def wake_prefix(path: str) -> bytes:
    """The abstract socket name shared by the store at ``path``'s workers, before the
    worker id: NUL, then ``queuectl:`` and 20 hex digits of the file's real path."""
    digest = sha1(os.path.realpath(path).encode()).hexdigest()[:20]
    return b"\0queuectl:" + digest.encode() + b":"


def bind(prefix: bytes, worker_id: str) -> socket.socket:
    """A non-blocking datagram socket bound to ``worker_id``'s address. Raises OSError
    (the address is taken)."""
    import socket  # a command that wakes no worker (no pool, or a read) never needs it

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(prefix + worker_id.encode())
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def receive(sock: socket.socket) -> set[str]:
    """Every datagram pending on ``sock``, as text, without blocking."""
    events: set[str] = set()
    while True:
        try:
            events.add(sock.recv(256).decode(errors="replace"))
        except BlockingIOError:
            return events
        except OSError:  # closed meanwhile: nothing more to read
            return events


class DatagramWakeups(WakeSource):
    """A pool's ear on a SQLite store: the addresses of the workers it ``watch``es."""

    def __init__(self, path: str) -> None:
        self._prefix = wake_prefix(path)
        self._socks: dict[str, socket.socket] = {}

    def watch(self, worker_id: str) -> None:
        """Bound before the worker registers, so no wake-up sent to it is lost. An address
        already taken (never, with fresh ids) leaves the worker to its polls."""
        if worker_id not in self._socks:
            with suppress(OSError):
                self._socks[worker_id] = bind(self._prefix, worker_id)

    def forget(self, worker_id: str) -> None:
        sock = self._socks.pop(worker_id, None)
        if sock is not None:
            sock.close()

    def fds(self) -> list[int]:
        return [sock.fileno() for sock in self._socks.values()]

    def drain(self) -> set[str]:
        events: set[str] = set()
        for sock in self._socks.values():
            events |= receive(sock)
        return events

    def after_fork(self) -> None:
        """A forked worker lets go of the addresses (it never reads them): a copy held on
        in a child would keep a dead worker's address bound after the pool forgot it."""
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()

    def close(self) -> None:
        self.after_fork()
