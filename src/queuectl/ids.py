"""Job and worker ids: short, URL-safe, and never mistaken for a command-line flag."""

from __future__ import annotations

import os

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, digit = divmod(n, 36)
        out.append(_ALPHABET[digit])
    return "".join(out)


def new_job_id() -> str:
    """10 base-36 characters: about 51 random bits (os.urandom; `secrets` costs an import)."""
    return _base36(int.from_bytes(os.urandom(8), "big"), 10)


def new_worker_id() -> str:
    return "w-" + _base36(int.from_bytes(os.urandom(5), "big"), 6)
