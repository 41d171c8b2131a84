"""The dashboard in a real Chromium: live updates, DLQ retry, and hostile job text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests import chromium
from tests.dashboard_server import dashboard
from tests.helpers import Cli, wait_until

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import (  # noqa: E402
    Browser,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LIVE_TIMEOUT_MS = 15_000  # SSE polls every second; leave room for a loaded machine
# For expect() too: its own default of 5 s was outlasted by a page load (a click on a link to
# another attempt's output) on a loaded machine.
expect.set_options(timeout=LIVE_TIMEOUT_MS)
HOSTILE = '<script>window.pwned=1</script> <img src=x onerror="window.pwned=2">'


@pytest.fixture(scope="module", autouse=True)
def browser() -> Iterator[Browser]:
    """Chromium for the module's tests; set up before any test's store (autouse, module
    scope), so a missing one skips (or, in CI, fails) each test at once."""
    executable = chromium.path()
    if problem := chromium.missing(executable):
        chromium.unavailable(problem)
    with sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            first = (str(exc).strip().splitlines() or ["no reason given"])[0]
            chromium.unavailable(f"Playwright cannot launch Chromium at {executable}: {first}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(LIVE_TIMEOUT_MS)
    yield page
    context.close()


def test_overview_updates_by_itself(cli: Cli, page: Page) -> None:
    with dashboard(cli) as base:
        page.goto(base + "/")
        completed = page.locator('[data-state="completed"] .n')
        expect(completed).to_have_text("0")
        expect(page.locator("#live")).to_have_text("live")
        page.evaluate("window.sameDocument = true")
        job = cli.enqueue("echo done")
        cli.start_workers(1)
        cli.wait_state(job, "completed")
        expect(completed).to_have_text("1")
        assert page.evaluate("window.sameDocument") is True


def test_retry_a_dead_job_from_the_page(cli: Cli, page: Page) -> None:
    job = cli.enqueue("exit 3", "--max-retries", "0")
    cli.start_workers(1)
    cli.wait_state(job, "dead")
    cli.ok("worker", "stop")
    with dashboard(cli) as base:
        page.goto(base + "/dlq")
        row = page.locator("tr", has_text=job)
        row.get_by_role("button", name="Retry").click()
        wait_until(lambda: cli.job(job)["state"] == "pending", timeout=10, what="retry")
        expect(row).to_have_count(0)
        expect(page.get_by_text("The dead-letter queue is empty.")).to_be_visible()
    assert cli.job(job)["attempts"] == 0


def test_hostile_job_text_is_shown_not_run(cli: Cli, page: Page) -> None:
    job = cli.enqueue(f"echo '{HOSTILE}'", "--id", HOSTILE)
    cli.start_workers(1)
    cli.wait_state(job, "completed")
    with dashboard(cli) as base:
        for path in ("/", "/jobs", f"/jobs/{quote(job, safe='')}"):
            page.goto(base + path)
            expect(page.locator("#live")).to_have_text("live")
            assert page.evaluate("typeof window.pwned") == "undefined", path
        expect(page.locator("#job-id")).to_have_text(HOSTILE)
        expect(page.locator("#job-command")).to_have_text(f"echo '{HOSTILE}'")
        expect(page.locator("#job-output")).to_contain_text(HOSTILE)
        assert page.locator("main img").count() == 0
        assert page.evaluate("typeof window.pwned") == "undefined"


# --- the job page's output box -------------------------------------------------------------

# Prints a line every few hundredths of a second for longer than any test watches it.
PRINTER = 'i=0; while [ $i -lt 5000 ]; do i=$((i+1)); echo "line $i"; sleep 0.02; done'
BOX = "#job-output"
SCROLLED = """box => ({top: box.scrollTop, gap: box.scrollHeight - box.scrollTop - box.clientHeight,
                      size: box.textContent.length, room: box.scrollHeight - box.clientHeight})"""

HAS_ROOM = "document.querySelector(s).scrollHeight > document.querySelector(s).clientHeight + 600"
WHEEL_SETTLE_MS = 300  # a wheel turn may scroll smoothly, over a few frames
AT_BOTTOM = ("document.querySelector(s).scrollHeight - document.querySelector(s).scrollTop"
             " - document.querySelector(s).clientHeight <= 1")


def _box(page: Page) -> dict[str, float]:
    return page.eval_on_selector(BOX, SCROLLED)  # type: ignore[no-any-return]


def _next_update(page: Page, after: dict[str, float]) -> dict[str, float]:
    """Wait for a live update to bring more output; the box as it is right after it."""
    page.wait_for_function("([sel, size]) => document.querySelector(sel).textContent.length > size",
                           arg=[BOX, after["size"]])
    return _box(page)


@pytest.fixture
def printing(cli: Cli) -> Iterator[str]:
    """A running job that keeps printing lines; cancelled at the end (which kills it)."""
    job = cli.enqueue(PRINTER)
    cli.start_workers(1)
    cli.wait_state(job, "processing")
    yield job
    cli.run("cancel", job)


def test_followed_output_stays_at_the_bottom(cli: Cli, page: Page, printing: str) -> None:
    with dashboard(cli) as base:
        page.goto(f"{base}/jobs/{printing}")
        expect(page.get_by_text("following")).to_be_visible()
        box = _box(page)
        for _ in range(3):
            box = _next_update(page, box)
            assert box["gap"] <= 1, box  # the newest line is in view
        assert box["room"] > 0, box  # the box did scroll: there was more than it shows


def test_output_scrolled_up_stays_put_until_back_at_the_bottom(cli: Cli, page: Page,
                                                              printing: str) -> None:
    with dashboard(cli) as base:
        page.goto(f"{base}/jobs/{printing}")
        page.wait_for_function(f"(s) => {HAS_ROOM}", arg=BOX)
        page.hover(BOX)
        page.mouse.wheel(0, -300)
        page.wait_for_function(f"(s) => !({AT_BOTTOM})", arg=BOX)
        page.wait_for_timeout(WHEEL_SETTLE_MS)
        held = _box(page)
        assert held["gap"] > 100 and held["top"] > 0, held
        box = held
        for _ in range(2):
            box = _next_update(page, box)
            assert abs(box["top"] - held["top"]) <= 1, (held, box)
        page.mouse.wheel(0, 100_000)  # back to the bottom: following again
        page.wait_for_function(f"(s) => {AT_BOTTOM}", arg=BOX)
        box = _next_update(page, _box(page))
        assert box["gap"] <= 1, box


def test_an_earlier_attempts_output_is_one_click_away(cli: Cli, page: Page) -> None:
    cli.ok("config", "set", "backoff-base", "1")
    job = cli.enqueue("if [ -e tried ]; then echo 'second try'; "
                      "else touch tried; echo 'first try'; exit 1; fi", "--max-retries", "1")
    cli.start_workers(1)
    cli.wait_state(job, "completed")
    with dashboard(cli) as base:
        page.goto(f"{base}/jobs/{job}")
        expect(page.locator(BOX)).to_have_text("second try\n")
        attempts = page.locator("table", has=page.get_by_role("columnheader", name="Outcome"))
        attempts.locator("tr", has_text="failed").get_by_role("link").click()
        expect(page.locator(BOX)).to_have_text("first try\n")
        expect(page.get_by_role("heading", name="Output of attempt 1")).to_be_visible()
        json_link = page.get_by_role("link", name="whole output as JSON")
        assert json_link.get_attribute("href") == f"/api/jobs/{job}/logs?attempt=1"
        page.get_by_role("link", name="latest attempt").click()
        expect(page.locator(BOX)).to_have_text("second try\n")


# --- layout, charts, schedules ------------------------------------------------------------


def test_charts_have_labelled_axes_with_ticks(cli: Cli, page: Page) -> None:
    job = cli.enqueue("sleep 0.2")
    cli.start_workers(1)
    cli.wait_state(job, "completed")
    with dashboard(cli) as base:
        page.goto(base + "/")
        charts = page.locator(".chart")
        expect(charts).to_have_count(2)
        y_labels = ["attempts per min", "run time (s)"]
        for chart, y_label in zip(charts.all(), y_labels, strict=True):
            expect(chart.locator(".y-label")).to_have_text(y_label)
            expect(chart.locator(".x-label")).to_have_text(re.compile(r"^time \(.+\)$"))
            y_ticks, x_ticks = _ticks(chart, ".y-ticks text"), _ticks(chart, ".x-ticks text")
            assert len(y_ticks) >= 2 and len(x_ticks) >= 2
            assert y_ticks[0][0] == "0"
            assert x_ticks[-1][0] == "now"
            for text, height in (*y_ticks, *x_ticks):
                assert height >= 9, (text, height)  # readable, and rendered (0 when hidden)


def _ticks(chart: Locator, selector: str) -> list[tuple[str, float]]:
    """Each tick's text and rendered height, read in one step inside the page: the overview
    redraws its charts while it is open, so an element found in one call may be gone (and
    measure as nothing) by the next."""
    ticks: list[tuple[str, float]] = [
        (text, height) for text, height in chart.locator(selector).evaluate_all(
            "els => els.map(e => [e.textContent, e.getBoundingClientRect().height])")
    ]
    return ticks


NARROW: ViewportSize = {"width": 420, "height": 800}


def test_pages_fit_a_narrow_screen(cli: Cli, browser: Browser) -> None:
    long_command = "echo " + "x" * 300 + " && true a-rather-long-script-name.sh --many --flags"
    done = cli.enqueue(long_command, "--id", "a-job-with-a-long-name-" + "y" * 40)
    dead = cli.enqueue("exit 3", "--max-retries", "0")
    cli.start_workers(1)
    cli.wait_state(done, "completed")
    cli.wait_state(dead, "dead")
    cli.enqueue("sleep 30", "--priority", "5")
    cli.enqueue("true", "--delay", "5h")
    context = browser.new_context(viewport=NARROW)
    page = context.new_page()
    try:
        with dashboard(cli) as base:
            for path in ("/", "/jobs", f"/jobs/{quote(done, safe='')}", "/dlq"):
                page.goto(base + path)
                expect(page.locator("#live")).to_have_text("live")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= NARROW["width"], (path, width)
    finally:
        context.close()


def test_a_scheduled_job_says_when_it_will_run(cli: Cli, page: Page) -> None:
    job = cli.enqueue("true", "--delay", "5h")
    ready = cli.enqueue("true")
    run_at = cli.job(job)["run_at"]
    with dashboard(cli) as base:
        page.goto(base + "/jobs")
        when = page.locator("tr", has_text=job).locator(".when")
        expect(when).to_have_text("in 4h59m")
        assert when.get_attribute("title") == f"runs at {run_at}"
        expect(page.locator("tr", has_text=ready).locator(".when")).to_have_count(0)
        page.goto(f"{base}/jobs/{job}")
        expect(page.locator(".toolbar .when")).to_have_text("in 4h59m")


def test_a_retry_countdown_moves_on_by_itself(cli: Cli, page: Page) -> None:
    """Nothing in the store changes as a failed job's retry time passes: the page must
    still stop saying "in 5s" once the time has come."""
    cli.ok("config", "set", "backoff-base", "8")  # the first retry waits 8 s
    job = cli.enqueue("exit 1", "--max-retries", "1")
    cli.start_workers(1)
    cli.wait_state(job, "failed")
    cli.ok("worker", "stop")
    with dashboard(cli) as base:
        page.goto(base + "/jobs")
        when = page.locator("tr", has_text=job).locator(".when")
        expect(when).to_have_text(re.compile(r"^in \ds$"))
        expect(when).to_have_count(0, timeout=20_000)  # due now: waiting for a worker
    assert cli.job(job)["state"] == "failed"


def test_hold_release_and_rerun_from_a_jobs_page(cli: Cli, page: Page) -> None:
    job = cli.enqueue("true", "--delay", "1h")
    with dashboard(cli) as base:
        page.goto(f"{base}/jobs/{quote(job, safe='')}")
        expect(page.locator("#job-rerun")).to_have_count(0)
        page.locator("#job-hold").click()
        wait_until(lambda: cli.job(job)["held"], timeout=10, what="hold")
        page.locator("#job-release").click()  # the page shows it once it has refreshed
        wait_until(lambda: not cli.job(job)["held"], timeout=10, what="release")
        expect(page.locator("#job-hold")).to_be_visible()
        cli.ok("cancel", job)
        page.locator("#job-rerun").click()
        wait_until(lambda: any(j["rerun_of"] == job for j in cli.json("list")), timeout=10,
                   what="rerun")
    [rerun] = [j for j in cli.json("list") if j["rerun_of"] == job]
    assert (rerun["state"], rerun["held"]) == ("pending", False)


def test_search_and_act_on_every_job_a_filter_matches(cli: Cli, page: Page) -> None:
    dead = cli.enqueue("echo report; exit 3", "--tag", "nightly", "--max-retries", "0")
    cli.start_workers(1)
    cli.wait_state(dead, "dead")
    cli.ok("worker", "stop")
    waiting = [cli.enqueue(f"echo Report {n}", "--tag", "nightly", "--delay", "1h")
               for n in range(3)]
    untagged = cli.enqueue("echo report", "--delay", "1h")  # the text, not the tag
    unsaid = cli.enqueue("make build", "--tag", "nightly", "--delay", "1h")  # the reverse
    matching = [*waiting, dead]

    def held() -> list[str]:
        return [job for job in (*matching, untagged, unsaid) if cli.job(job)["held"]]

    def act(action: str, count: str, done: str) -> None:
        page.locator(f'[data-bulk="{action}"]').click()
        expect(page.locator("#bulk-count")).to_have_text(count)
        page.locator("#bulk-go").click()
        expect(page.locator("#bulk-done")).to_have_text(done)

    with dashboard(cli) as base:
        page.goto(base + "/jobs")
        page.locator("#job-search").fill("REPORT")
        page.locator("#job-tag").fill("nightly")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("#live-jobs tbody tr")
        expect(rows).to_have_count(4)
        for job in matching:
            expect(rows.filter(has_text=job)).to_have_count(1)
        page.locator('[data-bulk="hold"]').click()  # counted first, nothing changed yet
        expect(page.locator("#bulk-count")).to_have_text("3 jobs match: hold them?")
        assert held() == []
        page.locator("#bulk-go").click()
        expect(page.locator("#bulk-done")).to_have_text("3 jobs held")
        assert held() == waiting
        act("release", "3 jobs match: release them?", "3 jobs released")
        assert held() == []
        act("retry", "1 job match: retry them?", "1 job retried")
        assert cli.job(dead)["state"] == "pending"
        page.locator('[data-bulk="cancel"]').click()
        expect(page.locator("#bulk-count")).to_have_text("4 jobs match: cancel them?")
        page.locator("#bulk-dismiss").click()
        expect(page.locator("#bulk-confirm")).to_be_hidden()
        act("cancel", "4 jobs match: cancel them?", "4 jobs cancelled")
        expect(rows.filter(has_text="cancelled")).to_have_count(4)
        page.locator('[data-bulk="hold"]').click()
        expect(page.locator("#bulk-count")).to_have_text(
            "No job this filter matches can be held.")
        expect(page.locator("#bulk-go")).to_be_hidden()
    assert [cli.job(job)["state"] for job in matching] == ["cancelled"] * 4
    assert [cli.job(job)["state"] for job in (untagged, unsaid)] == ["pending", "pending"]
