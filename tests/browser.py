"""Headless Chromium for the dashboard's tests: Debian's `chromium` (scripts/ensure-chromium.sh installs it),
driven by Playwright's Python package, never Playwright's own browser download (unreachable here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

#: The flags a closed network needs: without the background-networking ones Chromium keeps trying Google's hosts.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    """The Chromium to drive: $COPYAI_CHROMIUM, else `chromium` on PATH; fails the test with what to run."""
    path = os.environ.get("COPYAI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium: run `make bootstrap-test` (it installs Debian's chromium with "
                    "scripts/ensure-chromium.sh) or set COPYAI_CHROMIUM to a Chromium executable")
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium (Playwright gives each launch a fresh, empty profile of its own)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
