"""Open a local HTML file in a real headless Chromium (driven by Playwright) and report what it saw.

The browser is Debian's `chromium` where installed (`make browser` installs it), else the one
`playwright install chromium` downloads. Where neither exists the test is skipped, unless
BILLING_LAKEHOUSE_REQUIRE_BROWSER=1 (set by CI) turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Chromium on a machine with no network: no background fetches, no first-run work, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# For each inline SVG: its drawn size and how many shapes it holds.
SVG_BOXES = """[...document.querySelectorAll('svg')].map(svg => {
  const box = svg.getBoundingClientRect();
  return [box.width, box.height, svg.querySelectorAll('rect, path, line, circle, text').length];
})"""


@dataclass
class Rendered:
    """What the browser did with the page."""

    problems: list[str] = field(default_factory=list)  # console errors and warnings, uncaught errors, failed loads
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, itself included
    compat_mode: str = ""
    svg_boxes: list[tuple[float, float, int]] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # selector -> the text the browser shows
    screenshot: bytes = b""


def _executable() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def render(page_file: Path, selectors: tuple[str, ...] = ()) -> Rendered:
    """Load `page_file` from disk in headless Chromium; skip (or fail under CI) when there is no browser."""
    sync_api = pytest.importorskip("playwright.sync_api")
    seen = Rendered()
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=_executable(), args=CHROMIUM_ARGS)
        except sync_api.Error as error:
            reason = f"no headless Chromium to render the report (run `make browser`): {str(error)[:200]}"
            if os.environ.get("BILLING_LAKEHOUSE_REQUIRE_BROWSER") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        try:
            page = browser.new_page()
            page.on("console", lambda m: _console(seen, m))
            page.on("pageerror", lambda error: seen.problems.append(f"uncaught: {error}"))
            page.on("requestfailed", lambda r: seen.problems.append(f"failed to load {r.url}: {r.failure}"))
            page.on("request", lambda r: seen.requests.append(r.url))
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            seen.compat_mode = page.evaluate("document.compatMode")
            seen.svg_boxes = [tuple(box) for box in page.evaluate(SVG_BOXES)]
            seen.texts = {selector: page.inner_text(selector) for selector in selectors}
            seen.screenshot = page.screenshot(full_page=True)
        finally:
            browser.close()
    return seen


def _console(seen: Rendered, message: Any) -> None:
    if message.type in ("error", "warning"):
        seen.problems.append(f"console {message.type}: {message.text}")
