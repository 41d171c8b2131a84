"""What every peer task does: run the shell command, output captured, and record times."""

from __future__ import annotations

import os
import subprocess
import time


def run_and_record(command: str, enqueued_at: float) -> None:
    started = time.time()
    subprocess.run(command, shell=True, capture_output=True)  # /bin/sh -c, output kept
    finished = time.time()
    line = f"{enqueued_at!r} {started!r} {finished!r}\n".encode()
    fd = os.open(os.environ["PEER_RESULTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one O_APPEND write per job: safe across processes
    finally:
        os.close(fd)
