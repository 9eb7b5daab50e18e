"""The IMAP poller against a real Dovecot: replies are stored once, marked, and acted upon."""

from __future__ import annotations

import logging
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest
from builders import community_with_people
from dovecot import DONE, HOST, Dovecot
from dovecot import free_port as _free_port
from imapclient import SEEN, IMAPClient
from sink import Sink
from sqlalchemy import func, select

from webapp.config import Config, ConfigError
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import InboundMessage, Membership, MembershipState, Person
from webapp.receivers import imap, store_and_queue
from webapp.receivers.imap import ImapSettings, ImapUnavailable, poll_once, run
from webapp.services import campaigns
from workers.campaigns import drain_with
from workers.inbound import process_with

FLAGGED = {SEEN, imap.STORED.encode()}  # what the poller leaves on a stored message


@pytest.fixture
def offline(tmp_path: Path) -> tuple[Config, Database]:
    """Settings and a database that a poll which fails before storing never touches (no tables:
    a write would fail), for the tests that need no PostgreSQL twin."""
    database = Database(f"sqlite:///{tmp_path / 'untouched.db'}")
    config = Config(secret_key="x" * 32, instance_path=tmp_path, database_url=database.url)
    return config, database


def message(message_id: str, text: str = "Bonjour,\n", **headers: str) -> bytes:
    """A plain message as a mail server would deliver it."""
    mail = EmailMessage(policy=policy.SMTP)
    mail["Return-Path"] = "<marie@example.org>"
    mail["From"] = "Marie Tremblay <marie@example.org>"
    mail["To"] = "cop@example.org"
    mail["Subject"] = "Bonjour"
    mail["Date"] = formatdate()
    mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail.as_bytes()


def stored(database: Database) -> list[InboundMessage]:
    """Every received message Amorce stored."""
    with database.session() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


# -- a reply to a real campaign message ----------------------------------------------------------


def gmail_reply(original: EmailMessage, text: str) -> bytes:
    """A French reply as Gmail writes it (quoted-printable UTF-8, the original quoted below),
    delivered to the Reply-To address of ``original``."""
    reply_to = str(original["Reply-To"])
    body = original.get_body(("plain",))
    assert body is not None
    quoted = "\n".join(f"> {line}".rstrip() for line in body.get_content().splitlines())
    attribution = f"Le lun. 3 juin 2024 à 10:00, {original['From']} a écrit :"
    reply = EmailMessage(policy=policy.SMTP)
    reply["Return-Path"] = "<marie@example.org>"
    reply["Delivered-To"] = reply_to
    reply["From"] = "Marie Tremblay <marie@example.org>"
    reply["To"] = reply_to
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Date"] = formatdate()
    reply["Message-ID"] = make_msgid(domain="mail.gmail.com")
    reply["In-Reply-To"] = str(original["Message-ID"])
    reply["References"] = str(original["Message-ID"])
    reply.set_content(
        f"{text}\n\n{attribution}\n\n{quoted}\n", charset="utf-8", cte="quoted-printable"
    )
    return reply.as_bytes()


@pytest.mark.parametrize("mode", ["flag", "move", "copy"])
def test_a_reply_in_the_mailbox_makes_the_person_interested(
    database: Database,
    config: Config,
    smtp_sink: Sink,
    mailbox: Dovecot,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = config.with_overrides(
        smtp_url=smtp_sink.url,
        reply_domain="reply.example.org",
        imap_url=mailbox.url(),
        imap_done_folder="" if mode == "flag" else DONE,
    )
    if mode == "copy":  # a server without MOVE: COPY, \Deleted, then UID EXPUNGE
        has_capability = IMAPClient.has_capability
        monkeypatch.setattr(
            IMAPClient,
            "has_capability",
            lambda self, name: name.upper() != "MOVE" and has_capability(self, name),
        )
    with database.session() as session:
        community_id = community_with_people(session, "email,first_name\nmarie@example.org,Marie\n")
        campaign_id = campaigns.create_campaign(session, community_id)
        campaigns.launch_campaign(session, campaign_id)
    while drain_with(settings, database, campaign_id, EmailRenderer()):
        pass
    (invitation,) = smtp_sink.to("marie@example.org")
    reply_to = str(invitation["Reply-To"])
    assert reply_to.endswith("@reply.example.org")
    raw = gmail_reply(invitation, "Oui, ça m'intéresse !")
    assert b"Oui, =C3=A7a m'int=C3=A9resse !" in raw
    mailbox.append(raw)

    assert poll_once(settings, database, celery=None) == 1
    with database.session() as session:
        ids = session.scalars(
            select(InboundMessage.id).where(InboundMessage.state == "received")
        ).all()
    assert len(ids) == 1
    for inbound_id in ids:
        process_with(settings, database, inbound_id)

    with database.session() as session:
        state = session.scalar(
            select(Membership.state)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "marie@example.org", Membership.community_id == community_id)
        )
        row = session.scalars(select(InboundMessage)).one()
    assert state == MembershipState.INTERESTED
    assert (row.channel, row.kind, row.intent) == ("imap", "reply", "interested")
    assert row.recipients == reply_to
    message_id = str(message_from_bytes(raw)["Message-ID"])
    if mode == "flag":
        assert mailbox.messages() == [(message_id, FLAGGED)]
    else:
        assert mailbox.messages() == [], "moved out of the INBOX, nothing left behind"
        assert [mid for mid, _ in mailbox.messages(DONE)] == [message_id]


# -- idempotence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("done_folder", ["", DONE])
def test_polling_again_or_a_redelivery_stores_nothing_twice(
    database: Database, config: Config, mailbox: Dovecot, done_folder: str
) -> None:
    settings = config.with_overrides(imap_url=mailbox.url(), imap_done_folder=done_folder)
    first, second = message("<first@example.org>"), message("<second@example.org>")
    mailbox.append(first)
    mailbox.append(second)

    assert poll_once(settings, database, None) == 2
    assert poll_once(settings, database, None) == 0
    mailbox.append(first)  # the same message delivered again (same Message-ID)
    assert poll_once(settings, database, None) == 0

    assert [row.message_id for row in stored(database)] == [
        "<first@example.org>",
        "<second@example.org>",
    ]
    folder = DONE if done_folder else "INBOX"
    assert mailbox.messages(folder) == [
        ("<first@example.org>", FLAGGED if not done_folder else set()),
        ("<second@example.org>", FLAGGED if not done_folder else set()),
        ("<first@example.org>", FLAGGED if not done_folder else set()),
    ]
    if done_folder:
        assert mailbox.messages() == []


def test_a_message_stored_before_a_crash_is_marked_on_the_next_poll(
    database: Database, config: Config, mailbox: Dovecot
) -> None:
    settings = config.with_overrides(imap_url=mailbox.url())
    raw = message("<crash@example.org>")
    mailbox.append(raw)
    # What a poll that died between the commit and the \Seen flag leaves behind.
    assert store_and_queue(database, None, raw, channel="imap") is not None
    assert mailbox.messages() == [("<crash@example.org>", set())]

    assert poll_once(settings, database, None) == 0
    assert len(stored(database)) == 1
    assert mailbox.messages() == [("<crash@example.org>", FLAGGED)]


def test_a_large_mailbox_is_read_in_chunks_and_an_oversized_message_left_alone(
    database: Database,
    config: Config,
    mailbox: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(imap, "CHUNK", 2)
    monkeypatch.setattr(imap, "BATCH_BYTES", 1)  # one body per fetch
    monkeypatch.setattr(imap, "MAX_MESSAGE_BYTES", 4000)
    settings = config.with_overrides(imap_url=mailbox.url())
    for number in range(5):
        mailbox.append(message(f"<{number}@example.org>"))
    mailbox.append(message("<huge@example.org>", "x" * 5000 + "\n"))

    assert poll_once(settings, database, None) == 5
    assert sorted(row.message_id for row in stored(database)) == sorted(
        f"<{number}@example.org>" for number in range(5)
    )
    flags = dict(mailbox.messages())
    assert flags.pop("<huge@example.org>") == set(), "left unread for a person"
    assert all(value == FLAGGED for value in flags.values())
    assert "exceed 4000 bytes" in caplog.text


def test_envelope_recipients_and_sender_come_from_the_delivery_headers() -> None:
    raw = message(
        "<env@example.org>",
        Delivered_To="reply+1.0123456789abcdef@reply.example.org",
        X_Original_To="Reply <reply+1.0123456789abcdef@reply.example.org>, other@example.org",
    )
    assert imap.envelope(raw) == (
        "marie@example.org",
        ["reply+1.0123456789abcdef@reply.example.org", "other@example.org"],
    )
    bounce = message("<dsn@example.org>").replace(
        b"Return-Path: <marie@example.org>", b"Return-Path: <>"
    )
    assert imap.envelope(bounce) == ("<>", [])


# -- outages ------------------------------------------------------------------------------------


def test_a_server_that_is_down_is_a_clear_connection_error(
    offline: tuple[Config, Database],
) -> None:
    config, database = offline
    port = _free_port()  # nothing listens there
    settings = config.with_overrides(imap_url=f"imap://u:secret@{HOST}:{port}/INBOX")
    with pytest.raises(ImapUnavailable, match=f"cannot connect.*{HOST}:{port}.*AMORCE_IMAP_URL"):
        poll_once(settings, database, None)


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(
    offline: tuple[Config, Database], mailbox: Dovecot
) -> None:
    config, database = offline
    settings = config.with_overrides(imap_url=mailbox.url(password="wrong-secret"))
    with pytest.raises(ImapUnavailable, match="refused the login of 'amorce'") as error:
        poll_once(settings, database, None)
    assert "wrong-secret" not in str(error.value)


def _wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_run_survives_a_refused_connection_and_returns_when_stopped(
    offline: tuple[Config, Database], caplog: pytest.LogCaptureFixture
) -> None:
    config, database = offline
    caplog.set_level(logging.WARNING, logger="webapp.receivers.imap")
    settings = config.with_overrides(
        imap_url=f"imap://u:secret@{HOST}:{_free_port()}/INBOX", imap_poll_seconds=0.01
    )
    stop = threading.Event()
    poller = threading.Thread(target=run, args=(settings, database, None, stop), daemon=True)
    poller.start()
    _wait_until(lambda: caplog.text.count("IMAP poll failed") >= 3)
    assert poller.is_alive(), "an outage never stops the poller"
    stop.set()
    poller.join(timeout=5)
    assert not poller.is_alive()


def test_run_stores_what_arrives_until_stopped(
    database: Database, config: Config, mailbox: Dovecot
) -> None:
    settings = config.with_overrides(imap_url=mailbox.url(), imap_poll_seconds=0.05)
    stop = threading.Event()
    poller = threading.Thread(target=run, args=(settings, database, None, stop), daemon=True)
    poller.start()
    try:
        mailbox.append(message("<later@example.org>"))
        _wait_until(lambda: mailbox.messages() == [("<later@example.org>", FLAGGED)])
    finally:
        stop.set()
        poller.join(timeout=5)
    assert not poller.is_alive()
    with database.session() as session:
        assert session.scalar(select(func.count(InboundMessage.id))) == 1


# -- the URL ------------------------------------------------------------------------------------


def test_the_url_gives_the_settings() -> None:
    plain = ImapSettings.from_url("imap://amorce%40example.org:p%40ss%2Fw%20rd@mail.example.org")
    assert (plain.user, plain.password, plain.host, plain.port, plain.folder) == (
        "amorce@example.org",
        "p@ss/w rd",
        "mail.example.org",
        143,
        "INBOX",
    )
    assert (plain.tls, plain.starttls) == (False, False)
    assert "p@ss" not in repr(plain)
    secure = ImapSettings.from_url("imaps://u:p@mail.example.org/Amorce%20replies")
    assert (secure.port, secure.folder, secure.tls) == (993, "Amorce replies", True)
    upgraded = ImapSettings.from_url("imap://u:p@mail.example.org:1143/INBOX?starttls=1")
    assert (upgraded.port, upgraded.tls, upgraded.starttls) == (1143, False, True)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://u:hunter2@mail.example.org/INBOX",
        "imap://mail.example.org/INBOX",
        "imap://u@mail.example.org/INBOX",
        "imap://u:hunter2@/INBOX",
        "imap://u:hunter2@mail.example.org:port/INBOX",
        "imap://u:hunter2@mail.example.org:99999/INBOX",
        "imap://u:hunter2@mail.example.org/INBOX?tls=1",
        "imap://u:hunter2@mail.example.org/INBOX?starttls=maybe",
        "imaps://u:hunter2@mail.example.org/INBOX?starttls=1",
        "imap://u:hunt#er2@mail.example.org/INBOX",
    ],
)
def test_a_malformed_url_is_a_config_error_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="AMORCE_IMAP_URL") as error:
        ImapSettings.from_url(url)
    assert "hunter2" not in str(error.value)


def test_the_done_folder_must_differ_from_the_folder_read(
    offline: tuple[Config, Database],
) -> None:
    config, database = offline
    settings = config.with_overrides(
        imap_url="imap://u:p@127.0.0.1:1/INBOX", imap_done_folder="INBOX"
    )
    with pytest.raises(ConfigError, match="AMORCE_IMAP_DONE_FOLDER"):
        poll_once(settings, database, None)


def test_a_reply_someone_read_in_the_mailbox_first_is_still_stored(
    database: Database, config: Config, mailbox: Dovecot
) -> None:
    settings = config.with_overrides(imap_url=mailbox.url())
    mailbox.append(message("<read-first@example.org>"))
    with mailbox.client() as client:  # a coordinator opens it in their mail client
        client.select_folder("INBOX")
        client.add_flags(client.search("ALL"), [SEEN])
    assert poll_once(settings, database, None) == 1
    assert mailbox.messages() == [("<read-first@example.org>", FLAGGED)]
