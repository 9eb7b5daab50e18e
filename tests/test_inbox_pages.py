"""The coordinator's inbox: real replies to a real campaign, reviewed, corrected and answered in
the pages; and the webhook that takes raw mail (R1, R2, R4, W5, W9)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from inbound_mail import REPLY_DOMAIN, received, reply_to, sent_campaign
from sink import Sink
from sqlalchemy import select
from web_helpers import PASSWORD, csrf_token, other_coordinator, running_app, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer, SmtpConnection
from webapp.models import (
    AuditLog,
    CommunityCoordinator,
    InboundMessage,
    Membership,
    Person,
    utcnow,
)
from webapp.services import suppressions, users
from webapp.services.inbound import pipeline, replies
from webapp.services.inbound.pipeline import MAX_MESSAGE_BYTES
from webapp.views import inbound as inbound_views
from workers.inbound import process_with

SECRET = "s3cret-for-the-webhook-0123456789"
COORDINATOR = "coord@example.org"


@dataclass
class Inbox:
    """A community with a sent campaign, its coordinator signed in, and four processed replies."""

    settings: Config
    client: FlaskClient
    community_id: int
    slug: str
    ids: dict[str, int]
    originals: dict[str, EmailMessage]

    def page(self, path: str = "") -> str:
        response = self.client.get(f"/communities/{self.slug}/inbox{path}")
        assert response.status_code == 200, path
        return html.unescape(response.get_data(as_text=True))

    def post(self, name: str, verb: str, **data: str) -> Any:
        path = f"/communities/{self.slug}/inbox/{self.ids[name]}"
        token = csrf_token(self.client, path)
        return self.client.post(f"{path}/{verb}", data={"csrf_token": token, **data})


def deliver(database: Database, config: Config, raw: bytes, **envelope: Any) -> int:
    """Receive ``raw`` as a receiver would and process it; its id."""
    with database.session() as session:
        inbound_id = pipeline.receive(session, raw, channel="smtp", **envelope)
        session.commit()
    assert inbound_id is not None
    process_with(config, database, inbound_id)
    return inbound_id


def state_of(database: Database, community_id: int, email: str) -> str:
    with database.session() as session:
        return session.execute(
            select(Membership.state)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == email, Membership.community_id == community_id)
        ).scalar_one()


def message(database: Database, inbound_id: int) -> InboundMessage:
    with database.session() as session:
        row = session.get_one(InboundMessage, inbound_id)
        session.expunge(row)
        return row


@pytest.fixture
def settings(config: Config, smtp_sink: Sink) -> Config:
    return config.with_overrides(smtp_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)


@pytest.fixture
def app(settings: Config) -> Iterator[Flask]:
    with running_app(settings) as application:
        yield application


@pytest.fixture
def inbox(database: Database, settings: Config, smtp_sink: Sink, app: Flask) -> Inbox:
    community_id, _campaign = sent_campaign(database, settings, smtp_sink)
    with database.session() as session:
        user_id = users.create_user(session, COORDINATOR, PASSWORD)
        session.add(CommunityCoordinator(community_id=community_id, user_id=user_id))
    originals = {
        name: received(smtp_sink, f"{name}@example.org") for name in ("marie", "bob", "chloe")
    }
    ids = {
        "question": deliver(
            database, settings, reply_to(originals["marie"], "Combien d'heures par mois ?")
        ),
        "unsure": deliver(
            database,
            settings,
            reply_to(originals["bob"], "Maybe, it sounds interesting but I need to think."),
        ),
        # Someone writes as Marie to the community's own address: no signed token.
        "forged": deliver(
            database,
            settings,
            reply_to(originals["marie"], "Oui, ça m'intéresse !", to="cop@example.org"),
        ),
        "sure": deliver(database, settings, reply_to(originals["chloe"], "Oui, ça m'intéresse !")),
    }
    client = app.test_client()
    sign_in(client, COORDINATOR)
    client.get("/?lang=en")
    return Inbox(settings, client, community_id, "cop", ids, originals)


def test_the_inbox_puts_what_needs_the_coordinator_first_and_flags_the_unattributed(
    inbox: Inbox, database: Database
) -> None:
    page = inbox.page()
    rows = re.findall(r'<tr id="message-(\d+)" data-kind="(\w+)" data-review="(\w+)"', page)
    order = [int(found[0]) for found in rows]
    assert order[-1] == inbox.ids["sure"]  # applied by itself: after everything to review
    assert set(order[:3]) == {inbox.ids["question"], inbox.ids["unsure"], inbox.ids["forged"]}
    assert [found[2] for found in rows] == ["yes", "yes", "yes", "no"]
    forged_row = page[page.index(f'id="message-{inbox.ids["forged"]}"') :].split("</tr>")[0]
    assert "Not attributed: From: can be forged" in forged_row
    assert "marie@example.org" in forged_row  # the claim is shown, marked as a claim
    sure_row = page[page.index(f'id="message-{inbox.ids["sure"]}"') :].split("</tr>")[0]
    assert "Marked as interested" in sure_row and "92%" in sure_row
    assert "To review (3)" in page and "Questions (1)" in page and "Not attributed (1)" in page

    questions = inbox.page("?filter=questions")
    assert f'id="message-{inbox.ids["question"]}"' in questions
    assert questions.count('<tr id="message-') == 1
    unattributed = inbox.page("?filter=unattributed")
    assert re.findall(r'<tr id="message-(\d+)"', unattributed) == [str(inbox.ids["forged"])]

    community = inbox.client.get(f"/communities/{inbox.slug}").get_data(as_text=True)
    assert f'href="/communities/{inbox.slug}/inbox"' in community
    assert "Inbox (3 to review)" in community

    detail = inbox.page(f"/{inbox.ids['unsure']}")
    assert "Maybe, it sounds interesting but I need to think." in detail
    assert "<details>" in detail and "a écrit :" in detail  # the original, quote and all
    link = re.search(r"/r/([\w-]+)", inbox.originals["bob"].get_body(("plain",)).get_content())
    assert link is not None and link.group(1) not in detail  # Bob's own link is not shown
    assert "/r/…" in detail
    assert '<select id="intent" name="intent"' in detail and 'value="unsubscribe"' in detail

    with time_machine.travel(utcnow() + timedelta(days=91)):  # the retention period ends (P3)
        with database.session() as session:
            pipeline.purge(session, retention_days=90)
    purged = inbox.page(f"/{inbox.ids['unsure']}")
    assert "The original message was deleted at the end of the retention period" in purged
    assert "need to think" not in purged and 'id="original"' not in purged
    assert "Maybe" in purged  # what Amorce read stays


def test_correcting_an_unsure_reply_applies_it_and_says_so(
    inbox: Inbox, database: Database
) -> None:
    assert state_of(database, inbox.community_id, "bob@example.org") == "invited"
    path = f"/communities/{inbox.slug}/inbox/{inbox.ids['unsure']}/correct"
    assert inbox.client.post(path, data={"intent": "interested"}).status_code == 400  # no CSRF
    assert state_of(database, inbox.community_id, "bob@example.org") == "invited"
    response = inbox.post("unsure", "correct", intent="interested")
    assert response.status_code == 302
    assert state_of(database, inbox.community_id, "bob@example.org") == "interested"
    row = message(database, inbox.ids["unsure"])
    assert (row.intent, row.confidence, row.action, row.needs_review) == (
        "interested",
        1.0,
        "marked_interested",
        False,
    )
    assert row.reviewed_at is not None and row.reviewed_by_id is not None
    with database.session() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "inbound.corrected"))
        assert [entry.details["inbound_id"] for entry in audit] == [row.id]
    shown = html.unescape(inbox.client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Reading corrected to “Interested”. Applied: marked as interested." in shown

    # "Unsubscribe" is a choice of its own: Bob is then written to no more, answers included.
    inbox.post("unsure", "correct", intent="unsubscribe")
    assert message(database, inbox.ids["unsure"]).action == "unsubscribed"
    with database.session() as session:
        assert suppressions.is_suppressed(session, inbox.community_id, "bob@example.org")
    refused = inbox.post("unsure", "answer", answer="Are you sure?")
    assert "Amorce no longer writes to them" in html.unescape(refused.get_data(as_text=True))
    assert message(database, inbox.ids["unsure"]).answer_queued_at is None


def test_an_unattributed_message_cannot_be_corrected_only_dismissed(
    inbox: Inbox, database: Database
) -> None:
    page = inbox.page(f"/{inbox.ids['forged']}")
    assert "Not attributed: From: can be forged" in page
    assert 'name="intent"' not in page  # no correction offered...
    refused = inbox.post("forged", "correct", intent="interested")  # ...nor accepted
    assert refused.status_code == 200
    assert "This message is not attributed to anyone" in html.unescape(refused.get_data(True))
    assert state_of(database, inbox.community_id, "marie@example.org") == "invited"
    assert message(database, inbox.ids["forged"]).needs_review

    dismissed = inbox.post("forged", "dismiss")
    assert dismissed.status_code == 302
    row = message(database, inbox.ids["forged"])
    assert not row.needs_review and row.reviewed_at is not None and row.action is None
    assert "Not attributed (1)" in inbox.page()  # still listed, no longer to review
    assert "To review (2)" in inbox.page()


def test_answering_a_question_queues_an_email_that_carries_the_signed_reply_to(
    inbox: Inbox,
    database: Database,
    smtp_sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[int] = []
    real = inbound_views.queue_answer

    def recording(celery: Any, inbound_id: int) -> bool:
        queued.append(inbound_id)
        return real(celery, inbound_id)

    monkeypatch.setattr(inbound_views, "queue_answer", recording)
    question = inbox.ids["question"]
    response = inbox.post("question", "answer", answer="Environ **deux heures** par mois.")
    assert response.status_code == 302
    assert queued == [question]  # queued after the commit...
    row = message(database, question)
    assert row.answer_text == "Environ **deux heures** par mois."
    assert row.answer_queued_at is not None and not row.needs_review
    shown = html.unescape(inbox.client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Answer queued" in shown and "Answer on its way" in shown
    assert "Questions (0)" in inbox.page()

    # ...and the task's work, done here in the test process: render, send to the sink, mark.
    with database.session() as session:
        outgoing = replies.answer_message(session, inbox.settings, EmailRenderer(), question)
        assert outgoing is not None
        with SmtpConnection(inbox.settings.smtp_url) as connection:
            connection.send(outgoing.message, outgoing.envelope_from, outgoing.recipient)
        replies.mark_answered(session, question)
    answer = smtp_sink.to("marie@example.org")[-1]
    assert "Environ" in answer.get_body(("plain",)).get_content()
    assert str(answer["Reply-To"]) == str(inbox.originals["marie"]["Reply-To"])
    assert str(answer["Reply-To"]).endswith("@" + REPLY_DOMAIN)
    assert message(database, question).answered_at is not None
    # A second answer to the same message is refused, the typed text kept.
    again = inbox.post("question", "answer", answer="Encore une chose")
    page = html.unescape(again.get_data(as_text=True))
    assert "This message has already been answered." in page
    assert "Encore une chose</textarea>" in page


def test_an_empty_answer_shows_the_error_and_keeps_the_page(
    inbox: Inbox, database: Database
) -> None:
    response = inbox.post("question", "answer", answer="   ")
    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert 'id="answer-error"' in page and "Write an answer first." in page
    assert "Combien d'heures par mois ?" in page  # still the message page
    assert message(database, inbox.ids["question"]).answer_queued_at is None

    refused = inbox.post("forged", "answer", answer="Bonjour Marie, merci !")
    page = html.unescape(refused.get_data(as_text=True))
    assert "not attributed to anyone" in page
    assert "Bonjour Marie, merci !</textarea>" in page  # what was typed is never lost


def test_another_coordinators_community_and_messages_are_not_found(
    inbox: Inbox, database: Database, app: Flask
) -> None:
    other_coordinator(database)
    other = app.test_client()
    sign_in(other, "other@example.org")
    assert other.get("/communities/cop/inbox").status_code == 404
    assert other.get("/communities/other/inbox").status_code == 200
    mine = inbox.ids["unsure"]
    assert other.get(f"/communities/cop/inbox/{mine}").status_code == 404
    assert other.get(f"/communities/other/inbox/{mine}").status_code == 404
    token = csrf_token(other, "/communities/other/inbox")
    for verb, data in (("correct", {"intent": "interested"}), ("dismiss", {}), ("answer", {})):
        for slug in ("cop", "other"):
            response = other.post(
                f"/communities/{slug}/inbox/{mine}/{verb}",
                data={"csrf_token": token, "answer": "x", **data},
            )
            assert response.status_code == 404, (slug, verb)
    assert state_of(database, inbox.community_id, "bob@example.org") == "invited"
    assert message(database, mine).needs_review


# -- the webhook ------------------------------------------------------------------------------


def webhook(client: FlaskClient, raw: bytes, secret: str | None = SECRET, **headers: str) -> Any:
    sent = {
        "Content-Type": "message/rfc822",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    if secret is not None:
        sent["Authorization"] = f"Bearer {secret}"
    return client.post("/inbound/webhook", data=raw, headers=sent)


def test_the_webhook_is_off_without_a_secret(settings: Config) -> None:
    with running_app(settings) as app:
        assert webhook(app.test_client(), b"Subject: hi\n\nhello").status_code == 404


def test_the_webhook_stores_authenticated_mail_once_and_refuses_the_rest(
    database: Database, settings: Config, smtp_sink: Sink
) -> None:
    community_id, _campaign = sent_campaign(database, settings, smtp_sink)
    original = received(smtp_sink, "bob@example.org")
    raw = reply_to(original, "Yes please, count me in")
    with running_app(settings.with_overrides(inbound_secret=SECRET)) as app:
        client = app.test_client()
        assert webhook(client, raw, secret="wrong").status_code == 401
        assert webhook(client, raw, secret=None).status_code == 401
        assert webhook(client, raw, secret=SECRET + "x").status_code == 401
        assert webhook(client, b"").status_code == 400
        too_big = webhook(client, b"x" * (MAX_MESSAGE_BYTES + 1))
        assert too_big.status_code == 413

        stored = webhook(
            client,
            raw,
            X_Envelope_From="bob@example.org",
            X_Envelope_To=f"{original['Reply-To']}, other@{REPLY_DOMAIN}",
        )
        assert stored.status_code == 202, stored.get_data(as_text=True)
        inbound_id = stored.get_json()["id"]
        assert stored.get_json() == {"id": inbound_id, "duplicate": False}
        for header in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"):
            assert header in stored.headers
        again = webhook(client, raw, Content_Type="application/octet-stream")
        assert (again.status_code, again.get_json()) == (200, {"id": None, "duplicate": True})

    row = message(database, inbound_id)
    assert (row.channel, row.envelope_from) == ("webhook", "bob@example.org")
    assert row.recipients.splitlines() == [str(original["Reply-To"]), f"other@{REPLY_DOMAIN}"]
    assert row.raw == raw
    with database.session() as session:
        assert len(session.scalars(select(InboundMessage.id)).all()) == 1
    process_with(settings, database, inbound_id)  # what the queued task does
    assert state_of(database, community_id, "bob@example.org") == "interested"
