"""Building the documentation site, serving it locally and reading its pages, for the tests.

`build` runs Sphinx as `make docs` does (`-W --keep-going`: a warning fails the build);
`serve` serves the built folder over HTTP on a free local port; `crawl` follows every
internal link from the home page and returns each page's status, links and anchors.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import pathlib
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def build(out: pathlib.Path) -> subprocess.CompletedProcess:
    """`sphinx-build -W --keep-going -b html docs OUT` (doctrees beside it, not inside)."""
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
               "-d", str(out.parent / "doctrees"), str(DOCS), str(out)]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@contextlib.contextmanager
def serve(directory: pathlib.Path):
    """Serves `directory` on 127.0.0.1 on a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag in ("a", "span", "div", "section", "dt", "p") else ("id",):
            if attrs.get(key):
                self.anchors.add(attrs[key])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


@dataclass
class Page:
    url: str
    status: int
    links: list[str] = field(default_factory=list)  # absolute URLs, fragments kept
    anchors: set[str] = field(default_factory=set)


def fetch(url: str) -> Page:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            status, body = response.status, response.read()
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as err:
        return Page(url, err.code)
    page = Page(url, status)
    if kind == "text/html":
        parser = _PageParser()
        parser.feed(body.decode("utf-8"))
        page.links = [urllib.parse.urljoin(url, href) for href in parser.links]
        page.anchors = parser.anchors
    return page


def crawl(base: str) -> dict[str, Page]:
    """Every page reachable from the home page by internal links: {URL without fragment:
    Page}. External links (another host or scheme) are not followed."""
    pages: dict[str, Page] = {}
    queue = [urllib.parse.urljoin(base, "index.html")]
    while queue:
        url = queue.pop()
        if url in pages:
            continue
        pages[url] = page = fetch(url)
        for link in page.links:
            target = urllib.parse.urldefrag(link).url
            if is_internal(base, target) and target not in pages:
                queue.append(target)
    return pages


def is_internal(base: str, url: str) -> bool:
    return url.startswith(base)
