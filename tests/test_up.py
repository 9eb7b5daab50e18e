"""`amorce up --demo` on the embedded default: pages, a real worker and beat, the dev mailbox."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Browser:
    """A tiny cookie-keeping client for the live server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[str, str]:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def post(self, path: str, data: dict[str, str]) -> tuple[str, str]:
        body = urllib.parse.urlencode(data).encode()
        with self.opener.open(self.base + path, body, timeout=30) as response:
            return response.geturl(), response.read().decode()


def test_up_demo_serves_pages_and_campaign_mail_reaches_the_dev_mailbox(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMORCE_")}
    env.update(
        AMORCE_INSTANCE_PATH=str(tmp_path / "instance"),
        AMORCE_SWEEP_SECONDS="2",
        AMORCE_INBOUND_PORT=str(free_port()),
    )
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "up", "--demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "up.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
                time.sleep(0.3)
        output = (tmp_path / "up.log").read_text()
        login = re.search(r"Demo login: (\S+) / (\S+)", output)
        assert login, output

        browser = Browser(base)
        _, page = browser.get("/login")
        url, page = browser.post(
            "/login",
            {
                "csrf_token": CSRF.search(page).group(1),  # type: ignore[union-attr]
                "email": login.group(1),
                "password": login.group(2),
            },
        )
        assert url == base + "/"
        _, page = browser.get("/communities/pedagogie-numerique")
        url, page = browser.post(
            "/communities/pedagogie-numerique/campaigns/new",
            {"csrf_token": CSRF.search(page).group(1)},
        )  # type: ignore[union-attr]
        campaign = url.removeprefix(base).removesuffix("/edit")
        _, page = browser.get(campaign)
        browser.post(campaign + "/launch", {"csrf_token": CSRF.search(page).group(1)})  # type: ignore[union-attr]

        deadline = time.monotonic() + 90
        while True:
            _, mailbox = browser.get("/dev/mailbox/")
            if mailbox.count('href="/dev/mailbox/') >= 12:
                break
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(1)
        key = re.search(r'href="/dev/mailbox/([^"/]+)"', mailbox).group(1)  # type: ignore[union-attr]
        _, message = browser.get(f"/dev/mailbox/{key}")
        assert re.search(rf'<a href="{base}/r/[A-Za-z0-9_-]+">', message)

        # Play the prospect: answer by email from the mailbox; the worker reads the reply.
        browser.post(
            f"/dev/mailbox/{key}/reply",
            {"csrf_token": CSRF.search(message).group(1), "text": "Oui, ça m'intéresse !"},  # type: ignore[union-attr]
        )
        deadline = time.monotonic() + 60
        while True:
            listed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "webapp.cli",
                    "inbound",
                    "list",
                    "pedagogie-numerique",
                    "--format",
                    "json",
                ],
                env=env,
                capture_output=True,
                text=True,
                cwd=tmp_path,
                check=True,
            ).stdout
            if '"marked_interested"' in listed:
                break
            assert time.monotonic() < deadline, listed + (tmp_path / "up.log").read_text()
            time.sleep(1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert "Amorce stopped." in (tmp_path / "up.log").read_text()
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "instance")], capture_output=True)
    assert leftovers.stdout == b"", "amorce up left processes behind"
