"""A throwaway PostgreSQL server of the test's own (initdb + pg_ctl), for what would disturb
the shared one: filling its ``max_connections`` refuses everyone else's connections too."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
            "/usr/lib/postgresql/17/bin")
START_WAIT = 60  # seconds pg_ctl waits for the server to accept connections


def bin_dir() -> str:
    """The folder of initdb and pg_ctl; skips the test when there is none."""
    for folder in BIN_DIRS:
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    pytest.skip("initdb is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as ``postgres`` then."""
    if os.geteuid() != 0:
        return argv
    if not shutil.which("runuser"):
        pytest.skip("running as root without runuser: cannot start a server of our own")
    return ["runuser", "-u", "postgres", "--", *argv]


@contextmanager
def cluster(max_connections: int) -> Iterator[str]:
    """A server on a free loopback port (trust auth, user postgres, fsync off: nothing
    here must survive a crash); yields the URL of its ``postgres`` database. Stopped
    (immediately) and removed afterwards. Its files are in a folder of their own (a test's
    tmp_path may be closed to the server's user)."""
    binaries = bin_dir()
    where = Path(tempfile.mkdtemp(prefix="queuectl-pg-"))
    data = where / "data"
    if os.geteuid() == 0:
        shutil.chown(where, "postgres")
    subprocess.run(_as_server_user([f"{binaries}/initdb", "-D", str(data), "-A", "trust",
                                    "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    options = (f"-p {port} -k {where} -c listen_addresses=127.0.0.1 -c fsync=off "
               f"-c max_connections={max_connections}")
    subprocess.run(_as_server_user([f"{binaries}/pg_ctl", "-D", str(data), "-o", options,
                                    "-l", str(where / "server.log"), "-w", "-t",
                                    str(START_WAIT), "start"]),
                   check=True, capture_output=True, timeout=START_WAIT + 30)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([f"{binaries}/pg_ctl", "-D", str(data), "-m",
                                        "immediate", "stop"]),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(where, ignore_errors=True)
