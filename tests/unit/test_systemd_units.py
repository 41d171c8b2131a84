"""The unit files in contrib/systemd: what a service needs of them, and what systemd says of them
(`systemd-analyze verify`, where the machine has it; it needs no running systemd)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
UNITS = {"system": ROOT / "queuectl-worker.service",
         "user": ROOT / "user" / "queuectl-worker.service"}


def _service(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(path)
    return parser["Service"]


@pytest.mark.parametrize("kind", UNITS)
def test_units_are_notify_services_that_stop_gracefully(kind: str) -> None:
    service = _service(UNITS[kind])
    assert service["Type"] == "notify"
    assert service["KillMode"] == "mixed"  # SIGTERM to the supervisor only: jobs finish
    assert service["Restart"] == "on-failure"
    assert "worker start" in service["ExecStart"] and "--detach" not in service["ExecStart"]
    assert service.get("NotifyAccess", "main") == "main"


def test_the_system_unit_runs_as_its_own_user_with_hardening() -> None:
    service = _service(UNITS["system"])
    assert service["User"] == "queuectl" and service["StateDirectory"] == "queuectl"
    for option in ("NoNewPrivileges", "PrivateTmp"):
        assert service[option] == "yes"
    assert service["ProtectSystem"] == "full"
    assert "/var/lib/queuectl" in service["ReadWritePaths"]
    assert "PrivateNetwork" not in service  # the wake-up sockets live in the net namespace


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("kind", UNITS)
def test_systemd_analyze_verify(kind: str, tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at the installed command.
    queuectl = shutil.which("queuectl")
    assert queuectl is not None
    text = UNITS[kind].read_text()
    text = text.replace("/opt/queuectl/bin/queuectl", queuectl)
    text = text.replace("%h/.local/bin/queuectl", queuectl)
    unit = tmp_path / "queuectl-worker.service"
    unit.write_text(text)
    # A short runtime folder of its own: the user manager's socket units put paths under it
    # that must fit a socket address (108 bytes), which a test's tmp_path may not leave room
    # for.
    runtime = tempfile.mkdtemp(prefix="run-")
    args = ["systemd-analyze", *(["--user"] if kind == "user" else []), "verify", str(unit)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "XDG_RUNTIME_DIR": runtime})
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
