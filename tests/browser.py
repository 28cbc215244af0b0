"""A real headless browser for the dashboard's tests: Debian's chromium, driven by Playwright.

Playwright's own browser downloads are never used (``playwright install`` needs the internet):
the tests drive ``/usr/bin/chromium`` from the distribution, which .ci/run installs. Without it
the browser tests skip with a message saying so, unless ``ANOMD_TEST_REQUIRE_BROWSER=1`` (set by
.ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("ANOMD_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("ANOMD_TEST_REQUIRE_BROWSER") == "1"
#: No GPU, no network of its own (updates, sync, QUIC), no first-run screens, no sandbox (root).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def screenshot_dir() -> Path:
    """Where the tests leave their screenshots (kept after the run, for people to look at)."""
    folder = Path(os.environ.get("ANOMD_SCREENSHOTS") or Path(tempfile.gettempdir()) / "anomd-ui-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def launch() -> Iterator[Any]:
    """The browser, or a skip (a failure under ANOMD_TEST_REQUIRE_BROWSER=1) if there is none."""
    if not Path(CHROMIUM).is_file():
        message = (f"no chromium at {CHROMIUM}: the dashboard's browser tests need Debian's "
                   "chromium (apt-get install -y chromium; .ci/run installs it)")
        if REQUIRE_BROWSER:
            pytest.fail(message + " and ANOMD_TEST_REQUIRE_BROWSER=1 says they must run")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page with what its console and network did, for assertions at the end of a test."""

    page: Any
    origin: str
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def console_errors(self, expected: tuple[str, ...] = ()) -> list[str]:
        """Console errors except those containing one of ``expected`` (e.g. a refused 403)."""
        return [e for e in self.errors if not any(x in e for x in expected)]


def watched_page(context: Any, origin: str) -> Watched:
    """A new page that records console errors and blocks (and records) any request off-origin.

    Everything the dashboard needs is served by anomd, so a request elsewhere is a bug; it is
    aborted rather than sent, so a test on a machine with internet access sees the same.
    """
    page = context.new_page()
    watched = Watched(page, origin)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.errors.append(f"uncaught: {e}"))

    def guard(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == origin:
            route.continue_()
        else:
            watched.external.append(url)
            route.abort()

    page.route("**/*", guard)
    return watched
