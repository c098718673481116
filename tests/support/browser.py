"""One headless Chromium page per test (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from tests.support.dependencies import missing

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_page(locale: str = "zh-CN") -> Iterator:
    """Yield a page in a fresh browser; skip (fail under `make test`) when Chromium is absent."""
    try:
        from playwright import sync_api
    except ImportError as exc:
        missing("playwright", exc)
    if not shutil.which(CHROMIUM):
        missing("chromium", f"{CHROMIUM} not found (make test-deps installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as exc:  # any failure to start the browser is reported as its reason
            missing("a working chromium", exc)
        # Playwright's wait_for_function evaluates its predicate inside the page, which the
        # gateway's CSP (no eval) forbids; the CSP itself is checked by tests/test_web_safety.py.
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale,
                                      bypass_csp=True)
        yield context.new_page()
        browser.close()


def screenshot(page, folder: str, name: str) -> None:
    """Keep a full-page screenshot under test-artifacts/<folder>/ for a human to look at."""
    target = ARTIFACTS / folder
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)
