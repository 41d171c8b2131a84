"""systemd's notify protocol (sd_notify(3)): what a `Type=notify` service tells its manager.

Each message is one datagram of newline-separated ``KEY=VALUE`` lines sent to the AF_UNIX
socket named by ``$NOTIFY_SOCKET`` (a path, or an abstract name written with a leading
``@``). The protocol is this small, so it is written here: the pure-Python ``sdnotify``
package has had no release since 2017 and knows nothing of the watchdog, and
``systemd-python`` must be compiled against libsystemd's headers.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import MutableMapping

ENV_SOCKET = "NOTIFY_SOCKET"
ENV_WATCHDOG_USEC = "WATCHDOG_USEC"  # microseconds within which a WATCHDOG=1 must come
ENV_WATCHDOG_PID = "WATCHDOG_PID"  # the process the watchdog is for (default: the main one)

log = logging.getLogger("queuectl.notify")


def address(value: str) -> str | None:
    """The socket address of a ``$NOTIFY_SOCKET`` value: an absolute path, or an abstract
    name (``@name``, NUL-prefixed on the wire); None for what this side cannot reach
    (systemd also knows vsock addresses)."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


class Notifier:
    """Sends notify messages to one socket; a message that cannot be sent is logged once
    and otherwise ignored: the service manager's troubles must not stop the pool."""

    def __init__(self, addr: str, watchdog_usec: int | None = None) -> None:
        self.addr = addr
        # Seconds between two WATCHDOG=1, half the manager's limit as sd_watchdog_enabled(3)
        # advises; None: no watchdog asked for.
        self.watchdog_interval = watchdog_usec / 2e6 if watchdog_usec else None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._failed = False

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier | None:
        """The notifier ``environ`` (default: os.environ) asks for, or None. The variables
        are removed from it either way (sd_notify's ``unset_environment``): the workers and
        their jobs inherit the environment, and a job must not speak for the service."""
        env = os.environ if environ is None else environ
        value = env.pop(ENV_SOCKET, "")
        usec = env.pop(ENV_WATCHDOG_USEC, "")
        pid = env.pop(ENV_WATCHDOG_PID, "")
        if not value:
            return None
        addr = address(value)
        if addr is None:
            log.warning("cannot send to %s=%s: not a path or an @abstract name",
                        ENV_SOCKET, value, extra={"event": "notify_unsupported"})
            return None
        watchdog = int(usec) if usec.isdigit() and int(usec) > 0 else None
        if pid and pid != str(os.getpid()):
            watchdog = None  # the watchdog is another process's to feed
        return cls(addr, watchdog)

    def send(self, *lines: str) -> bool:
        """Send ``lines`` (``READY=1``, ``STATUS=...``) as one message; whether it went."""
        try:
            self._sock.sendto("\n".join(lines).encode(), self.addr)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify the service manager: %s", exc,
                            extra={"event": "notify_failed"})
                self._failed = True
            return False
        return True

    def close(self) -> None:
        self._sock.close()


class PoolReport:
    """What a pool of ``count`` workers tells the service manager, from what its
    supervisor sees: ``READY=1`` once every worker has registered, ``STATUS=`` whenever the
    counts of workers up, busy and idle change, ``STOPPING=1`` once a stop has begun, and
    ``WATCHDOG=1`` every half watchdog interval while the supervisor's loop turns."""

    def __init__(self, notifier: Notifier, count: int) -> None:
        self.notifier = notifier
        self.count = count
        self.ready = False
        self.stopping = False
        self.status = ""
        self._watchdog_at: float | None = None  # monotonic: next WATCHDOG=1 due

    def watchdog_due(self) -> float | None:
        """When (monotonic seconds) the supervisor must call ``update`` again at the latest."""
        return self._watchdog_at

    def update(self, up: int, busy: int, stopping: bool, now: float) -> None:
        """``up``: workers registered and listening; ``busy``: running a job; ``now``:
        time.monotonic()."""
        lines = []
        if stopping and not self.stopping:
            self.stopping = True
            lines.append("STOPPING=1")
        elif up >= self.count and not self.ready and not self.stopping:
            self.ready = True
            lines.append("READY=1")
        status = self.describe(up, min(busy, up), stopping)
        if status != self.status:
            self.status = status
            lines.append(f"STATUS={status}")
        interval = self.notifier.watchdog_interval
        if interval is not None and (self._watchdog_at is None or now >= self._watchdog_at):
            self._watchdog_at = now + interval
            lines.append("WATCHDOG=1")
        if lines:
            self.notifier.send(*lines)

    def describe(self, up: int, busy: int, stopping: bool) -> str:
        """The STATUS line: "4 workers: 1 busy, 3 idle", "3 of 4 workers up: ...",
        "stopping: 1 job still running"."""
        if stopping:
            return f"stopping: {busy} job(s) still running" if busy else "stopping"
        counts = f"{busy} busy, {up - busy} idle"
        if up >= self.count:
            return f"{self.count} worker(s): {counts}"
        return f"{up} of {self.count} worker(s) up: {counts}"
