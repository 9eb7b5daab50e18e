"""Voting on the charter by replying to its email (issue 7): the email numbers the statements by
section; a reply's "1 d'accord", "2: non", "3, 4 et 5 : je passe" are recorded as votes; a
statement merged since counts for the one it went into; what is not a vote waits for a
coordinator; a reply after the vote closed changes nothing."""

from __future__ import annotations

import pytest
from builders import community_with_people
from inbound_mail import PEOPLE, REPLY_DOMAIN, reply_to
from sink import Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.models import InboundMessage, Membership, Person
from webapp.services import campaigns, charters, statements
from webapp.services.inbound import pipeline
from workers.campaigns import drain_with
from workers.inbound import process_with

ANSWER = {
    "nature": "Une communauté de pratique ouverte",
    "purpose": "Partager nos pratiques\nRompre l’isolement",
    "governance": "Les décisions se prennent par consensus <b>vraiment</b>",
}


@pytest.fixture
def settings_(config: Config, smtp_sink: Sink) -> Config:
    return config.with_overrides(smtp_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)


def vote_sent(database: Database, config: Config) -> tuple[int, dict[str, int]]:
    """Three members answered, the statements are drawn, the vote's email is sent."""
    with database.session() as session:
        community_id = community_with_people(session, PEOPLE)
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        ids = {p.email: p.id for p in session.scalars(select(Person))}
        for person_id in ids.values():
            charters.save_answers(session, community_id, person_id, ANSWER, complete=True)
        statements.draw(session, community_id, actor="t")
        campaign_id = campaigns.create_campaign(session, community_id, kind="charter")
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(config, database, campaign_id):
        pass
    return community_id, ids


def deliver(database: Database, config: Config, raw: bytes) -> InboundMessage:
    with database.session() as session:
        inbound_id = pipeline.receive(session, raw, channel="smtp")
    assert inbound_id is not None
    process_with(config, database, inbound_id)
    with database.session() as session:
        row = session.get_one(InboundMessage, inbound_id)
        session.expunge(row)
        return row


def numbered(database: Database, community_id: int) -> dict[str, int]:
    with database.session() as session:
        return {s.text: s.id for s in statements.numbered(session, community_id)}


def test_a_reply_votes_by_number(database: Database, settings_: Config, smtp_sink: Sink) -> None:
    community_id, ids = vote_sent(database, settings_)
    marie = smtp_sink.to("marie@example.org")[0]
    text = marie.get_body(("plain",)).get_content().replace("\r\n", "\n")
    # Numbered in the charter's order, under each section's heading; markup stays text.
    assert "Nature\n  1. Une communauté de pratique ouverte" in text
    assert "Raison d’être\n  2. Partager nos pratiques\n  3. Rompre l’isolement" in text
    assert "4. Les décisions se prennent par consensus <b>vraiment</b>" in text
    html = marie.get_body(("html",)).get_content()
    assert "&lt;b&gt;vraiment&lt;/b&gt;" in html and "<b>vraiment" not in html
    assert "1 d'accord" in text

    by_text = numbered(database, community_id)
    row = deliver(
        database,
        settings_,
        reply_to(marie, "1 d'accord\n2: pas d’accord\n3 et 4 : je passe\nMerci !"),
    )
    assert (row.action, row.reason, row.needs_review) == ("charter_votes", "votes", True)
    with database.session() as session:
        votes = statements.votes_of(session, community_id, ids["marie@example.org"])
    assert votes == {
        by_text["Une communauté de pratique ouverte"]: "agree",
        by_text["Partager nos pratiques"]: "disagree",
        by_text["Rompre l’isolement"]: "pass",
        by_text["Les décisions se prennent par consensus <b>vraiment</b>"]: "pass",
    }

    # Merged after the email went: Bob's "3 agree" counts for the statement it went into.
    with database.session() as session:
        statements.merge(
            session,
            community_id,
            [by_text["Partager nos pratiques"], by_text["Rompre l’isolement"]],
            "Partager nos pratiques et rompre l’isolement",
            actor="t",
        )
        session.commit()
    bob = smtp_sink.to("bob@example.org")[0]
    row = deliver(database, settings_, reply_to(bob, "3 agree\n9 agree"))
    assert row.action == "charter_votes" and row.needs_review  # 9: no such number
    with database.session() as session:
        assert statements.votes_of(session, community_id, ids["bob@example.org"]) == {
            by_text["Partager nos pratiques"]: "agree"
        }

    # A reply with no vote in it is read as any reply.
    chloe = smtp_sink.to("chloe@example.org")[0]
    row = deliver(database, settings_, reply_to(chloe, "Quand se termine le vote ?"))
    assert row.action != "charter_votes" and row.needs_review

    # After the vote closed, a vote by reply changes nothing and waits for a coordinator.
    with database.session() as session:
        statements.set_threshold(session, community_id, 50, 1, actor="t")
        statements.close_vote(session, community_id, actor="t")
        session.commit()
    row = deliver(database, settings_, reply_to(chloe, "1 oui"))
    assert (row.reason, row.needs_review, row.action) == ("votes_closed", True, None)
    with database.session() as session:
        assert statements.votes_of(session, community_id, ids["chloe@example.org"]) == {}


def test_vote_lines_are_read_in_french_and_english() -> None:
    votes, rest = statements.parse_votes(
        "1 D’ACCORD\n2 - non.\n3, 4 et 5 : je passe\n6) Agree!\n7 = -\n"
        "8. Une communauté de pratique ouverte\nBonne journée"
    )
    assert votes == {
        1: "agree",
        2: "disagree",
        3: "pass",
        4: "pass",
        5: "pass",
        6: "agree",
        7: "disagree",
    }
    assert rest == ["8. Une communauté de pratique ouverte", "Bonne journée"]
