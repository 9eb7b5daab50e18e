"""A real browser for the tests: Debian's Chromium driven by Playwright, against the app served
by Werkzeug in a thread. Nothing is downloaded at run time (axe-core ships with
``axe-playwright-python``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from sink import Sink
from web_helpers import PASSWORD
from werkzeug.serving import BaseWSGIServer, make_server

from webapp import create_app
from webapp.config import Config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed"),
]


@dataclass
class LiveServer:
    """The app answering on a real port."""

    app: Flask
    config: Config
    base_url: str


@pytest.fixture
def live_server(config: Config, smtp_sink: Sink) -> Iterator[LiveServer]:
    """The app served by Werkzeug in a thread on a free port, its links pointing at that port."""
    # Keep the probe socket bound and listening and hand it to the server: no race for the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        port = int(probe.getsockname()[1])
        base_url = f"http://127.0.0.1:{port}"
        live_config = config.with_overrides(
            smtp_url=smtp_sink.url, broker_url="memory://", base_url=base_url
        )
        app = create_app(live_config)
        server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, fd=probe.fileno()
        )
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, live_config, base_url)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["amorce"].database.dispose()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with nothing that reaches the network on its own."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def assert_accessible(page: Page, what: str) -> None:
    """axe-core finds no violation on the page as it stands."""
    results = Axe().run(page)
    assert results.violations_count == 0, f"axe on {what}:\n{results.generate_report()}"


def tab_to(page: Page, selector: str, *, limit: int = 15) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    focused = page.evaluate("document.activeElement && document.activeElement.outerHTML")
    pytest.fail(f"{selector} never got the focus with Tab (focus on {focused})")


def sign_in_page(page: Page, live: LiveServer, email: str = "coord@example.org") -> None:
    """Sign in through the French login form, by keyboard."""
    page.goto(f"{live.base_url}/login")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
