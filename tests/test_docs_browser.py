"""The built documentation site, driven in a real browser (Debian's Chromium, headless).

The site is built once per session (the `built_docs` fixture) and served over HTTP on a
local port. The checks: switching the paradigm tabs on an example page shows the other
paradigm's code and output in every tab set; every image on every page loads; the search
finds the `retain_graph` pages; every internal link resolves, anchors included; and no page
logs a console error or fails to load a resource (the pages on when not to retain, on
what a retained graph costs and on the architecture among them). Screenshots of the home
page and of the retain_graph example page (with the funcgrad.tape tab chosen) are written
to `out/docs-screenshots/` for a person to look at.

Chromium comes from the system (`apt-get install chromium`; `.ci/run` installs it), never
from Playwright's download.
"""

from __future__ import annotations

import os
import urllib.parse

import pytest
from docs_site import ROOT, crawl, is_internal

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = ROOT / "out" / "docs-screenshots"
EXAMPLE = "examples/retain_graph.html"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), (
        f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install -y chromium`); "
        "the browser tests never download one"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(docs_url):
    """Every page reachable from the home page (crawled over HTTP)."""
    return crawl(docs_url)


class Visit:
    """A browser page that records console errors, page errors and failed requests."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        self.page.on("response", self._response)

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def open(self, url: str):
        self.page.goto(url, wait_until="networkidle")
        return self.page


@pytest.fixture(scope="module")
def page_reports(browser, site, docs_url):
    """Opens every HTML page of the site: {url: (problems, [(image src, naturalWidth)])}."""
    reports = {}
    for url in site:
        if not url.endswith(".html"):
            continue
        visit = Visit(browser)
        tab = visit.open(url)
        # scroll through the page so that lazily loaded images load too
        tab.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        tab.wait_for_load_state("networkidle")
        images = tab.evaluate(
            """async () => {
                const images = Array.from(document.images);
                await Promise.all(images.map(i => i.decode().catch(() => null)));
                return images.map(i => [i.currentSrc || i.src, i.naturalWidth]);
            }"""
        )
        reports[url] = (visit.problems, images)
        visit.page.close()
    return reports


def choose(page, tab_set: int, paradigm: str) -> None:
    """Clicks the paradigm's tab label in the page's n-th tab set."""
    labels = page.locator(".sd-tab-set").nth(tab_set).locator("label.sd-tab-label")
    labels.filter(has_text=paradigm).first.click()


def test_switching_tabs_shows_the_other_paradigm_in_every_tab_set(browser, docs_url):
    visit = Visit(browser)
    page = visit.open(docs_url + EXAMPLE)
    tab_sets = page.locator(".sd-tab-set")
    assert tab_sets.count() >= 2  # the code, and what it printed

    def visible_text(tab_set):
        return "\n".join(t.inner_text() for t in tab_set.locator(".sd-tab-content").all()
                         if t.is_visible())  # fmt: skip

    first = visible_text(tab_sets.nth(0))
    assert "import torch\n" in first and "funcgrad.tape" not in first

    choose(page, 0, "funcgrad.tape")
    code, printed = visible_text(tab_sets.nth(0)), visible_text(tab_sets.nth(1))
    assert "import funcgrad.tape as torch" in code
    assert "retain_graph / funcgrad.tape" in printed  # the other tab set followed
    assert "retain_graph / PyTorch" not in printed
    # the code shown is the example file, line for line
    shown = tab_sets.nth(0).locator(".sd-tab-content pre").filter(has_text="funcgrad.tape")
    source = (ROOT / "examples" / "retain_graph" / "tape.py").read_text()
    assert shown.first.inner_text().strip() == source.strip()

    # the choice holds on the other pages of the site too
    other = visit.open(docs_url + "examples/multitask.html")
    tab_set = other.locator(".sd-tab-set").nth(0)
    assert "import funcgrad.tape as torch" in visible_text(tab_set)

    page = visit.open(docs_url + EXAMPLE)
    choose(page, 1, "functional JAX")
    for i in range(page.locator(".sd-tab-set").count()):
        assert "functional" in visible_text(page.locator(".sd-tab-set").nth(i)).lower()
    assert "retain_graph / functional JAX" in visible_text(page.locator(".sd-tab-set").nth(1))
    assert not visit.problems, visit.problems
    visit.page.close()


def test_every_image_on_every_page_loads(page_reports):
    broken = [f"{url}: {src}" for url, (_, images) in page_reports.items()
              for src, width in images if not width]  # fmt: skip
    with_images = {url.rsplit("/", 2)[-1] for url, (_, images) in page_reports.items() if images}
    # the graph on the home page, a figure on every example page, the plots of the pages on
    # what a retained graph costs and when not to retain one
    assert {"index.html", "retain_graph.html", "style_transfer.html", "multitask.html",
            "grad_accumulation.html", "higher_order.html", "costs.html",
            "when_not_to_retain.html"} <= with_images, with_images  # fmt: skip
    assert not broken, "images that did not load:\n" + "\n".join(broken)


def test_no_page_logs_a_console_error_or_fails_a_request(page_reports):
    assert len(page_reports) >= 15
    opened = {url.rsplit("/", 1)[-1] for url in page_reports}
    assert {"when_not_to_retain.html", "costs.html", "architecture.html"} <= opened, opened
    problems = [f"{url}: {p}" for url, (found, _) in page_reports.items() for p in found]
    assert not problems, "\n".join(problems)


def test_search_finds_the_retain_graph_pages(browser, docs_url):
    visit = Visit(browser)
    page = visit.open(docs_url + "search.html?q=retain_graph")
    page.wait_for_selector("#search-results li", timeout=30_000)
    found = [urllib.parse.urlsplit(a.get_attribute("href")).path.rsplit("/", 1)[-1]
             for a in page.locator("#search-results li a").all()]  # fmt: skip
    assert "retain_graph.html" in found
    assert "index.html" in found and "paradigms.html" in found
    assert "when_not_to_retain.html" in found and "costs.html" in found
    assert not visit.problems, visit.problems
    visit.page.close()


def test_every_internal_link_resolves_with_its_anchor(site, docs_url):
    assert len(site) >= 15
    bad = [f"{url}: HTTP {page.status}" for url, page in site.items() if page.status != 200]
    for url, page in site.items():
        for link in page.links:
            target, fragment = urllib.parse.urldefrag(link)
            if not is_internal(docs_url, target) or not fragment:
                continue
            anchors = site[target].anchors
            if urllib.parse.unquote(fragment) not in anchors:
                bad.append(f"{url} links to {link}: no such anchor")
    assert not bad, "\n".join(bad)


def test_screenshots_of_the_home_page_and_an_example_page(browser, docs_url):
    """Writes out/docs-screenshots/home.png and example-retain_graph.png (tape tab chosen)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visit = Visit(browser)
    visit.open(docs_url + "index.html").screenshot(path=SCREENSHOTS / "home.png", full_page=True)
    page = visit.open(docs_url + EXAMPLE)
    choose(page, 0, "funcgrad.tape")
    # reloaded, the page lays out afresh (a screenshot right after the click can catch the
    # sidebar mid-transition) and keeps the chosen tab
    page.reload(wait_until="networkidle")
    assert page.locator("label.sd-tab-label").filter(has_text="funcgrad.tape").first.is_visible()
    assert page.get_by_text("retain_graph / funcgrad.tape").first.is_visible()
    page.screenshot(path=SCREENSHOTS / "example-retain_graph.png", full_page=True)
    for name in ("home.png", "example-retain_graph.png"):
        assert (SCREENSHOTS / name).stat().st_size > 20_000, name
    assert not visit.problems, visit.problems
    visit.page.close()
