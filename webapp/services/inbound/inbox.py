"""The coordinator's inbox: a community's received messages, their review and correction.

Only an attributed message (a signed reply address, R2) can change a person; ``From:`` is shown
for what it is, a claim anyone can forge. Bounces and automatic replies are nobody's words and
are never corrected into an intent (R1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session, defer

from webapp.models import (
    AuditLog,
    InboundKind,
    InboundMessage,
    InboundState,
    Intent,
    Membership,
    Person,
    User,
    utcnow,
)
from webapp.services.errors import N_, DomainError, NotFound

from . import pipeline, replies
from .actions import apply_intent
from .text import body_text, mask_links

FILTERS = ("all", "review", "questions", "unattributed")
UNSUBSCRIBE = "unsubscribe"  # a correction that is not an intent: stop writing to the person
CORRECTIONS = (*(intent.value for intent in Intent), UNSUBSCRIBE)
EXCERPT = 160
MAX_ORIGINAL = 100_000  # characters of the original body shown on the message page
NOT_HUMAN = (InboundKind.BOUNCE, InboundKind.AUTO_REPLY)


@dataclass(frozen=True)
class InboxItem:
    """One message as a row of the inbox shows it."""

    id: int
    received_at: datetime
    state: str
    kind: str
    intent: str
    confidence: float
    person_email: str | None
    person_name: str | None
    sender: str  # From: as written
    sender_trusted: bool  # False when nothing but From: says who wrote it
    subject: str
    excerpt: str
    action: str | None
    needs_review: bool
    reviewed: bool
    answer: str  # "" (none), "queued" or "sent"
    error: str

    @property
    def attributed(self) -> bool:
        """Whether a signed reply address ties the message to a person."""
        return self.person_email is not None


@dataclass(frozen=True)
class MessageDetail:
    """One message in full: what Amorce read, the new text and the original body."""

    item: InboxItem
    reason: str
    channel: str
    text: str
    original: str | None  # None once the raw message was purged (retention, P3)
    answer_text: str
    answer_queued_at: datetime | None
    answered_at: datetime | None
    reviewed_at: datetime | None
    reviewed_by: str | None

    @property
    def can_correct(self) -> bool:
        """Whether a coordinator may set what the message means."""
        return correction_refusal(self.item.kind, self.item.state, self.item.attributed) is None

    @property
    def can_answer(self) -> bool:
        """Whether Amorce can carry an answer to the person who wrote it."""
        return (
            self.item.attributed
            and self.item.kind not in NOT_HUMAN
            and self.item.state == InboundState.PROCESSED
            and not self.item.answer
        )


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def _answer_state(row: InboundMessage) -> str:
    if row.answered_at is not None:
        return "sent"
    return "queued" if row.answer_queued_at is not None else ""


def _item(row: InboundMessage, person: Person | None) -> InboxItem:
    return InboxItem(
        id=row.id,
        received_at=row.received_at,
        state=row.state,
        kind=row.kind,
        intent=row.intent,
        confidence=row.confidence,
        person_email=person.email if person else None,
        person_name=person.display_name if person else None,
        sender=row.sender,
        sender_trusted=person is not None,
        subject=row.subject,
        excerpt=_excerpt(row.text),
        action=row.action,
        needs_review=row.needs_review,
        reviewed=row.reviewed_at is not None,
        answer=_answer_state(row),
        error=row.error,
    )


def _awaiting_answer() -> ColumnElement[bool]:
    return and_(
        InboundMessage.intent == Intent.QUESTION,
        InboundMessage.person_id.is_not(None),
        InboundMessage.needs_review.is_(True),
        InboundMessage.answer_queued_at.is_(None),
        InboundMessage.answered_at.is_(None),
    )


def _filtered(query: Select[InboundMessage, Person], name: str) -> Select[InboundMessage, Person]:
    if name == "review":
        return query.where(InboundMessage.needs_review.is_(True))
    if name == "questions":
        return query.where(_awaiting_answer())
    if name == "unattributed":
        return query.where(InboundMessage.kind == InboundKind.UNATTRIBUTED)
    return query


def inbox(
    session: Session, community_id: int, *, filter: str = "all", limit: int = 100, offset: int = 0
) -> list[InboxItem]:
    """A community's messages, those waiting for the coordinator first, then newest first."""
    if filter not in FILTERS:
        raise DomainError(N_("Unknown filter %(name)s."), name=repr(filter))
    query = (
        select(InboundMessage, Person)
        .outerjoin(Person, Person.id == InboundMessage.person_id)
        .options(defer(InboundMessage.raw))
        .where(InboundMessage.community_id == community_id)
        .order_by(
            InboundMessage.needs_review.desc(),
            InboundMessage.received_at.desc(),
            InboundMessage.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    return [_item(row, person) for row, person in session.execute(_filtered(query, filter))]


def inbox_counts(session: Session, community_id: int) -> dict[str, int]:
    """How many messages in all, to review, questions awaiting an answer, not attributed."""
    found = session.execute(
        select(
            func.count(InboundMessage.id),
            func.coalesce(func.sum(case((InboundMessage.needs_review.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((_awaiting_answer(), 1), else_=0)), 0),
            func.coalesce(
                func.sum(case((InboundMessage.kind == InboundKind.UNATTRIBUTED, 1), else_=0)), 0
            ),
        ).where(InboundMessage.community_id == community_id)
    ).one()
    return {
        "total": int(found[0]),
        "review": int(found[1]),
        "questions": int(found[2]),
        "unattributed": int(found[3]),
    }


def _message(session: Session, community_id: int, inbound_id: int) -> InboundMessage:
    row = session.get(InboundMessage, inbound_id)
    if row is None or row.community_id != community_id:
        raise NotFound(N_("No such message."))
    return row


def correction_refusal(kind: str, state: str, attributed: bool) -> str | None:
    """Why a message's reading cannot be corrected (an untranslated message), or None."""
    if kind in NOT_HUMAN:
        return N_("Bounces and automatic replies cannot be corrected: nobody wrote them.")
    if state == InboundState.FAILED:
        return N_("Amorce could not read this message: deal with it yourself, then dismiss it.")
    if state != InboundState.PROCESSED:
        return N_("Amorce is still reading this message: try again in a moment.")
    if not attributed or kind == InboundKind.UNATTRIBUTED:
        return N_(
            "This message is not attributed to anyone: its From: can be forged, so it "
            "changes nothing. Contact the person from your own mailbox."
        )
    return None


def correct_intent(
    session: Session, community_id: int, inbound_id: int, intent: str, *, user_id: int
) -> str | None:
    """Set what a message means, as a coordinator read it, and apply it; the action taken.

    ``intent`` is an :class:`Intent` or ``"unsubscribe"``. The caller commits.
    """
    row = _message(session, community_id, inbound_id)
    if intent not in CORRECTIONS:
        raise DomainError(N_("Choose one of the offered readings."))
    refusal = correction_refusal(row.kind, row.state, row.person_id is not None)
    if refusal is not None:
        raise DomainError(refusal)
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == row.person_id
        )
    )
    if membership is None:
        raise DomainError(N_("This person is no longer part of the community."))
    before = {"intent": row.intent, "kind": row.kind, "confidence": row.confidence}
    unsubscribe = intent == UNSUBSCRIBE
    row.intent = Intent.NOT_INTERESTED if unsubscribe else intent
    if unsubscribe:
        row.kind = InboundKind.UNSUBSCRIBE
    row.confidence = 1.0
    action = apply_intent(
        session, membership, row.intent, unsubscribe=unsubscribe, actor=f"user:{user_id}"
    )
    if action is not None:
        row.action = action
    _reviewed(row, user_id)
    # A question stays in the inbox until it is answered or dismissed.
    row.needs_review = row.intent == Intent.QUESTION and not _answer_state(row)
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"user:{user_id}",
            action="inbound.corrected",
            details={
                "inbound_id": row.id,
                "before": before,
                "intent": row.intent,
                "choice": intent,
                "action": action,
            },
        )
    )
    return action


def dismiss(session: Session, community_id: int, inbound_id: int, *, user_id: int) -> None:
    """Mark a message as seen, without changing anything else. The caller commits."""
    row = _message(session, community_id, inbound_id)
    _reviewed(row, user_id)
    row.needs_review = False
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"user:{user_id}",
            action="inbound.dismissed",
            details={"inbound_id": row.id, "intent": row.intent, "kind": row.kind},
        )
    )


def record_answer(
    session: Session, community_id: int, inbound_id: int, text: str, *, user_id: int
) -> None:
    """Keep a coordinator's answer to a message of the community; the caller commits, then
    queues ``inbound.send_answer``."""
    _message(session, community_id, inbound_id)
    replies.queue_answer(session, inbound_id, text, user_id=user_id)


def _reviewed(row: InboundMessage, user_id: int) -> None:
    row.reviewed_at = utcnow()
    row.reviewed_by_id = user_id


def message_detail(session: Session, community_id: int, inbound_id: int) -> MessageDetail:
    """One message of the community with its new text and its original body."""
    row = _message(session, community_id, inbound_id)
    person = session.get(Person, row.person_id) if row.person_id is not None else None
    reviewer = session.get(User, row.reviewed_by_id) if row.reviewed_by_id is not None else None
    original = None
    if row.raw is not None:
        body = body_text(pipeline.parse(row.raw))[:MAX_ORIGINAL]
        original = mask_links(body)
    return MessageDetail(
        item=_item(row, person),
        reason=row.reason,
        channel=row.channel,
        text=row.text,
        original=original,
        answer_text=row.answer_text,
        answer_queued_at=row.answer_queued_at,
        answered_at=row.answered_at,
        reviewed_at=row.reviewed_at,
        reviewed_by=reviewer.email if reviewer else None,
    )
