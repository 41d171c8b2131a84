"""`worker start --log-format json`: each record one JSON object, through logging itself."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

from queuectl.pool.log import JsonFormatter, set_worker


def _record(msg: str, *args: object, level: int = logging.INFO, **extra: object
            ) -> dict[str, Any]:
    record = logging.LogRecord("queuectl.worker", level, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return json.loads(JsonFormatter().format(record))  # type: ignore[no-any-return]


def test_a_record_and_its_extra_fields() -> None:
    set_worker("w-abc")
    try:
        doc = _record("job %s %s after %.3fs", "j1", "dead", 1.5, event="job_finished",
                      job="j1", state="dead", took_s=1.5, error="exit code 3")
    finally:
        set_worker(None)
    assert doc["message"] == "job j1 dead after 1.500s"
    assert (doc["level"], doc["worker"], doc["event"], doc["job"], doc["state"]) == (
        "info", "w-abc", "job_finished", "j1", "dead")
    assert (doc["took_s"], doc["error"]) == (1.5, "exit code 3")
    assert doc["ts"].endswith("Z") and len(doc["ts"]) == len("2026-11-22T14:03:07.123Z")
    assert isinstance(doc["pid"], int)
    assert "args" not in doc and "msg" not in doc and "levelno" not in doc  # logging's own


def test_defaults_odd_values_and_exceptions() -> None:
    plain = _record("checkpoint failed", level=logging.WARNING)
    assert (plain["event"], plain["worker"], plain["level"]) == ("log", None, "warning")
    odd = _record("x", event="e", path=b"\xff", queues=["a"], when=object)
    assert odd["queues"] == ["a"] and isinstance(odd["path"], str) and "object" in odd["when"]
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    doc = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in doc["exception"] and "\n" not in JsonFormatter().format(record)


SCRIPT = """
import logging
from queuectl.pool.log import configure_logging, job_lines
configure_logging("json")
log = logging.getLogger("queuectl.worker")
assert job_lines(log) is None  # the fast text line steps aside: every line is a record
log.info("worker %s started", "w1", extra={"event": "worker_started"})
logging.getLogger("queuectl.supervisor").warning("stopping")
"""


def test_configure_logging_json_writes_one_object_per_line() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True)
    docs = [json.loads(line) for line in proc.stderr.splitlines()]
    assert [(d["event"], d["message"]) for d in docs] == [
        ("worker_started", "worker w1 started"), ("log", "stopping")]
