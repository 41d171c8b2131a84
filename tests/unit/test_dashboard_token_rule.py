"""A dashboard listening beyond loopback needs a token: a blank one is no token."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuectl.cli.entry import main


@pytest.mark.parametrize("token", ["", " ", "\n", " \t "])
def test_a_blank_token_is_no_token(
    token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QUEUECTL_HOME", str(tmp_path))
    monkeypatch.setenv("QUEUECTL_DASHBOARD_TOKEN", token)
    assert main(["dashboard", "--host", "0.0.0.0", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err == ("queuectl: error: refusing to listen on 0.0.0.0 without a token: set "
                   "QUEUECTL_DASHBOARD_TOKEN (or pass --token)\n")
