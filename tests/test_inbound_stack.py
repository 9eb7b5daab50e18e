"""Replies end to end: `amorce inbound smtp`, the webhook and `amorce inbound imap` (a real
Dovecot) receive; a real Celery worker reads them and applies what they say."""

from __future__ import annotations

import json
import smtplib
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from dovecot import Dovecot
from inbound_mail import REPLY_DOMAIN, membership_state, received, reply_to, sent_campaign
from processes import STACK_DB, WORKER, redis_db, start_process, stop_process, subprocess_env
from sink import ACTIVE_PORTS, Sink, _free_port
from sqlalchemy import select
from test_stack_integration import amorce

from webapp import create_app
from webapp.config import Config
from webapp.db import Database
from webapp.models import InboundMessage

pytestmark = pytest.mark.integration

SECRET = "s" * 40  # the subprocesses' AMORCE_SECRET_KEY: it signs the reply addresses
HOOK_SECRET = "hook-" + "k" * 27


@pytest.fixture
def stack(database: Database, smtp_sink: Sink, tmp_path: Path) -> dict[str, str]:
    db_number = redis_db(STACK_DB)
    redis.Redis(host="127.0.0.1", port=6379, db=db_number).flushdb()
    return subprocess_env(
        database_url=database.url,
        broker_url=f"redis://127.0.0.1:6379/{db_number}",
        smtp_url=smtp_sink.url,
        instance=tmp_path / "instance",
        reply_domain=REPLY_DOMAIN,
        inbound_secret=HOOK_SECRET,
        sweep_seconds="2",
    )


@pytest.fixture
def worker(stack: dict[str, str], tmp_path: Path) -> Iterator[None]:
    process = start_process(WORKER, stack, tmp_path / "worker.log")
    yield
    stop_process(process)


@pytest.fixture
def receiver(stack: dict[str, str], tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    process = start_process(
        [sys.executable, "-m", "webapp.cli", "inbound", "smtp", "--port", str(port)],
        stack,
        tmp_path / "receiver.log",
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert process.poll() is None, (tmp_path / "receiver.log").read_text()
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.1)
    ACTIVE_PORTS.add(port)  # let the test's SMTP guard through to the receiver
    yield port
    ACTIVE_PORTS.discard(port)
    stop_process(process)


def wait_for_state(database: Database, email: str, state: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while membership_state(database, email) != state:
        if time.monotonic() > deadline:
            with database.session() as session:
                received_rows = session.execute(
                    select(InboundMessage.channel, InboundMessage.state, InboundMessage.kind)
                ).all()
            pytest.fail(f"{email} is still {membership_state(database, email)}: {received_rows}")
        time.sleep(0.2)


def test_replies_through_smtp_the_webhook_and_imap_change_people_with_a_real_worker(
    database: Database,
    config: Config,
    smtp_sink: Sink,
    stack: dict[str, str],
    worker: None,
    receiver: int,
    mailbox: Dovecot,
) -> None:
    settings = config.with_overrides(
        secret_key=SECRET, smtp_url=smtp_sink.url, reply_domain=REPLY_DOMAIN
    )
    sent_campaign(database, settings, smtp_sink)
    marie = received(smtp_sink, "marie@example.org")
    bob = received(smtp_sink, "bob@example.org")

    with smtplib.SMTP("127.0.0.1", receiver, timeout=10) as client:
        # Not one of Amorce's signed addresses: refused, nothing relayed.
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("x@example.net", ["someone@example.com"], b"Subject: relay?\r\n\r\nhi")
        client.sendmail(
            "marie@example.org",
            [str(marie["Reply-To"])],
            reply_to(marie, "Oui, ça m'intéresse !"),
        )
    wait_for_state(database, "marie@example.org", "interested")

    app = create_app(
        settings.with_overrides(broker_url=stack["AMORCE_BROKER_URL"], inbound_secret=HOOK_SECRET)
    )
    try:
        response = app.test_client().post(
            "/inbound/webhook",
            data=reply_to(bob, "Not interested, thanks."),
            headers={"Authorization": f"Bearer {HOOK_SECRET}", "Content-Type": "message/rfc822"},
        )
    finally:
        app.extensions["amorce"].database.dispose()
    assert response.status_code == 202, response.data
    wait_for_state(database, "bob@example.org", "not_interested")

    # Chloé's reply lands in a mailbox that `amorce inbound imap` polls.
    chloe = received(smtp_sink, "chloe@example.org")
    mailbox.append(reply_to(chloe, "Avec plaisir, je suis partante !"))
    polled = amorce({**stack, "AMORCE_IMAP_URL": mailbox.url()}, "inbound", "imap", "--once")
    assert "1 new message" in polled
    wait_for_state(database, "chloe@example.org", "interested")

    listed = json.loads(amorce(stack, "inbound", "list", "cop", "--format", "json"))
    assert [(m["kind"], m["intent"], m["person"], m["action"]) for m in listed] == [
        ("reply", "interested", "chloe@example.org", "marked_interested"),
        ("reply", "not_interested", "bob@example.org", "marked_not_interested"),
        ("reply", "interested", "marie@example.org", "marked_interested"),
    ]
    assert all(m["message_id"] and m["received_at"] and m["confidence"] > 0.8 for m in listed)
