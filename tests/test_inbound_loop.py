"""Two Amorce instances pointed at each other never keep each other busy (RELIABILITY R1).

Each instance's prospect is the other instance's signed reply address, both acknowledge replies,
and each one sends its mail to the other's SMTP receiver. A person's reply to A earns one
acknowledgement, which B reads as automatic and leaves unanswered: the exchange stops there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from builders import community_with_people
from inbound_mail import reply_to
from sink import ACTIVE_PORTS, _free_port
from sqlalchemy import func, select, update

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.migrate import upgrade
from webapp.models import Delivery, InboundMessage, Person
from webapp.receivers.smtp import start_receiver
from webapp.services import campaigns
from webapp.services.inbound import pipeline, signed_address
from workers.campaigns import drain_with
from workers.inbound import process_with


@dataclass
class Instance:
    config: Config
    database: Database
    delivery_id: int = 0
    campaign_id: int = 0


def _prepare(instance: Instance) -> None:
    """A community acknowledging replies, one prospect, a launched (not yet sent) campaign."""
    with instance.database.session() as session:
        community_id = community_with_people(
            session, "email\nplaceholder@example.org\n", acknowledge_replies=True
        )
        instance.campaign_id = campaigns.create_campaign(session, community_id)
        campaigns.launch_campaign(session, instance.campaign_id)
    with instance.database.session() as session:
        instance.delivery_id = session.scalars(select(Delivery.id)).one()


def _set_prospect(instance: Instance, email: str) -> None:
    with instance.database.session() as session:
        session.execute(update(Person).values(email=email))


def _received(instance: Instance) -> int:
    with instance.database.session() as session:
        return int(session.scalar(select(func.count(InboundMessage.id))) or 0)


def _settle(*instances: Instance) -> None:
    """Process what each instance received until nothing new arrives anywhere."""
    for _round in range(10):
        work = False
        for instance in instances:
            with instance.database.session() as session:
                ids = pipeline.pending_ids(session)
            for inbound_id in ids:
                process_with(instance.config, instance.database, inbound_id)
                work = True
        if not work:
            return
    pytest.fail("the two instances are still exchanging mail after 10 rounds")


@pytest.fixture
def pair(database: Database, config: Config, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    other = Database(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(other.engine)
    ports = (_free_port(), _free_port())
    a = Instance(
        config.with_overrides(
            secret_key="a" * 32,
            reply_domain="a.example.org",
            mail_from="A <amorce@a.example.org>",
            smtp_url=f"smtp://127.0.0.1:{ports[1]}",
        ),
        database,
    )
    b = Instance(
        config.with_overrides(
            secret_key="b" * 32,
            reply_domain="b.example.org",
            mail_from="B <amorce@b.example.org>",
            database_url=other.url,
            smtp_url=f"smtp://127.0.0.1:{ports[0]}",
        ),
        other,
    )
    receivers = [
        start_receiver(a.config, a.database, None, port=ports[0]),
        start_receiver(b.config, b.database, None, port=ports[1]),
    ]
    ACTIVE_PORTS.update(ports)
    yield a, b
    ACTIVE_PORTS.difference_update(ports)
    for receiver in receivers:
        receiver.stop()
    other.dispose()


def test_two_instances_exchange_at_most_one_message_each_way(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    _prepare(a)
    _prepare(b)
    # Each prospect is the other instance's signed reply address.
    a_address = signed_address(a.config, "reply", a.delivery_id)
    b_address = signed_address(b.config, "reply", b.delivery_id)
    _set_prospect(a, b_address)
    _set_prospect(b, a_address)
    renderer = EmailRenderer()
    for instance in (a, b):
        while drain_with(instance.config, instance.database, instance.campaign_id, renderer):
            pass
    _settle(a, b)
    # Each campaign message reached the other side, which read it as bulk mail and stayed silent.
    assert (_received(a), _received(b)) == (1, 1)

    # Now a person answers A's campaign in their own words.
    with a.database.session() as session:
        pipeline.receive(
            session,
            reply_to_address(a_address, b_address),
            channel="smtp",
            recipients=[a_address],
        )
    _settle(a, b)
    # A acknowledged once; B read the acknowledgement as automatic and sent nothing back.
    assert _received(b) == 2  # the campaign message, then the one acknowledgement
    assert _received(a) == 2  # B's campaign message, then the person's reply: nothing from B
    with b.database.session() as session:
        kinds = session.scalars(select(InboundMessage.kind).order_by(InboundMessage.id)).all()
    assert kinds == ["auto_reply", "auto_reply"]


def reply_to_address(to: str, sender: str) -> bytes:
    """A person's short reply, as their client would send it."""
    original = EmailMessage()
    original["From"] = "A <amorce@a.example.org>"
    original["To"] = sender
    original["Reply-To"] = to
    original["Subject"] = "Communauté"
    original["Message-ID"] = "<original@a.example.org>"
    original.set_content("Êtes-vous intéressé·e ?")
    return reply_to(original, "Oui, avec plaisir !")
