"""A worker's snapshot of the stored config: read at most once per CONFIG_TTL, and taken
from the heartbeats and check-ins that bring it anyway (CheckIn.config)."""

from __future__ import annotations

import time
from collections.abc import Callable

from queuectl.errors import StoreUnavailable
from queuectl.settings import Config

# Seconds a snapshot is trusted before it is read on its own. Every heartbeat and check-in
# brings the stored config, and `config set` tells every worker (a "config" wake-up): longer
# than a heartbeat interval (worker.MAX_HEARTBEAT), so that neither an idle worker nor a
# busy one ever needs a read of its own.
CONFIG_TTL = 10.0


class ConfigSnapshot:
    """``read`` reads the stored config (canonical key -> text); may raise StoreUnavailable."""

    def __init__(self, read: Callable[[], dict[str, str]]) -> None:
        self._read = read
        self._config: Config | None = None
        self._items: dict[str, str] | None = None  # what _config was made from
        self._read_at = 0.0  # monotonic

    @property
    def known(self) -> bool:
        """Whether any config was read yet."""
        return self._config is not None

    def get(self) -> Config:
        """The stored config, read at most once per CONFIG_TTL; through an outage, the last
        snapshot read (a job must not fail because the store cannot say its timeout).
        Raises StoreUnavailable only when none was ever read."""
        now = time.monotonic()
        if self._config is None or now - self._read_at > CONFIG_TTL:
            try:
                self.take(self._read())
            except StoreUnavailable:
                if self._config is None:
                    raise
            self._read_at = now
        assert self._config is not None
        return self._config

    def take(self, items: dict[str, str]) -> None:
        """The stored config, as just read: the snapshot from here on."""
        if items != self._items or self._config is None:
            self._config, self._items = Config.from_stored(items), items
        self._read_at = time.monotonic()

    def forget(self) -> None:
        """The config changed (a "config" wake-up): read again at the next use."""
        self._read_at = -float("inf")
