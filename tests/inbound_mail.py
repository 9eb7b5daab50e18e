"""Helpers for the inbound tests: a campaign really sent through the sink, and replies to it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from builders import community_with_people
from sink import Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import Membership, Person
from webapp.services import campaigns
from workers.campaigns import drain_with

REPLY_DOMAIN = "reply.example.org"
PEOPLE = """email,first_name,language
marie@example.org,Marie,fr
bob@example.org,Bob,en
chloe@example.org,Chloé,fr
"""


def sent_campaign(
    database: Database, config: Config, sink: Sink, *, kind: str = "recruitment", **fields: object
) -> tuple[int, int]:
    """A community with three prospects and a campaign sent to them through ``sink``.

    ``config`` must already point at the sink and carry a reply domain.
    """
    with database.session() as session:
        community_id = community_with_people(session, PEOPLE, **fields)
        campaign_id = campaigns.create_campaign(session, community_id, kind=kind)
        campaigns.launch_campaign(session, campaign_id)
    renderer = EmailRenderer()
    while drain_with(config, database, campaign_id, renderer):
        pass
    return community_id, campaign_id


def received(sink: Sink, address: str) -> EmailMessage:
    """The one message the sink received for ``address``."""
    found = sink.to(address)
    assert len(found) == 1, f"{len(found)} messages to {address}"
    return found[0]


def reply_to(
    original: EmailMessage, text: str, *, sender: str | None = None, **headers: str
) -> bytes:
    """A person's reply to ``original``: the new text above a Gmail-style French quote."""
    reply = EmailMessage()
    reply["From"] = sender or str(original["To"])
    reply["To"] = headers.pop("to", None) or str(original["Reply-To"])
    reply["Subject"] = f"Re: {original['Subject']}"
    reply["Message-ID"] = make_msgid(domain="mail.example.org")
    reply["In-Reply-To"] = str(original["Message-ID"])
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    body = original.get_body(("plain",))
    quoted = "\n".join(f"> {line}" for line in body.get_content().splitlines()) if body else ""
    reply.set_content(
        f"{text}\n\nLe lun. 23 nov. 2026 à 10:02, {original['From']} a écrit :\n{quoted}\n",
        cte="quoted-printable",
    )
    return reply.as_bytes()


def membership_state(database: Database, email: str) -> str:
    """The membership state of the person with this address (in their only community)."""
    with database.session() as session:
        return session.execute(
            select(Membership.state)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == email)
        ).scalar_one()
