"""Shared steps of the web tests: seed a coordinator and a community, sign in, read CSRF tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient

from webapp import create_app
from webapp.config import Config
from webapp.db import Database
from webapp.services import communities, imports, users

PASSWORD = "correct horse battery"
CSV = """email,first_name,last_name,language,organization,timezone
anne@example.org,Anne,Tremblay,fr,Université Laval,America/Toronto
bob@example.org,Bob,Smith,en,McGill,America/Toronto
chloe@example.org,Chloé,Roy,,UQAM,
"""


@dataclass
class Seeded:
    """What :func:`seed` created."""

    user_email: str
    community_id: int
    slug: str


def seed(database: Database, *, email: str = "coord@example.org", slug: str = "cop-test") -> Seeded:
    """A coordinator, a community with a full sender identity and three prospects."""
    with database.session() as session:
        user_id = users.create_user(session, email, PASSWORD)
        community_id = communities.create_community(
            session,
            communities.CommunityData(
                name="CoP Pédagogie",
                slug=slug,
                language="fr",
                domain="Pédagogie numérique",
                benefits=["Partager vos pratiques", "Apprendre des collègues"],
                sender_name="Équipe CoP",
                organization="Université Test",
                postal_address="1 rue de l'Université, Québec",
                contact_email="cop@example.org",
            ),
            user_id=user_id,
        )
        imports.import_people(session, community_id, CSV, source="network", consent="express")
    return Seeded(email, community_id, slug)


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on a page."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str) -> None:
    """Sign in through the login form."""
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


@contextmanager
def running_app(config: Config) -> Iterator[Flask]:
    """An app on an in-memory broker whose database pool is closed afterwards."""
    app = create_app(config.with_overrides(broker_url="memory://"))
    try:
        yield app
    finally:
        app.extensions["amorce"].database.dispose()


def other_coordinator(database: Database) -> str:
    """Another coordinator, with a community of their own (slug ``other``); their email."""
    email = "other@example.org"
    with database.session() as session:
        user_id = users.create_user(session, email, PASSWORD)
        communities.create_community(
            session,
            communities.CommunityData(name="Other", slug="other", language="fr"),
            user_id=user_id,
        )
    return email
