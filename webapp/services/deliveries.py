"""The outbox: claim due deliveries, render each in its reader's language, send, record it."""

from __future__ import annotations

import smtplib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from webapp.config import Config
from webapp.mail import (
    EmailRenderer,
    NotSent,
    SmtpConnection,
    envelope_address,
)
from webapp.models import (
    Campaign,
    CampaignKind,
    CampaignState,
    Community,
    Delivery,
    DeliveryState,
    Membership,
    MembershipState,
    Person,
    Suppression,
    TokenPurpose,
    utcnow,
)

from . import suppressions, tokens
from .campaigns import _campaign, complete_if_done, is_running
from .messages import MessageContext, message_for, reply_address

RETRY_DELAY = timedelta(minutes=5)
MAX_ATTEMPTS = 5
PAUSE_CHECK_EVERY = 10  # messages between two looks at whether the campaign was paused


def claim_batch(
    session: Session,
    campaign_id: int,
    *,
    size: int,
    lease_seconds: int,
    now: datetime | None = None,
) -> tuple[str, list[int]]:
    """Lease up to ``size`` due pending rows by conditional update; returns the claim and ids."""
    moment = now or utcnow()
    claim = str(uuid.uuid4())
    candidates = (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.due_at <= moment,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
        )
        .order_by(Delivery.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(candidates))
    if not ids:
        return claim, []
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.state == DeliveryState.PENDING,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
        )
        .values(claim=claim, lease_expires_at=moment + timedelta(seconds=lease_seconds))
    )
    session.commit()
    won = list(session.scalars(select(Delivery.id).where(Delivery.claim == claim)))
    return claim, won


@dataclass
class BatchOutcome:
    """What one batch did, per final state."""

    counts: Counter[str] = field(default_factory=Counter)


def send_claimed(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    connection: SmtpConnection,
    claim: str,
) -> BatchOutcome:
    """Send every row of a claim, each marked ``sending`` just before and ``sent`` after 250."""
    outcome = BatchOutcome()
    deliveries = list(
        session.scalars(select(Delivery).where(Delivery.claim == claim).order_by(Delivery.id))
    )
    if not deliveries:
        return outcome
    campaign = _campaign(session, deliveries[0].campaign_id)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    ctx = MessageContext(community, campaign)
    if campaign.state != CampaignState.RUNNING:
        _release(session, claim)
        return outcome
    issued: dict[int, str] = {}
    for delivery in deliveries:
        issued[delivery.id] = tokens.issue_token(
            session,
            person_id=delivery.person_id,
            community_id=community.id,
            purpose=TokenPurpose.RESPOND,
            lifetime_days=config.token_lifetime_days,
            delivery_id=delivery.id,
        )
    session.commit()
    for position, delivery in enumerate(deliveries):
        if position and position % PAUSE_CHECK_EVERY == 0 and not is_running(session, campaign.id):
            _release(session, claim)  # paused meanwhile: the rest waits for the resume
            break
        person = session.get(Person, delivery.person_id)
        assert person is not None
        token = issued[delivery.id]
        try:
            message = message_for(config, renderer, ctx, person, delivery.id, token)
        except (ValueError, UnicodeError) as exc:
            # This one message cannot be built (say, an address the relay cannot carry): it
            # fails alone and the batch goes on.
            _finish(
                session,
                delivery.id,
                claim,
                DeliveryState.FAILED,
                error=str(exc),
                from_state=DeliveryState.PENDING,
            )
            outcome.counts[DeliveryState.FAILED] += 1
            continue
        if not _mark_sending(session, config, delivery.id, claim, community.id, person.email):
            if _still_pending(session, delivery.id, claim):
                _finish(
                    session,
                    delivery.id,
                    claim,
                    DeliveryState.SUPPRESSED,
                    from_state=DeliveryState.PENDING,
                )
                outcome.counts[DeliveryState.SUPPRESSED] += 1
            continue
        try:
            state = _send_one(session, connection, message, config, delivery)
        except NotSent as exc:
            # The server, not this recipient, is the problem: put the row back as it was and
            # leave the rest of the batch to the sweep.
            _unsend(session, delivery.id, claim, str(exc))
            _release(session, claim)
            outcome.counts["server_unavailable"] += 1
            break
        outcome.counts[state] += 1
    _mark_invited(session, [d.membership_id for d in deliveries], campaign)
    complete_if_done(session, campaign.id)
    session.commit()
    return outcome


def _mark_sending(
    session: Session, config: Config, delivery_id: int, claim: str, community_id: int, email: str
) -> bool:
    """Flip one claimed row to ``sending`` unless it was unsubscribed meanwhile (U3).

    The same update renews the row's lease, so a slow batch never looks abandoned.
    """
    digest = suppressions.email_hash(session, email)
    suppressed = exists().where(
        Suppression.email_hash == digest,
        or_(Suppression.community_id == community_id, Suppression.community_id.is_(None)),
    )
    marked = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.claim == claim,
            Delivery.state == DeliveryState.PENDING,
            ~suppressed,
        )
        .values(
            state=DeliveryState.SENDING,
            attempts=Delivery.attempts + 1,
            lease_expires_at=utcnow() + timedelta(seconds=config.lease_seconds),
        )
    )
    session.commit()
    return bool(getattr(marked, "rowcount", 0))


def _still_pending(session: Session, delivery_id: int, claim: str) -> bool:
    return (
        session.scalar(
            select(Delivery.id).where(
                Delivery.id == delivery_id,
                Delivery.claim == claim,
                Delivery.state == DeliveryState.PENDING,
            )
        )
        is not None
    )


def _unsend(session: Session, delivery_id: int, claim: str, error: str) -> None:
    """Undo ``sending`` for a message the server never took; the attempt does not count."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.claim == claim,
            Delivery.state == DeliveryState.SENDING,
        )
        .values(
            state=DeliveryState.PENDING,
            attempts=Delivery.attempts - 1,
            claim=None,
            lease_expires_at=None,
            error=f"not sent: {error}",
        )
    )
    session.commit()


def _send_one(
    session: Session,
    connection: SmtpConnection,
    message: Any,
    config: Config,
    delivery: Delivery,
) -> str:
    envelope_from = (
        reply_address(config, "bounce", delivery.id)
        if config.reply_domain
        else envelope_address(config.mail_from)
    )
    try:
        connection.send(message, envelope_from, envelope_address(message["To"]))
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _after_refusal(session, delivery, code, reply, at_rcpt=True)
    except smtplib.SMTPResponseException as exc:
        connection.reset()
        return _after_refusal(session, delivery, exc.smtp_code, exc.smtp_error, at_rcpt=False)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # The server may or may not have taken the message: never guess, record it as unknown.
        connection.reset()
        _finish(session, delivery.id, delivery.claim, DeliveryState.UNKNOWN, error=str(exc))
        return DeliveryState.UNKNOWN
    _finish(
        session,
        delivery.id,
        delivery.claim,
        DeliveryState.SENT,
        message_id=str(message["Message-ID"]),
    )
    return DeliveryState.SENT


def _after_refusal(
    session: Session, delivery: Delivery, code: int, reply: bytes | str, *, at_rcpt: bool
) -> str:
    """4xx: retry later as a row; 5xx at RCPT: hard bounce, suppressed; other 5xx: failed."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    error = f"{code} {text}"
    if 400 <= code < 500 and delivery.attempts < MAX_ATTEMPTS:
        return _retry_later(session, delivery, error)
    state = DeliveryState.BOUNCED if code >= 500 and at_rcpt else DeliveryState.FAILED
    _finish(session, delivery.id, delivery.claim, state, error=error)
    if state == DeliveryState.BOUNCED:
        person = session.get(Person, delivery.person_id)
        if person is not None:
            suppressions.suppress(
                session, person.email, community_id=None, reason="hard_bounce", actor="system"
            )
            session.commit()
    return state


def _retry_later(session: Session, delivery: Delivery, error: str) -> str:
    """Back to ``pending``, due after a delay that grows with the attempts (a row, no countdown)."""
    if delivery.attempts >= MAX_ATTEMPTS:
        _finish(session, delivery.id, delivery.claim, DeliveryState.FAILED, error=error)
        return DeliveryState.FAILED
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.claim == delivery.claim)
        .values(
            state=DeliveryState.PENDING,
            claim=None,
            lease_expires_at=None,
            due_at=utcnow() + RETRY_DELAY * delivery.attempts,
            error=error,
        )
    )
    session.commit()
    return DeliveryState.PENDING


def _finish(
    session: Session,
    delivery_id: int,
    claim: str | None,
    state: str,
    *,
    error: str = "",
    message_id: str = "",
    from_state: str = DeliveryState.SENDING,
) -> None:
    values: dict[str, Any] = {"state": state, "lease_expires_at": None, "error": error}
    if state == DeliveryState.SENT:
        values.update(sent_at=utcnow(), message_id=message_id)
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claim == claim, Delivery.state == from_state)
        .values(**values)
    )
    session.commit()


def _release(session: Session, claim: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.claim == claim, Delivery.state == DeliveryState.PENDING)
        .values(claim=None, lease_expires_at=None)
    )
    session.commit()


def _mark_invited(session: Session, membership_ids: list[int], campaign: Campaign) -> None:
    if campaign.kind != CampaignKind.RECRUITMENT:
        return
    sent = select(Delivery.membership_id).where(
        Delivery.campaign_id == campaign.id, Delivery.state == DeliveryState.SENT
    )
    session.execute(
        update(Membership)
        .where(
            Membership.id.in_(membership_ids),
            Membership.id.in_(sent),
            Membership.state == MembershipState.PROSPECT,
        )
        .values(state=MembershipState.INVITED, updated_at=utcnow())
    )


def sweep(
    session: Session, *, batch_size: int, requeue_after: timedelta, now: datetime | None = None
) -> list[tuple[int, int]]:
    """Recover dead workers' rows and list (campaign id, batches) that need send tasks again."""
    moment = now or utcnow()
    session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.lease_expires_at < moment)
        .values(state=DeliveryState.UNKNOWN, error="worker stopped during the send")
    )
    # A campaign a worker is busy with (a live lease) needs no more tasks yet.
    working = aliased(Delivery)
    busy = select(working.id).where(working.lease_expires_at >= moment)
    due = session.execute(
        select(Delivery.campaign_id, func.count())
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Campaign.state == CampaignState.RUNNING,
            Delivery.state == DeliveryState.PENDING,
            Delivery.due_at <= moment,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
            or_(Campaign.enqueued_at.is_(None), Campaign.enqueued_at < moment - requeue_after),
            ~busy.where(working.campaign_id == Delivery.campaign_id).exists(),
        )
        .group_by(Delivery.campaign_id)
    ).all()
    work = [(campaign_id, -(-count // batch_size)) for campaign_id, count in due]
    if work:
        session.execute(
            update(Campaign).where(Campaign.id.in_([c for c, _ in work])).values(enqueued_at=moment)
        )
    for (campaign_id,) in session.execute(
        select(Campaign.id).where(Campaign.state == CampaignState.RUNNING)
    ).all():
        complete_if_done(session, campaign_id)
    session.commit()
    return work
