"""A git revision's ``src``, exported into a temporary directory (``git archive``), to be
put first on PYTHONPATH so that the installed console script runs that revision's code."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextmanager
def exported(rev: str | None) -> Iterator[str | None]:
    """REV's ``src`` directory (None for None); removed afterwards.

    Raises subprocess.CalledProcessError when git does not know REV."""
    if rev is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="queuectl-against-") as tmp:
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield os.path.join(tmp, "src")


def commit_of(rev: str) -> str:
    """The short commit id REV names."""
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", rev], check=True,
                          capture_output=True, text=True).stdout.strip()


def imported_from(env: dict[str, str]) -> str:
    """Where ``import queuectl`` finds the package with this environment (a file path)."""
    return subprocess.run([sys.executable, "-c", "import queuectl; print(queuectl.__file__)"],
                          env=env, check=True, capture_output=True, text=True).stdout.strip()
