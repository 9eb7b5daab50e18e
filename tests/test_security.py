"""Web security a person never sees but always relies on: cookies, headers, redirects, limits."""

from __future__ import annotations

import pytest
from web_helpers import PASSWORD, csrf_token, running_app, seed

from webapp import create_app
from webapp.config import Config
from webapp.db import Database
from webapp.views.auth import safe_next


def test_https_deployment_uses_host_prefixed_secure_cookies_and_hsts(
    config: Config, database: Database
) -> None:
    seeded = seed(database)
    app = create_app(
        config.with_overrides(base_url="https://amorce.example.org", broker_url="memory://")
    )
    client = app.test_client()
    token = csrf_token(client, "https://amorce.example.org/login")
    response = client.post(
        "https://amorce.example.org/login",
        data={
            "csrf_token": token,
            "email": seeded.user_email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("__Host-session="))
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in session_cookie
    assert "Domain=" not in session_cookie
    page = client.get("https://amorce.example.org/")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    app.extensions["amorce"].database.dispose()


def test_plain_http_on_loopback_keeps_working_without_hsts(config: Config) -> None:
    with running_app(config) as app:
        response = app.test_client().get("/login")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
    assert "Secure" not in response.headers.get("Set-Cookie", "")


def test_guessing_personal_links_is_rate_limited(config: Config) -> None:
    with running_app(config.with_overrides(token_rate_limit="5 per minute")) as app:
        client = app.test_client()
        codes = [client.get(f"/r/guess{i:04d}xxxxxxxxxxxxxxxxxx").status_code for i in range(8)]
    assert codes[:5] == [404] * 5
    assert codes[5:] == [429] * 3


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("/communities/cop", "/communities/cop"),
        ("https://evil.example.com/", None),
        ("//evil.example.com/", None),
        ("/\\evil.example.com", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_sign_in_only_redirects_to_local_pages(target: str, allowed: str | None) -> None:
    assert safe_next(target) == allowed
