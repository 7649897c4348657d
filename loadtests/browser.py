"""Debian's Chromium driven by Playwright, offline: for the dashboard's tests and benchmark.

Playwright's own browser download is never used (`playwright install` needs a host that is not
reachable); the system's `chromium` (apt) is launched instead, with the flags that keep it from
calling home on a closed network (background networking, component updates, sync, QUIC) and a
fresh profile, so every launch starts with a cold cache.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mdc.errors import ConfigError

CHROMIUM_FLAGS = (
    "--no-sandbox",  # root in CI containers
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)
INSTALL_HINT = "install it with `apt-get install -y chromium` (scripts/test does)"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise ConfigError(f"no chromium on PATH: {INSTALL_HINT}")
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (a playwright Browser), closed on exit."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a dev/bench dependency

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_profile() -> Iterator[Any]:
    """A headless Chromium with a profile on disk (a playwright BrowserContext): its HTTP cache
    survives between pages as a user's browser's does (a plain context's cache is in memory)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a dev/bench dependency

    profile = tempfile.mkdtemp(prefix="mdc-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
