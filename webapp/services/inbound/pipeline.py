"""The inbound pipeline: store a received message once, then read it and act on it.

Every receiver (SMTP, IMAP, webhook, the development mailbox) calls :func:`receive`, which keeps
the raw bytes and deduplicates by Message-ID; a worker then takes a batch with :func:`claim` and
reads it with :func:`process_claimed`: attribution by the signed address (R2), then bounce (R3),
calendar reply, automatic mail (R1), unsubscribe address, and finally a person's own words,
whose new text gives an intent and a confidence (R4). Only a sure reading of an attributed
message changes anything; the rest waits in the inbox.
"""

from __future__ import annotations

import email
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.models import (
    AuditLog,
    Campaign,
    CampaignKind,
    CharterStage,
    Community,
    Delivery,
    InboundKind,
    InboundMessage,
    InboundState,
    Intent,
    Meeting,
    Membership,
    Person,
    utcnow,
)
from webapp.services import meetings, statements
from webapp.services.errors import N_, DomainError

from .actions import apply_bounce, apply_intent
from .addresses import Attribution, attribute, candidate_addresses
from .automatic import automatic_reason
from .bounces import BounceReport, is_delivery_report, read_bounce
from .calendar import calendar_reply
from .text import AUTO_THRESHOLD, mask_links, new_text, read_intent, reply_text

log = logging.getLogger(__name__)


class MessageTooLarge(DomainError):
    """A received message over :data:`MAX_MESSAGE_BYTES`."""


MAX_MESSAGE_BYTES = 10 * 1024 * 1024
INLINE_FACTOR = 0.8
BATCH = 100  # messages a worker claims, reads and commits together
STALE_CLAIM = timedelta(minutes=5)  # a processing claim older than this is a dead worker's
_HEADERS = BytesHeaderParser(policy=policy.compat32)


def dedupe_key(raw: bytes, message_id: str) -> str:
    """One key per message: its Message-ID when it has one, else its bytes."""
    if message_id:
        return hashlib.sha256(b"mid:" + message_id.strip().encode()).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def _header(value: object, limit: int) -> str:
    text = str(value or "")
    try:
        text = str(email.header.make_header(email.header.decode_header(text)))
    except Exception:  # a malformed encoded word: keep the header as it came
        pass
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split())[:limit]


def receive(
    session: Session,
    raw: bytes,
    *,
    channel: str,
    envelope_from: str = "",
    recipients: Sequence[str] = (),
) -> int | None:
    """Store a received message; its id, or None when the same message was already stored.

    The caller commits, then queues ``inbound.drain``. ``envelope_from`` is the
    SMTP ``MAIL FROM``: ``"<>"`` for a null sender, empty when unknown.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(N_("The message is larger than 10 MB."))
    headers = _HEADERS.parsebytes(raw[:65536], headersonly=True)
    message_id = _header(headers.get("Message-ID"), 300)
    values = {
        "dedupe_key": dedupe_key(raw, message_id),
        "message_id": message_id,
        "channel": channel,
        "envelope_from": _header(envelope_from, 320),
        "recipients": "\n".join(_header(r, 320) for r in recipients)[:4000],
        "raw": raw,
        "size": len(raw),
        "state": InboundState.RECEIVED,
        "received_at": utcnow(),
        "subject": _header(headers.get("Subject"), 300),
        "sender": _header(headers.get("From"), 320),
        "kind": "",
        "intent": Intent.UNKNOWN,
        "confidence": 0.0,
        "reason": "",
        "text": "",
        "needs_review": False,
        "answer_text": "",
        "error": "",
    }
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InboundMessage)
    inserted = session.execute(
        statement.values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(InboundMessage.id)
    ).scalar()
    return int(inserted) if inserted is not None else None


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        InboundMessage.state == InboundState.RECEIVED,
        and_(
            InboundMessage.state == InboundState.PROCESSING,
            InboundMessage.claimed_at < now - STALE_CLAIM,
        ),
    )


def claim(session: Session, *, ids: Sequence[int] | None = None, limit: int = BATCH) -> list[int]:
    """Take up to ``limit`` waiting messages (of ``ids`` when given) for this worker, oldest
    first, in one statement; another worker never gets the same ones."""
    now = utcnow()
    waiting = select(InboundMessage.id).where(_claimable(now))
    if ids is not None:
        waiting = waiting.where(InboundMessage.id.in_(list(ids)))
    waiting = waiting.order_by(InboundMessage.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        waiting = waiting.with_for_update(skip_locked=True)
    taken = session.scalars(
        update(InboundMessage)
        .where(InboundMessage.id.in_(waiting), _claimable(now))
        .values(state=InboundState.PROCESSING, claimed_at=now)
        .returning(InboundMessage.id)
    ).all()
    session.commit()
    return sorted(int(i) for i in taken)


@dataclass
class _Context:
    """What the signed address leads to."""

    delivery: Delivery | None = None
    campaign: Campaign | None = None
    membership: Membership | None = None


def _contexts(session: Session, delivery_ids: set[int]) -> dict[int, _Context]:
    """The delivery, campaign and membership behind each id, in one query."""
    if not delivery_ids:
        return {}
    found = session.execute(
        select(Delivery, Campaign, Membership)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .join(Membership, Membership.id == Delivery.membership_id)
        .where(Delivery.id.in_(delivery_ids))
    ).all()
    return {delivery.id: _Context(delivery, campaign, m) for delivery, campaign, m in found}


def _context(session: Session, delivery_id: int | None) -> _Context:
    if delivery_id is None:
        return _Context()
    return _contexts(session, {delivery_id}).get(delivery_id, _Context())


def process_claimed(session: Session, config: Config, ids: Sequence[int]) -> list[InboundMessage]:
    """Read the claimed messages and apply what they say, then commit once.

    Never raises for a malformed message: it is kept as ``failed`` for a person to look at,
    and the others go on. A database error is raised: the claims go stale and are retried.
    """
    if not ids:
        return []
    rows = session.scalars(
        select(InboundMessage).where(InboundMessage.id.in_(list(ids))).order_by(InboundMessage.id)
    ).all()
    readings = {}
    for row in rows:
        try:
            message = parse(row.raw or b"")
            recipients = [r for r in row.recipients.splitlines() if r]
            readings[row.id] = (message, attribute(config, message, recipients))
        except Exception:  # read again below, inside its own savepoint, to be marked failed
            continue
    wanted = {a.signed.delivery_id for _, a in readings.values() if a.signed is not None}
    contexts = _contexts(session, wanted)
    now = utcnow()
    if len(readings) == len(rows):
        # Every message parsed: read them all in one go, flushed once. Should one raise, the
        # whole batch is rolled back and read again one message per savepoint, so that it fails
        # alone (a savepoint each costs a flush each: too dear for the common case).
        try:
            for row in rows:
                message, attribution = readings[row.id]
                _read_and_apply(session, config, row, message, attribution, contexts)
                row.state = InboundState.PROCESSED
                row.processed_at = now
            session.commit()
            return list(rows)
        except OperationalError:
            session.rollback()
            raise
        except Exception:
            session.rollback()
            rows = session.scalars(
                select(InboundMessage)
                .where(InboundMessage.id.in_(list(ids)))
                .order_by(InboundMessage.id)
            ).all()
            contexts = _contexts(session, wanted)
    for row in rows:
        try:
            with session.begin_nested():
                if row.id not in readings:
                    parse(row.raw or b"")  # raises what the first reading raised
                message, attribution = readings[row.id]
                _read_and_apply(session, config, row, message, attribution, contexts)
                row.state = InboundState.PROCESSED
        except OperationalError:
            session.rollback()
            raise
        except Exception as exc:  # a message we cannot read must not block the others
            log.exception("inbound message %s could not be processed", row.id)
            row.state = InboundState.FAILED
            row.needs_review = True
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            row.community_id = _community_of_failed(session, config, row)
        row.processed_at = now
    session.commit()
    return list(rows)


def _community_of_failed(session: Session, config: Config, row: InboundMessage) -> int | None:
    """Which inbox shows a message the pipeline could not read: its signed address's community,
    else the guess made for unattributed mail."""
    try:
        signed = attribute(config, parse(row.raw or b""), row.recipients.splitlines()).signed
        ctx = _context(session, signed.delivery_id if signed else None)
        if ctx.campaign is not None:
            return ctx.campaign.community_id
        return _guess_community(session, row)
    except Exception:  # unreadable all the way down: it keeps no community
        return None


def parse(raw: bytes) -> Message:
    """The message object of raw bytes.

    The legacy ``compat32`` policy: the modern one re-parses a header each time it is read, and
    costs three times as much here; the few headers shown to people are decoded explicitly.
    """
    return email.message_from_bytes(raw, policy=policy.compat32)


def _read_and_apply(
    session: Session,
    config: Config,
    row: InboundMessage,
    message: Message,
    attribution: Attribution,
    contexts: dict[int, _Context],
) -> None:
    signed = attribution.signed
    ctx = contexts.get(signed.delivery_id, _Context()) if signed else _Context()
    if ctx.delivery is not None:
        row.delivery_id = ctx.delivery.id
        row.person_id = ctx.delivery.person_id
        row.community_id = ctx.campaign.community_id if ctx.campaign else None
    purpose = signed.purpose if signed and ctx.delivery else None

    bounce = _bounce(message, row, purpose)
    if bounce is not None:
        # Only the signed return path proves the report is about our message to this person.
        verp = purpose == "bounce"
        if ctx.delivery is None:
            ctx = _context(session, _delivery_by_report(session, bounce))
            if ctx.delivery is not None:
                row.delivery_id = ctx.delivery.id
                row.person_id = ctx.delivery.person_id
                row.community_id = ctx.campaign.community_id if ctx.campaign else None
        _classified(row, InboundKind.BOUNCE, reason=_severity(bounce))
        row.text = (bounce.diagnostic or bounce.status)[:2000]
        row.confidence = 1.0
        if ctx.delivery is not None:
            row.action = apply_bounce(session, ctx.delivery, bounce, row.id, trusted=verp)
        row.needs_review = not verp
        return

    calendar = calendar_reply(message)
    if calendar is not None:
        _classified(row, InboundKind.CALENDAR_REPLY, reason="imip")
        row.intent = calendar.intent
        row.confidence = 1.0
        row.text = mask_links(calendar.comment or new_text(message))[:2000]
        answerer = (
            session.get(Person, ctx.membership.person_id) if ctx.membership is not None else None
        )
        if answerer is not None and calendar.attendee != answerer.email.lower():
            # Someone else's calendar answered (a forwarded invitation): a coordinator decides.
            row.needs_review = True
            row.reason = "other_attendee"
            return
        _attributed_or_flagged(
            session, row, ctx, attribution, calendar.intent, unsubscribe=False, uid=calendar.uid
        )
        return

    automatic = automatic_reason(message, row.envelope_from or None)
    if automatic is not None or purpose == "bounce":
        _classified(row, InboundKind.AUTO_REPLY, reason=automatic or "return_path")
        row.confidence = 1.0
        return

    if purpose == "unsubscribe":
        _classified(row, InboundKind.UNSUBSCRIBE, reason="mailto")
        row.intent = Intent.NOT_INTERESTED
        row.confidence = 1.0
        row.text = mask_links(new_text(message))[:2000]
        _attributed_or_flagged(session, row, ctx, attribution, row.intent, unsubscribe=True)
        return

    text, inline = reply_text(message)
    row.text = mask_links(text)[:2000]
    if _charter_votes(session, row, ctx, text):
        return
    kind = ctx.campaign.kind if ctx.campaign else "recruitment"
    reading = read_intent(row.text, kind)
    row.intent = reading.intent
    # Answers written between quoted lines lean on the quote: a coordinator reads them.
    row.confidence = round(reading.confidence * (INLINE_FACTOR if inline else 1.0), 2)
    _classified(
        row,
        InboundKind.UNSUBSCRIBE if reading.unsubscribe else InboundKind.REPLY,
        reason="text",
    )
    _attributed_or_flagged(session, row, ctx, attribution, reading.intent, reading.unsubscribe)


def _charter_votes(session: Session, row: InboundMessage, ctx: _Context, text: str) -> bool:
    """A reply to the charter's vote that votes ("3 d'accord"): recorded; the rest of what it
    says, if anything, waits for a coordinator. False when the reply holds no vote."""
    campaign, membership = ctx.campaign, ctx.membership
    if (
        campaign is None
        or membership is None
        or campaign.kind != CampaignKind.CHARTER
        or campaign.charter_stage != CharterStage.VOTING
    ):
        return False
    try:
        with session.begin_nested():
            recorded, rest = statements.vote_by_email(
                session,
                campaign.community_id,
                membership.person_id,
                list(campaign.charter_statements or []),
                text,
            )
    except DomainError:  # the vote closed meanwhile: a coordinator reads it
        _classified(row, InboundKind.REPLY, reason="votes_closed")
        row.needs_review = True
        return True
    if not recorded:
        return False
    _classified(row, InboundKind.REPLY, reason="votes")
    row.confidence = 1.0
    row.action = "charter_votes"
    row.needs_review = bool(rest)
    audit(session, row, f"inbound:{row.id}", "inbound.charter_votes")
    return True


def _classified(row: InboundMessage, kind: str, *, reason: str) -> None:
    row.kind = kind
    row.reason = reason


def _severity(bounce: BounceReport) -> str:
    return "hard" if bounce.hard else "delayed" if bounce.delayed else "soft"


def _bounce(message: Message, row: InboundMessage, purpose: str | None) -> BounceReport | None:
    """A failure notice: a delivery report, or a notice that a null sender or the return path
    receives and that names a failed recipient (an out-of-office sent there names none)."""
    # "<>" is a null envelope sender; an empty one is unknown (IMAP, webhook): read Return-Path.
    null_sender = automatic_reason(message, row.envelope_from or None) == "null_sender"
    if not (is_delivery_report(message) or purpose == "bounce" or null_sender):
        return None
    return read_bounce(message)


def _delivery_by_report(session: Session, bounce: BounceReport) -> int | None:
    """Without a VERP address: the delivery whose Message-ID the report returns, when the failed
    recipient is indeed that delivery's person."""
    if not bounce.original_message_id:
        return None
    found = session.execute(
        select(Delivery.id, Person.email)
        .join(Person, Person.id == Delivery.person_id)
        .where(Delivery.message_id == bounce.original_message_id)
        .limit(1)
    ).first()
    if found is None or found.email.lower() not in bounce.recipients:
        return None
    return int(found.id)


def _attributed_or_flagged(
    session: Session,
    row: InboundMessage,
    ctx: _Context,
    attribution: Attribution,
    intent: str,
    unsubscribe: bool,
    *,
    uid: str = "",
) -> None:
    """Act when the message is attributed and the reading sure; otherwise leave it for review."""
    if ctx.membership is None or ctx.campaign is None:
        row.kind = InboundKind.UNATTRIBUTED
        row.reason = "forged_address" if attribution.forged else "no_signed_address"
        row.needs_review = True
        row.person_id = None
        row.community_id = row.community_id or _guess_community(session, row)
        return
    ctx.membership.answered_at = ctx.membership.answered_at or utcnow()
    if row.confidence < AUTO_THRESHOLD:
        row.needs_review = True
        return
    row.action = apply_intent(
        session,
        ctx.membership,
        intent,
        unsubscribe=unsubscribe,
        actor=f"inbound:{row.id}",
        meeting_id=_meeting_of(session, ctx.campaign, uid),
        source="calendar" if uid else "email",
    )
    # Read with confidence but nothing to apply (a question, a maybe outside an invitation, an
    # answer about no meeting): a coordinator sees it.
    row.needs_review = row.action is None


def _meeting_of(session: Session, campaign: Campaign, uid: str) -> int | None:
    """The meeting an answer is about: the one the calendar's UID names (none when it names no
    meeting of the community: a coordinator looks), else the campaign's."""
    if uid:
        found = session.scalar(
            select(Meeting.id).where(
                Meeting.uid == uid, Meeting.community_id == campaign.community_id
            )
        )
        if found is None and campaign.meeting_id is not None:
            # An occurrence of a series goes by the series' UID: the invitation's own
            # occurrence, when the UID is its series'.
            meeting = session.get(Meeting, campaign.meeting_id)
            if meeting is not None and meetings.calendar_identity(session, meeting)[0] == uid:
                found = meeting.id
        return int(found) if found is not None else None
    return campaign.meeting_id


def _guess_community(session: Session, row: InboundMessage) -> int | None:
    """Which inbox shows a message nobody can be held to: the community whose contact address it
    was sent to, else the only community of the person its From: names. Display only."""
    message = parse(row.raw or b"")
    addresses = [a.lower() for a in candidate_addresses(message)]
    if addresses:
        found = session.scalar(
            select(Community.id).where(func.lower(Community.contact_email).in_(addresses)).limit(1)
        )
        if found is not None:
            return int(found)
    sender = email.utils.parseaddr(row.sender)[1].lower()
    if not sender:
        return None
    ids = session.scalars(
        select(Membership.community_id)
        .join(Person, Person.id == Membership.person_id)
        .where(Person.email == sender)
        .limit(2)
    ).all()
    return int(ids[0]) if len(ids) == 1 else None


def pending_ids(session: Session, *, older_than: float = 0, limit: int = 1000) -> list[int]:
    """Messages a worker could claim, received at least ``older_than`` seconds ago."""
    now = utcnow()
    return list(
        session.scalars(
            select(InboundMessage.id)
            .where(
                _claimable(now),
                InboundMessage.received_at <= now - timedelta(seconds=older_than),
            )
            .order_by(InboundMessage.id)
            .limit(limit)
        )
    )


def purge(session: Session, *, retention_days: int) -> int:
    """Drop what a message said, and who sent it, once it is older than the retention period and
    has been dealt with (P3); what Amorce read in it stays."""
    cutoff = utcnow() - timedelta(days=max(retention_days, 1))
    result = session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.received_at < cutoff,
            InboundMessage.raw.is_not(None),
            InboundMessage.state.in_([InboundState.PROCESSED, InboundState.FAILED]),
        )
        .values(
            raw=None,
            text="",
            subject="",
            sender="",
            envelope_from="",
            recipients="",
            answer_text="",
            error="",
        )
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def audit(session: Session, row: InboundMessage, actor: str, action: str) -> None:
    """Record a coordinator's or the pipeline's decision on a message."""
    session.add(
        AuditLog(
            community_id=row.community_id,
            actor=actor,
            action=action,
            details={"inbound_id": row.id, "intent": row.intent, "kind": row.kind},
        )
    )


LIST_COLUMNS = (
    "message_id",
    "received_at",
    "kind",
    "intent",
    "confidence",
    "person",
    "action",
    "needs_review",
)


def list_messages(
    session: Session, community_id: int, *, limit: int = 1000
) -> list[dict[str, object]]:
    """A community's received messages, newest first, as the CLI prints them."""
    rows = session.execute(
        select(InboundMessage, Person.email)
        .outerjoin(Person, Person.id == InboundMessage.person_id)
        .where(InboundMessage.community_id == community_id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "message_id": row.message_id,
            "received_at": row.received_at.isoformat(timespec="seconds"),
            "kind": row.kind or None,
            "intent": row.intent,
            "confidence": round(row.confidence, 2),
            "person": email,
            "action": row.action,
            "needs_review": row.needs_review,
        }
        for row, email in rows
    ]
