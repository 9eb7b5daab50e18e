"""Replies to a real campaign message, stored and processed: what each one changes (R1–R4)."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inbound_mail import REPLY_DOMAIN, membership_state, received, reply_to, sent_campaign
from sink import Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import (
    Community,
    Delivery,
    InboundMessage,
    Person,
    utcnow,
)
from webapp.services import people, suppressions, users
from webapp.services.inbound import pipeline, replies, signed_address
from workers.inbound import process_with


@pytest.fixture
def settings_(config: Config, smtp_sink: Sink) -> Config:
    return config.with_overrides(smtp_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)


def deliver(database: Database, config: Config, raw: bytes, **envelope: object) -> InboundMessage:
    """Receive ``raw`` as the SMTP receiver would, process it, and return the stored row."""
    with database.session() as session:
        inbound_id = pipeline.receive(session, raw, channel="smtp", **envelope)  # type: ignore[arg-type]
    assert inbound_id is not None
    process_with(config, database, inbound_id)
    with database.session() as session:
        row = session.get_one(InboundMessage, inbound_id)
        session.expunge(row)
        return row


def is_suppressed(database: Database, community_id: int, email: str) -> bool:
    with database.session() as session:
        return suppressions.is_suppressed(session, community_id, email)


def test_yes_no_and_stop_change_the_person_as_a_click_would(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, _ = sent_campaign(database, settings_, smtp_sink)
    yes = deliver(
        database,
        settings_,
        reply_to(received(smtp_sink, "marie@example.org"), "Oui, ça m'intéresse !"),
    )
    no = deliver(
        database,
        settings_,
        reply_to(received(smtp_sink, "bob@example.org"), "No thanks, not this year."),
    )
    stop = deliver(database, settings_, reply_to(received(smtp_sink, "chloe@example.org"), "STOP"))
    assert (yes.kind, yes.intent, yes.action) == ("reply", "interested", "marked_interested")
    assert membership_state(database, "marie@example.org") == "interested"
    assert (no.kind, no.intent, no.action) == ("reply", "not_interested", "marked_not_interested")
    assert membership_state(database, "bob@example.org") == "not_interested"
    assert (stop.kind, stop.action) == ("unsubscribe", "unsubscribed")
    assert is_suppressed(database, community_id, "chloe@example.org")
    assert yes.text == "Oui, ça m'intéresse !"  # the quoted original is not part of the reply


def test_a_question_waits_for_the_coordinator_and_changes_nothing(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink)
    row = deliver(
        database,
        settings_,
        reply_to(received(smtp_sink, "marie@example.org"), "Combien d'heures par mois ?"),
    )
    assert (row.kind, row.intent, row.action, row.needs_review) == (
        "reply",
        "question",
        None,
        True,
    )
    assert membership_state(database, "marie@example.org") == "invited"


def test_mail_to_the_unsubscribe_address_suppresses_whatever_it_says(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, _ = sent_campaign(database, settings_, smtp_sink)
    original = received(smtp_sink, "bob@example.org")
    mailto = str(original["List-Unsubscribe"]).split("<mailto:")[1].rstrip(">")
    row = deliver(database, settings_, reply_to(original, "yes", to=mailto))
    assert (row.kind, row.action) == ("unsubscribe", "unsubscribed")
    assert is_suppressed(database, community_id, "bob@example.org")


def test_from_is_never_trusted_but_a_forwarded_reply_with_the_token_is(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink)
    original = received(smtp_sink, "marie@example.org")
    # Someone writes as Marie to the community's address: no token, nothing happens.
    forged = deliver(
        database, settings_, reply_to(original, "Oui, ça m'intéresse !", to="cop@example.org")
    )
    # A mangled token is refused too, and flagged.
    token = str(original["Reply-To"])
    mangled = token[: token.index(".") + 1] + "0" * 16 + token[token.index("@") :]
    tampered = deliver(database, settings_, reply_to(original, "Oui !", to=mangled))
    assert (forged.kind, forged.person_id, forged.action) == ("unattributed", None, None)
    assert forged.needs_review and forged.reason == "no_signed_address"
    assert (tampered.kind, tampered.reason) == ("unattributed", "forged_address")
    assert forged.community_id is not None  # shown in the community's inbox all the same
    assert membership_state(database, "marie@example.org") == "invited"
    # A colleague forwards Marie's answer to the signed address: attributed to Marie.
    forwarded = deliver(
        database,
        settings_,
        reply_to(original, "Count me in!", sender="Assistant <assistant@example.org>"),
    )
    assert forwarded.action == "marked_interested"
    assert membership_state(database, "marie@example.org") == "interested"


def test_the_same_message_is_stored_and_applied_once(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink)
    raw = reply_to(received(smtp_sink, "bob@example.org"), "Sounds great, count me in")
    with database.session() as session:
        first = pipeline.receive(session, raw, channel="smtp")
        again = pipeline.receive(session, raw, channel="imap")
    assert first is not None and again is None
    assert process_with(settings_, database, first) == "reply"
    assert process_with(settings_, database, first) is None  # a duplicated task does nothing


def test_out_of_office_never_counts_and_never_gets_an_answer(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink, acknowledge_replies=True)
    before = len(smtp_sink.messages)
    row = deliver(
        database,
        settings_,
        reply_to(
            received(smtp_sink, "marie@example.org"),
            "Je suis absente, oui, je serai de retour lundi.",
            Auto_Submitted="auto-replied",
        ),
    )
    assert (row.kind, row.action) == ("auto_reply", None)
    assert membership_state(database, "marie@example.org") == "invited"
    assert len(smtp_sink.messages) == before


def test_a_reply_is_acknowledged_once_as_an_automatic_message(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink, acknowledge_replies=True)
    original = received(smtp_sink, "marie@example.org")
    deliver(database, settings_, reply_to(original, "Oui, avec plaisir"))
    deliver(database, settings_, reply_to(original, "Et combien d'heures par mois ?"))
    acks = smtp_sink.to("marie@example.org")[1:]
    assert len(acks) == 1  # once a day per person at most
    ack = acks[0]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"]
    assert str(ack["Reply-To"]) == str(original["Reply-To"])  # her next reply is hers too
    assert "Merci, votre réponse a bien été reçue" in ack.get_body(("plain",)).get_content()
    assert smtp_sink.envelopes[-1].mail_from == "<>"  # a null return path (RFC 3834)


DSN = """From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {bounce}
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-{n}@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system at host mx.example.net. Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {person}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--b1
Content-Type: text/rfc822-headers

Message-ID: {original}
Subject: whatever

--b1--
"""


def bounce(
    settings: Config,
    original: EmailMessage,
    person: str,
    status: str,
    n: int,
    *,
    verp: bool = True,
) -> bytes:
    """A Postfix-like DSN about ``original``, to its signed return path (``verp``) or not."""
    delivery_id = int(str(original["X-Amorce-Delivery"]))
    verp_address = signed_address(settings, "bounce", delivery_id)
    return DSN.format(
        bounce=verp_address if verp else "amorce@localhost",
        person=person,
        action="failed" if status.startswith(("4", "5")) else "delayed",
        status=status,
        diagnostic=f"{status[0]}50 {status} mailbox problem",
        original=original["Message-ID"],
        n=n,
    ).encode()


def test_bounces_mark_the_delivery_and_suppress_when_hard_or_repeated(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, campaign_id = sent_campaign(database, settings_, smtp_sink)
    hard = deliver(
        database,
        settings_,
        bounce(
            settings_, received(smtp_sink, "marie@example.org"), "marie@example.org", "5.1.1", 1
        ),
        envelope_from="",
    )
    assert (hard.kind, hard.reason, hard.action) == ("bounce", "hard", "suppressed")
    assert is_suppressed(database, community_id, "marie@example.org")
    bob = received(smtp_sink, "bob@example.org")
    # Without the VERP address, the returned Message-ID finds the delivery.
    soft = [
        deliver(
            database, settings_, bounce(settings_, bob, "bob@example.org", "4.2.2", n, verp=n != 3)
        )
        for n in (2, 3, 4)
    ]
    assert [row.action for row in soft] == ["bounced", "bounced", "suppressed"]
    assert is_suppressed(database, community_id, "bob@example.org")
    # A report that did not come back to the signed return path could be forged by anyone who
    # saw the Message-ID (a Cc of a reply): it marks the delivery, suppresses nobody, and waits.
    chloe = received(smtp_sink, "chloe@example.org")
    unsigned = deliver(
        database, settings_, bounce(settings_, chloe, "chloe@example.org", "5.1.1", 5, verp=False)
    )
    assert (unsigned.action, unsigned.needs_review) == ("bounced", True)
    assert not is_suppressed(database, community_id, "chloe@example.org")
    with database.session() as session:
        states = dict(
            session.execute(
                select(Person.email, Delivery.state)
                .join(Person, Person.id == Delivery.person_id)
                .where(Delivery.campaign_id == campaign_id)
            ).all()
        )
    assert set(states.values()) == {"bounced"}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=2000) | st.text(max_size=2000).map(str.encode))
def test_no_input_crashes_the_pipeline(database: Database, config: Config, raw: bytes) -> None:
    with database.session() as session:
        inbound_id = pipeline.receive(session, raw, channel="webhook")
    if inbound_id is None:
        return
    process_with(config, database, inbound_id)
    with database.session() as session:
        row = session.get_one(InboundMessage, inbound_id)
        assert row.state in ("processed", "failed")
        assert row.action is None


def test_raw_messages_are_purged_after_the_retention_period(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink)
    row = deliver(
        database, settings_, reply_to(received(smtp_sink, "bob@example.org"), "Maybe later?")
    )
    with database.session() as session:
        assert pipeline.purge(session, retention_days=90) == 0
    with time_machine.travel(utcnow() + timedelta(days=91)):
        with database.session() as session:
            assert pipeline.purge(session, retention_days=90) == 1
            assert pipeline.purge(session, retention_days=90) == 0
    with database.session() as session:
        kept = session.get_one(InboundMessage, row.id)
        assert kept.raw is None and kept.text == "" and kept.kind == "reply"
        assert session.get_one(Community, kept.community_id).name == "CoP"


def test_a_reply_quoting_a_bounce_is_still_a_reply_and_suppresses_nobody(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, _ = sent_campaign(database, settings_, smtp_sink)
    pasted = (
        "Oui, ça m'intéresse ! Jean n'a pas reçu votre message, voici l'erreur :\n\n"
        "Hi. This is the qmail-send program at mx.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<jean@example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n"
    )
    row = deliver(
        database,
        settings_,
        reply_to(received(smtp_sink, "marie@example.org"), pasted),
        envelope_from="marie@example.org",
    )
    assert row.kind == "reply"
    assert not is_suppressed(database, community_id, "marie@example.org")


def test_an_answer_is_sent_by_one_task_and_dropped_once_the_person_unsubscribes(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, _ = sent_campaign(database, settings_, smtp_sink)
    bob = deliver(
        database, settings_, reply_to(received(smtp_sink, "bob@example.org"), "How often?")
    )
    marie = deliver(
        database, settings_, reply_to(received(smtp_sink, "marie@example.org"), "Combien ?")
    )
    with database.session() as session:
        user = users.create_user(session, "coordinator@example.org", "long enough password")
        replies.queue_answer(session, bob.id, "Once a month.", user_id=user)
        replies.queue_answer(session, marie.id, "Une fois par mois.", user_id=user)
    with database.session() as session:
        assert replies.claim_answer(session, bob.id)
        assert not replies.claim_answer(session, bob.id)  # a second task finds it taken
        people.unsubscribe(session, community_id, marie.person_id, how="link")
        session.commit()
        assert replies.answer_message(session, settings_, EmailRenderer(), marie.id) is None
        assert replies.unsent_answers(session, older_than=0) == []
        assert session.get_one(InboundMessage, marie.id).error


def test_an_answer_refused_for_good_stops_waiting_and_a_deferred_one_is_tried_again(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    sent_campaign(database, settings_, smtp_sink)
    row = deliver(
        database, settings_, reply_to(received(smtp_sink, "bob@example.org"), "How often?")
    )
    with database.session() as session:
        user = users.create_user(session, "coordinator@example.org", "long enough password")
        replies.queue_answer(session, row.id, "Once a month.", user_id=user)
    with database.session() as session:
        assert replies.claim_answer(session, row.id)
        assert not replies.answer_refused(session, row.id, 451, b"4.3.0 busy")
        assert replies.claim_answer(session, row.id)  # handed back: a retry may take it
        assert replies.answer_refused(session, row.id, 550, b"5.1.1 no such user")
        kept = session.get_one(InboundMessage, row.id)
        assert kept.answer_queued_at is None and "5.1.1 no such user" in kept.error
        assert replies.unsent_answers(session, older_than=0) == []
