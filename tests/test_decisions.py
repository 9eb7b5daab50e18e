"""Telling the decisions (issue 5): one bilingual email per decision, prepared from the
applications, each person told once; the selected are asked to confirm and become members."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select
from web_helpers import Seeded, csrf_token, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import Membership, Person
from webapp.services import applications, campaigns, decisions
from workers.campaigns import drain_with

PERSONAL = re.compile(r"http://127\.0\.0\.1:5000(/r/[A-Za-z0-9_-]+)")
# The three seeded prospects, as applicants with their decisions.
DECIDED = {
    "anne@example.org": "selected",
    "bob@example.org": "waitlisted",
    "chloe@example.org": "declined",
}


@pytest.fixture
def seeded(database: Database) -> Seeded:
    found = seed(database)
    with database.session() as session:
        for membership in session.scalars(select(Membership)):
            membership.state = "applicant"
        session.commit()
        for email, decision in DECIDED.items():
            person_id = session.scalars(select(Person.id).where(Person.email == email)).one()
            applications.decide(session, found.community_id, person_id, decision, actor="test")
        session.commit()
    return found


@pytest.fixture
def app(config: Config, smtp_sink: Sink, seeded: Seeded) -> Iterator[Flask]:
    with running_app(config.with_overrides(smtp_url=smtp_sink.url)) as running:
        yield running


def prepare_and_send(
    client: FlaskClient, config: Config, database: Database, smtp_url: str, decision: str
) -> int:
    """Press "Prepare the email" for ``decision``, launch the campaign, send it all."""
    page = "/communities/cop-test/applications/decisions"
    prepared = client.post(
        page, data={"csrf_token": csrf_token(client, page), "decision": decision}
    )
    assert prepared.status_code == 303, prepared.get_data(as_text=True)
    campaign_id = int(prepared.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    with database.session() as session:
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(config.with_overrides(smtp_url=smtp_url), database, campaign_id):
        pass
    return campaign_id


def test_each_decision_has_its_own_email_and_is_told_once(
    app: Flask, config: Config, database: Database, smtp_sink: Sink, seeded: Seeded
) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    page = html.unescape(
        client.get("/communities/cop-test/applications/decisions").get_data(as_text=True)
    )
    assert page.count("Préparer le courriel à 1 personne") == 3
    ranking = client.get("/communities/cop-test/applications").get_data(as_text=True)
    assert "Préparer les courriels de décision" in html.unescape(ranking)
    for decision in DECIDED.values():
        prepare_and_send(client, config, database, smtp_sink.url, decision)
    texts = {}
    for email in DECIDED:
        (message,) = smtp_sink.to(email)
        texts[email] = (message["Subject"], message.get_body(("plain",)).get_content())
    assert "retenu" in texts["anne@example.org"][0]
    assert PERSONAL.search(texts["anne@example.org"][1])  # the link to confirm
    assert "waiting list" in texts["bob@example.org"][0]  # Bob reads English
    assert "Merci pour votre candidature" in texts["chloe@example.org"][1]
    assert not PERSONAL.search(texts["chloe@example.org"][1].split("-- ")[0])
    # Everyone is told; a later decision is told by a new email, to that person only.
    page = html.unescape(
        client.get("/communities/cop-test/applications/decisions").get_data(as_text=True)
    )
    assert "Préparer le courriel" not in page and page.count("Tout le monde est informé") == 3
    with database.session() as session:
        bob = session.scalars(select(Person.id).where(Person.email == "bob@example.org")).one()
        applications.decide(session, seeded.community_id, bob, "selected", actor="test")
        session.commit()
    prepare_and_send(client, config, database, smtp_sink.url, "selected")
    assert len(smtp_sink.to("anne@example.org")) == 1
    assert len(smtp_sink.to("bob@example.org")) == 2


def test_the_selected_confirm_from_the_email_and_become_members(
    app: Flask, config: Config, database: Database, smtp_sink: Sink, seeded: Seeded
) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    prepare_and_send(client, config, database, smtp_sink.url, "selected")
    (message,) = smtp_sink.to("anne@example.org")
    link = PERSONAL.search(message.get_body(("plain",)).get_content())
    assert link
    anne = app.test_client()
    anne.get(link.group(1))
    page = html.unescape(anne.get("/respond", follow_redirects=True).get_data(as_text=True))
    assert "Vous êtes retenu·e" in page
    confirmed = anne.post(
        "/respond/status/confirm", data={"csrf_token": csrf_token(anne, "/respond/status")}
    )
    assert confirmed.status_code == 303
    with database.session() as session:
        state = session.scalars(
            select(Membership.state)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "anne@example.org")
        ).one()
    assert state == "member"


def test_preparing_twice_reopens_the_same_draft(database: Database, seeded: Seeded) -> None:
    with database.session() as session:
        first = decisions.prepare(session, seeded.community_id, "selected", name="x", user_id=None)
        again = decisions.prepare(session, seeded.community_id, "selected", name="x", user_id=None)
        assert first == again
        with pytest.raises(campaigns.DomainError):
            campaigns.create_campaign(
                session, seeded.community_id, kind="decision", audience_state="member"
            )
