"""A Ctrl-C to the pool's process group while a job is being spawned: the job's child is in
that group until its setsid, so the signal reaches it too, before its exec. It must not be
recorded as the job's own death (a retry spent, or the DLQ): it is handed back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# A worker's runner spawning `true` again and again, counting the SIGINTs it hears as the
# worker's handler does, until five attempts ended by a signal or handed back.
DRIVER = """
import collections, json, signal, sys
from queuectl.pool.runner import Action, Hooks, RunSpec, run
heard = 0
def on_signal(signum, frame):
    global heard
    heard += 1
signal.signal(signal.SIGINT, on_signal)
print("ready", flush=True)
spec = RunSpec("true", "/", {"PATH": "/usr/bin:/bin"}, None, 1 << 16)
hooks = Hooks(fds=(), check=lambda: Action.CONTINUE, save_output=lambda data, dropped: None)
counts = collections.Counter()
for _ in range(int(sys.argv[1])):
    counts[run(spec, hooks).outcome.value] += 1
    if counts["interrupted"] + counts["killed"] >= 5:
        break
print(json.dumps({"counts": counts, "heard": heard}), flush=True)
"""


def test_a_stop_signal_during_the_spawn_hands_the_job_back(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), "5000"], stdout=subprocess.PIPE,
                            start_new_session=True)  # its own group, as a pool in a terminal
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"

    def ctrl_c_again_and_again() -> None:
        while proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                return
            time.sleep(0.0005)  # a pace, not a wait: it hits a spawn within a few jobs

    hammer = threading.Thread(target=ctrl_c_again_and_again)
    hammer.start()
    try:
        found = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        hammer.join()
        proc.wait()
    counts = found["counts"]
    assert found["heard"] > 0
    assert "killed" not in counts, counts  # before: "killed by signal SIGINT" each time
    assert counts.get("interrupted", 0) >= 1, counts  # the race was met and told apart
