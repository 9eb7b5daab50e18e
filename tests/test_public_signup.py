"""The public community page and its double opt-in (issue 5): someone nobody invited says they
are interested, confirms by email, and only then becomes a prospect Amorce may write to."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select
from web_helpers import csrf_token, running_app, seed

from webapp.config import Config
from webapp.db import Database
from webapp.models import ConsentRecord, Membership, Person
from webapp.services import suppressions

LINK = re.compile(r"http://127\.0\.0\.1:5000(/c/confirm/[A-Za-z0-9_-]+)")


@pytest.fixture
def client(config: Config, smtp_sink: Sink, database: Database) -> Iterator[FlaskClient]:
    seed(database)
    app: Flask
    with running_app(config.with_overrides(smtp_url=smtp_sink.url)) as app:
        yield app.test_client()


def interest(client: FlaskClient, **fields: str) -> tuple[int, str]:
    data = {
        "csrf_token": csrf_token(client, "/c/cop-test"),
        "email": "nora@example.org",
        "first_name": "Nora",
        "organization": "UQAR",
        "language": "fr",
        "consent": "y",
        **fields,
    }
    response = client.post("/c/cop-test", data=data)
    return response.status_code, response.get_data(as_text=True)


def membership(database: Database, email: str) -> Membership | None:
    with database.session() as session:
        return session.scalar(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == email)
        )


def test_the_public_page_leads_with_the_benefits(client: FlaskClient) -> None:
    page = client.get("/c/cop-test", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "CoP Pédagogie" in page and "Partager vos pratiques" in page
    assert 'name="email"' in page and 'name="consent"' in page
    assert client.get("/c/nowhere").status_code == 404


def test_interest_is_confirmed_by_email_before_anything_else(
    client: FlaskClient, database: Database, smtp_sink: Sink
) -> None:
    status, _ = interest(client)
    assert status == 303
    assert membership(database, "nora@example.org") is not None
    (email,) = smtp_sink.to("nora@example.org")
    assert email["Auto-Submitted"] == "auto-generated"
    body = email.get_body(("plain",)).get_content()
    link = LINK.search(body)
    assert link, body
    # Opening the link (as a mail scanner would) changes nothing.
    opened = client.get(link.group(1)).get_data(as_text=True)
    assert "Confirmer mon intérêt" in html.unescape(opened)
    assert membership(database, "nora@example.org").state == "prospect"  # type: ignore[union-attr]
    with database.session() as session:
        confirmed = select(ConsentRecord.id).where(ConsentRecord.method == "double-opt-in")
        assert session.scalar(confirmed) is None
    # Pressing the button confirms: interested, with express consent; the link is used up.
    token = csrf_token(client, link.group(1))
    done = client.post(link.group(1), data={"csrf_token": token})
    assert done.status_code == 200
    assert membership(database, "nora@example.org").state == "interested"  # type: ignore[union-attr]
    with database.session() as session:
        consent = session.scalars(
            select(ConsentRecord).where(ConsentRecord.method == "double-opt-in")
        ).one()
        assert consent.basis == "express"
    assert client.get(link.group(1)).status_code == 404


def test_a_refused_form_keeps_what_was_typed_and_says_why(
    client: FlaskClient, smtp_sink: Sink
) -> None:
    status, page = interest(client, consent="", first_name="Léa", email="lea@example.org")
    assert status == 400
    assert 'value="lea@example.org"' in page and 'value="Léa"' in html.unescape(page)
    assert 'id="consent-error"' in page
    assert smtp_sink.to("lea@example.org") == []
    status, page = interest(client, email="not an address")
    assert status == 400 and 'id="email-error"' in page


def test_the_same_answer_for_everyone_and_no_mail_bombing(
    client: FlaskClient, database: Database, smtp_sink: Sink
) -> None:
    with database.session() as session:
        suppressions.suppress(
            session, "gone@example.org", community_id=None, reason="test", actor="test"
        )
    assert interest(client, email="gone@example.org")[0] == 303
    assert smtp_sink.to("gone@example.org") == []  # unsubscribed: never mailed
    assert interest(client)[0] == 303
    assert interest(client)[0] == 303
    assert len(smtp_sink.to("nora@example.org")) == 1  # one email per address per 10 minutes
    # A known person is not edited by whoever types their address.
    assert interest(client, email="anne@example.org", first_name="Mallory")[0] == 303
    with database.session() as session:
        anne = session.scalars(select(Person).where(Person.email == "anne@example.org")).one()
        assert anne.first_name == "Anne"
