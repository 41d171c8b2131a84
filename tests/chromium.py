"""Where the browser tests find Chromium, and what happens when they cannot.

Playwright drives Debian's Chromium (``playwright install`` cannot download here). When it
is missing, or Playwright cannot launch it, the browser tests are skipped with the reason
on a developer's machine, and fail when CI is set (they must run there), as the
PostgreSQL tests do (tests/pg.py). QUEUECTL_TEST_CHROMIUM points them at another
executable: the tests of this rule name a missing one.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

PATH_ENV = "QUEUECTL_TEST_CHROMIUM"
DEFAULT_PATH = "/usr/bin/chromium"


def path() -> str:
    return os.environ.get(PATH_ENV) or DEFAULT_PATH


def missing(executable: str) -> str | None:
    """Why ``executable`` cannot be Chromium for the tests, or None when it may be."""
    if not os.path.isfile(executable):
        return f"Chromium not found at {executable} (apt-get install chromium)"
    if not os.access(executable, os.X_OK):
        return f"Chromium at {executable} is not executable"
    return None


def unavailable(reason: str) -> NoReturn:
    """Skip the browser tests for ``reason``; fail them instead when CI is set."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the browser tests must run)", pytrace=False)
    pytest.skip(reason)
