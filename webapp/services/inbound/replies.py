"""Mail Amorce writes back: the optional acknowledgement, and a coordinator's answer.

An acknowledgement goes only to a person's own attributed reply, at most once a day per person,
with ``Auto-Submitted: auto-replied`` and a null return path (RFC 3834), so that two robots can
never keep each other busy (R1). Both carry the signed reply address of the original delivery,
so that the person's next reply is attributed as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.i18n import pick_locale
from webapp.mail import (
    EmailRenderer,
    OutgoingMessage,
    address_header,
    build_message,
    envelope_address,
    markdown_to_html,
)
from webapp.models import (
    Community,
    Delivery,
    InboundKind,
    InboundMessage,
    Person,
    TokenPurpose,
    utcnow,
)
from webapp.services import suppressions, tokens
from webapp.services.communities import sender_of
from webapp.services.errors import N_, DomainError, NotFound

from .addresses import signed_address

ACK_INTERVAL = timedelta(days=1)
ANSWER_LEASE = timedelta(minutes=5)  # a sending task silent this long is taken for dead
MAX_ANSWER = 10_000


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the SMTP connection."""

    message: OutgoingMessage
    envelope_from: str
    recipient: str


def _parties(session: Session, row: InboundMessage) -> tuple[Community, Person, Delivery] | None:
    if row.community_id is None or row.person_id is None or row.delivery_id is None:
        return None
    community = session.get(Community, row.community_id)
    person = session.get(Person, row.person_id)
    delivery = session.get(Delivery, row.delivery_id)
    if community is None or person is None or delivery is None:
        return None
    if suppressions.is_suppressed(session, community.id, person.email):
        return None
    return community, person, delivery


def _reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    return subject if subject.lower().startswith(("re:", "re :")) else f"Re: {subject}".strip()


def _compose(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    row: InboundMessage,
    parties: tuple[Community, Person, Delivery],
    template: str,
    values: dict[str, object],
    headers: dict[str, str],
) -> OutgoingMessage:
    community, person, delivery = parties
    locale = pick_locale(person.language, community.language)
    token = tokens.issue_token(
        session,
        person_id=person.id,
        community_id=community.id,
        purpose=TokenPurpose.RESPOND,
        lifetime_days=config.token_lifetime_days,
        delivery_id=delivery.id,
    )
    rendered = renderer.render(
        template,
        locale,
        {
            "subject": _reply_subject(row.subject),
            "first_name": person.first_name,
            "community_name": community.name,
            "unsubscribe_url": f"{config.base_url}/u/{token}",
            "sender": sender_of(community),
            **values,
        },
    )
    extra = {
        "Reply-To": signed_address(config, "reply", delivery.id)
        if config.reply_domain
        else community.contact_email,
        **headers,
    }
    if row.message_id:
        extra["In-Reply-To"] = row.message_id
        extra["References"] = row.message_id
    domain = config.reply_domain or envelope_address(config.mail_from).rpartition("@")[2]
    return build_message(
        rendered,
        from_header=address_header(
            community.sender_name or community.name, envelope_address(config.mail_from)
        ),
        to_header=address_header(person.display_name, person.email),
        headers={k: v for k, v in extra.items() if v},
        message_id_domain=domain or "localhost",
    )


def acknowledging(session: Session, ids: list[int]) -> list[int]:
    """Which of these messages are replies to a community that acknowledges them (one query)."""
    if not ids:
        return []
    return list(
        session.scalars(
            select(InboundMessage.id)
            .join(Community, Community.id == InboundMessage.community_id)
            .where(
                InboundMessage.id.in_(ids),
                InboundMessage.kind == InboundKind.REPLY,
                Community.acknowledge_replies.is_(True),
            )
        )
    )


def acknowledgement(
    session: Session, config: Config, renderer: EmailRenderer, inbound_id: int
) -> Outgoing | None:
    """The acknowledgement a reply earns, marked as sent before it goes (at most once); None
    when the community does not send them or the message does not deserve one."""
    row = session.get(InboundMessage, inbound_id)
    if row is None or row.kind != InboundKind.REPLY or row.acknowledged_at is not None:
        return None
    parties = _parties(session, row)
    if parties is None or not parties[0].acknowledge_replies:
        return None
    recent = session.scalar(
        select(InboundMessage.id)
        .where(
            InboundMessage.person_id == row.person_id,
            InboundMessage.acknowledged_at > utcnow() - ACK_INTERVAL,
        )
        .limit(1)
    )
    if recent is not None:
        return None
    message = _compose(
        session,
        config,
        renderer,
        row,
        parties,
        "reply_acknowledgement",
        {},
        {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    row.acknowledged_at = utcnow()
    session.commit()
    return Outgoing(message, "", parties[1].email)


def queue_answer(session: Session, inbound_id: int, text: str, *, user_id: int) -> None:
    """Keep a coordinator's answer to a message; a worker sends it."""
    row = session.get(InboundMessage, inbound_id)
    if row is None:
        raise NotFound(N_("No such message."))
    if row.kind in (InboundKind.BOUNCE, InboundKind.AUTO_REPLY):
        raise DomainError(N_("Amorce never answers bounces and automatic replies."))
    text = text.strip()
    if not text:
        raise DomainError(N_("Write an answer first."))
    if len(text) > MAX_ANSWER:
        raise DomainError(N_("The answer is too long."))
    if row.person_id is None or row.delivery_id is None:
        raise DomainError(
            N_("This message is not attributed to anyone: answer from your own mailbox.")
        )
    if row.answered_at is not None or row.answer_queued_at is not None:
        raise DomainError(N_("This message has already been answered."))
    person = session.get(Person, row.person_id)
    if person is None or (
        row.community_id is not None
        and suppressions.is_suppressed(session, row.community_id, person.email)
    ):
        raise DomainError(
            N_(
                "This person has unsubscribed or their address is suppressed: Amorce no longer "
                "writes to them."
            )
        )
    row.answer_text = text
    row.answer_queued_at = utcnow()
    row.error = ""
    row.needs_review = False
    row.reviewed_at = row.reviewed_at or utcnow()
    row.reviewed_by_id = user_id


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        InboundMessage.answer_queued_at.is_not(None),
        InboundMessage.answered_at.is_(None),
        or_(
            InboundMessage.answer_claimed_at.is_(None),
            InboundMessage.answer_claimed_at < now - ANSWER_LEASE,
        ),
    )


def claim_answer(session: Session, inbound_id: int) -> bool:
    """Take the sending of an answer for this worker (so that two tasks never both send)."""
    now = utcnow()
    taken = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, _claimable(now))
        .values(answer_claimed_at=now)
    )
    session.commit()
    return bool(getattr(taken, "rowcount", 0))


def release_answer(session: Session, inbound_id: int) -> None:
    """The send failed: let a retry take it again."""
    session.rollback()
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == inbound_id, InboundMessage.answered_at.is_(None))
        .values(answer_claimed_at=None)
    )
    session.commit()


def answer_message(
    session: Session, config: Config, renderer: EmailRenderer, inbound_id: int
) -> Outgoing | None:
    """The coordinator's queued answer as a message, or None when there is none left to send."""
    row = session.get(InboundMessage, inbound_id)
    if row is None or row.answer_queued_at is None or row.answered_at is not None:
        return None
    parties = _parties(session, row)
    if parties is None:
        # Unsubscribed since, or gone: it will never leave, so it stops waiting (and says why).
        row.answer_queued_at = None
        row.answer_claimed_at = None
        row.error = "answer not sent: the person can no longer be written to"
        session.commit()
        return None
    message = _compose(
        session,
        config,
        renderer,
        row,
        parties,
        "inbox_answer",
        {
            "answer_text": row.answer_text,
            "answer_html": markdown_to_html(row.answer_text),
            "quoted": row.text,
        },
        {},
    )
    session.commit()  # the link's token
    return Outgoing(message, envelope_address(config.mail_from), parties[1].email)


def answer_refused(session: Session, inbound_id: int, code: int, reply: bytes | str) -> bool:
    """The person's server refused the answer. A 5xx is final: the answer stops waiting and
    says why (True); a 4xx hands it back for a later try (False)."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    if code < 500:
        release_answer(session, inbound_id)
        return False
    row = session.get(InboundMessage, inbound_id)
    if row is not None:
        row.answer_queued_at = None
        row.answer_claimed_at = None
        row.error = f"answer refused: {code} {text}"[:2000]
        session.commit()
    return True


def mark_answered(session: Session, inbound_id: int) -> None:
    """The answer went out."""
    row = session.get(InboundMessage, inbound_id)
    if row is not None:
        row.answered_at = utcnow()
        session.commit()


def unsent_answers(session: Session, *, older_than: float) -> list[int]:
    """Answers queued this long ago, still not sent and held by no live task (lost tasks)."""
    now = utcnow()
    return list(
        session.scalars(
            select(InboundMessage.id).where(
                InboundMessage.answer_queued_at <= now - timedelta(seconds=older_than),
                _claimable(now),
            )
        )
    )
