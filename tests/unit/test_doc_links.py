"""Every relative link in the README and docs/ leads somewhere: the file exists and, when the
link names an anchor, the target has a heading that GitHub gives that anchor. Pages moved or
headings renamed fail here, not in a reader's browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)")


def prose(page: Path) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped but for
    hyphens and underscores, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a page's headings give (a repeated heading gets -1, -2...)."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(page):
        match = re.match(r"^#{1,6} (.+)$", line)
        if not match:
            continue
        name = anchor(match.group(1))
        count = seen.get(name, 0)
        seen[name] = count + 1
        found.add(name if count == 0 else f"{name}-{count}")
    return found


def links(page: Path) -> list[str]:
    """The relative links of a page (not http(s) or mailto)."""
    return [target for line in prose(page) for target in LINK.findall(line)
            if not re.match(r"^[a-z]+:", target)]


def test_the_pages_are_found() -> None:
    assert ROOT / "docs" / "architecture.md" in PAGES
    assert anchor("Workflows: jobs that wait for jobs, and `queuectl run`") == (
        "workflows-jobs-that-wait-for-jobs-and-queuectl-run")
    assert anchor("Running as a service (systemd)") == "running-as-a-service-systemd"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, broken
