"""The browser tests without Chromium: skipped with the reason on a developer's machine,
failed when CI is set (tests/chromium.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import chromium

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TESTS = "tests/browser/test_dashboard_browser.py"


def test_a_missing_or_unusable_executable_is_named(tmp_path: Path) -> None:
    absent = tmp_path / "chromium"
    assert chromium.missing(str(absent)) == (
        f"Chromium not found at {absent} (apt-get install chromium)")
    absent.write_text("")
    assert chromium.missing(str(absent)) == f"Chromium at {absent} is not executable"
    absent.chmod(0o755)
    assert chromium.missing(str(absent)) is None


def test_the_path_is_overridable_for_these_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(chromium.PATH_ENV, raising=False)
    assert chromium.path() == "/usr/bin/chromium"
    monkeypatch.setenv(chromium.PATH_ENV, "/elsewhere/chromium")
    assert chromium.path() == "/elsewhere/chromium"


def test_unavailable_skips_outside_ci_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="^no chromium$"):
        chromium.unavailable("no chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set: the browser tests must run"):
        chromium.unavailable("no chromium")


def run_browser_tests(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    """The browser tests, as the README runs them, with Chromium's path at a missing file."""
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    env[chromium.PATH_ENV] = str(tmp_path / "no-chromium")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", BROWSER_TESTS, "-n", "0", "-q", "-rsE",
         "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_browser_tests_skip_with_the_reason_without_chromium(tmp_path: Path) -> None:
    run = run_browser_tests(tmp_path, ci=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Chromium not found at" in run.stdout, run.stdout
    assert " skipped" in run.stdout and "error" not in run.stdout.lower(), run.stdout


def test_the_browser_tests_fail_in_ci_without_chromium(tmp_path: Path) -> None:
    run = run_browser_tests(tmp_path, ci=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "CI is set: the browser tests must run" in run.stdout, run.stdout
    assert " skipped" not in run.stdout, run.stdout
