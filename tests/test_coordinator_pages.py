"""Coordinator pages: creating a community, importing a CSV, the development mailbox, accounts."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from flask import Flask
from sink import ACTIVE_PORTS
from sink import _free_port as free_port
from web_helpers import PASSWORD, Seeded, csrf_token, running_app, seed, sign_in

from webapp import create_app
from webapp.catcher import start_catcher
from webapp.config import Config
from webapp.db import Database
from webapp.mail import SmtpConnection
from webapp.services import users


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    application = create_app(config.with_overrides(broker_url="memory://"))
    yield application
    application.extensions["amorce"].database.dispose()


@pytest.fixture
def seeded(database: Database) -> Seeded:
    return seed(database)


def test_community_form_names_the_wrong_field_and_keeps_the_rest(
    app: Flask, seeded: Seeded
) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    form = {
        "csrf_token": csrf_token(client, "/communities/new"),
        "name": "CoP Évaluation",
        "slug": "Not A Slug",
        "benefits": "Apprendre\nPartager",
        "language": "fr",
        "timezone": "America/Toronto",
        "sender_name": "Équipe",
        "organization": "Université",
        "postal_address": "1 rue Principale",
        "contact_email": "cop@example.org",
        "domain": "Évaluation des apprentissages",
    }
    refused = client.post("/communities/new", data=form)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert 'id="slug-error"' in page
    assert "Évaluation des apprentissages" in page and "1 rue Principale" in page

    form["slug"] = "cop-evaluation"
    created = client.post("/communities/new", data=form)
    assert created.status_code == 302
    overview = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "CoP Évaluation" in overview


def test_csv_import_reports_each_bad_line_and_keeps_good_ones(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    path = f"/communities/{seeded.slug}/people/import"
    client.get(f"{path}?lang=en")
    data = (
        b"email,first_name,language\n"
        b"new.person@example.org,Nouvelle,fr\n"
        b"not-an-address,X,fr\n"
        b"other@example.org,Other,de\n"
    )
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "source": "network",
            "consent": "express",
            "file": (io.BytesIO(data), "network.csv"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Line 3" in page and "column email" in page
    assert "Line 4" in page and "column language" in page
    assert "New people: 1" in page
    listing = client.get(f"/communities/{seeded.slug}/people/").get_data(as_text=True)
    assert "new.person@example.org" in listing and "not-an-address" not in listing


def test_implied_consent_without_note_is_refused_by_the_form(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    path = f"/communities/{seeded.slug}/people/import"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "source": "list",
            "consent": "implied",
            "file": (io.BytesIO(b"email\nsomeone@example.org\n"), "list.csv"),
        },
        content_type="multipart/form-data",
    )
    assert "consent_note-error" in response.get_data(as_text=True)
    listing = client.get(f"/communities/{seeded.slug}/people/").get_data(as_text=True)
    assert "someone@example.org" not in listing


def test_pages_speak_french_by_default_and_english_on_request(app: Flask) -> None:
    client = app.test_client()
    assert "Se connecter" in client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in english and 'lang="en"' in english
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)


def test_dev_mailbox_shows_caught_mail_with_clickable_links(
    app: Flask, config: Config, seeded: Seeded
) -> None:
    port = free_port()
    catcher = start_catcher(config.mailbox_path, port=port)
    ACTIVE_PORTS.add(port)
    try:
        message = MIMEText("Bonjour, votre lien : http://127.0.0.1:5000/r/abc", "plain", "utf-8")
        message["Subject"] = "Invitation"
        message["From"] = "a@example.org"
        message["To"] = "b@example.org"
        with SmtpConnection(f"smtp://127.0.0.1:{port}") as connection:
            connection.send(message, "a@example.org", "b@example.org")  # type: ignore[arg-type]
    finally:
        ACTIVE_PORTS.discard(port)
        catcher.stop()
    client = app.test_client()
    assert client.get("/dev/mailbox/").status_code == 302, "the mailbox is for coordinators"
    sign_in(client, seeded.user_email)
    index = client.get("/dev/mailbox/").get_data(as_text=True)
    assert "Invitation" in index
    key = index.split('href="/dev/mailbox/')[1].split('"')[0]
    shown = client.get(f"/dev/mailbox/{key}").get_data(as_text=True)
    assert '<a href="http://127.0.0.1:5000/r/abc">' in shown


def test_dev_mailbox_is_absent_in_production(config: Config) -> None:
    with running_app(config.with_overrides(env="production")) as app:
        assert app.test_client().get("/dev/mailbox/").status_code == 404


def test_users_create_from_the_cli(database: Database, tmp_path: Path) -> None:
    env = {
        "AMORCE_DATABASE_URL": database.url,
        "AMORCE_INSTANCE_PATH": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }

    def create(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "webapp.cli", "users", "create", *args, "--password-stdin"],
            input=PASSWORD + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    result = create("Chef@Example.org", "--role", "admin")
    assert result.returncode == 0, result.stderr
    with database.session() as session:
        assert users.authenticate(session, "chef@example.org", PASSWORD) is not None
    again = create("chef@example.org")
    assert again.returncode == 1 and "already exists" in again.stderr
