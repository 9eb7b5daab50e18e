"""The outbox: claim due deliveries, render each in its reader's language, send, record it."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.i18n import pick_locale
from webapp.mail import (
    EmailRenderer,
    NotSent,
    RenderedEmail,
    SmtpConnection,
    address_header,
    build_message,
    envelope_address,
    markdown_to_html,
    render_coordinator_text,
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
from .campaigns import _campaign, complete_if_done

RETRY_DELAY = timedelta(minutes=5)
MAX_ATTEMPTS = 5


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


def reply_address(config: Config, local: str, delivery_id: int) -> str:
    """A signed per-delivery address such as ``reply+42.ab12…@reply.example``."""
    signature = hmac.new(
        config.secret_key.encode(), f"{local}:{delivery_id}".encode(), hashlib.sha256
    ).hexdigest()[:16]
    return f"{local}+{delivery_id}.{signature}@{config.reply_domain}"


@dataclass
class _Context:
    community: Community
    campaign: Campaign


def _message_values(
    config: Config, ctx: _Context, person: Person, locale: str, link: str, unsubscribe_url: str
) -> dict[str, Any]:
    community = ctx.community
    content = ctx.campaign.content.get(locale) or ctx.campaign.content.get("fr") or {}
    placeholders = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "community": community.name,
    }
    message = render_coordinator_text(content.get("message", ""), placeholders)
    return {
        "subject": render_coordinator_text(content.get("subject", ""), placeholders),
        "first_name": person.first_name,
        "community_name": community.name,
        "benefits": list(community.benefits or []),
        "message_text": message,
        "message_html": markdown_to_html(message),
        "link": link,
        "unsubscribe_url": unsubscribe_url,
        "sender": {
            "name": community.sender_name,
            "organization": community.organization,
            "postal_address": community.postal_address,
            "contact_email": community.contact_email,
        },
    }


def render_for(
    config: Config,
    renderer: EmailRenderer,
    ctx: _Context,
    person: Person,
    token: str,
) -> tuple[str, RenderedEmail]:
    """The language and the rendered email of one recipient."""
    locale = pick_locale(person.language, ctx.community.language)
    link = f"{config.base_url}/r/{token}"
    unsubscribe_url = f"{config.base_url}/u/{token}"
    values = _message_values(config, ctx, person, locale, link, unsubscribe_url)
    template = "recruitment" if ctx.campaign.kind == CampaignKind.RECRUITMENT else ctx.campaign.kind
    return locale, renderer.render(template, locale, values)


def preview(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    campaign_id: int,
    person_id: int | None = None,
    locale: str | None = None,
) -> RenderedEmail:
    """The email a recipient would get, with placeholder links."""
    campaign = _campaign(session, campaign_id)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    person = session.get(Person, person_id) if person_id else None
    if person is None:
        person = Person(
            email="preview@example.org",
            first_name="Alex",
            last_name="Tremblay",
            language=locale or community.language,
        )
    elif locale:
        person = Person(
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            language=locale,
        )
    return render_for(config, renderer, _Context(community, campaign), person, "PREVIEW")[1]


def _message_id_domain(config: Config) -> str:
    return (
        config.reply_domain or envelope_address(config.mail_from).rpartition("@")[2] or "localhost"
    )


def _list_id(community: Community, domain: str) -> str:
    """RFC 2919: a phrase (encoded when not ASCII) and an ASCII identifier."""
    name = community.name.replace('"', "'")
    phrase = f'"{name}"' if name.isascii() else Header(name, "utf-8").encode()
    return f"{phrase} <{community.slug}.{domain}>"


def _headers(config: Config, delivery_id: int, token: str, community: Community) -> dict[str, str]:
    """Unsubscribe (RFC 8058), list identity and where replies go.

    With ``AMORCE_REPLY_DOMAIN`` set, replies and mailto unsubscribes go to signed per-delivery
    addresses that Amorce receives; without it, replies go to the community's contact.
    """
    unsubscribe = f"<{config.base_url}/u/{token}>"
    headers: dict[str, str] = {}
    if config.reply_domain:
        unsubscribe += f", <mailto:{reply_address(config, 'unsubscribe', delivery_id)}>"
        headers["Reply-To"] = reply_address(config, "reply", delivery_id)
    elif community.contact_email:
        headers["Reply-To"] = community.contact_email
    headers.update(
        {
            "List-Unsubscribe": unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": _list_id(community, _message_id_domain(config)),
            "X-Amorce-Delivery": str(delivery_id),
        }
    )
    return headers


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
    ctx = _Context(community, campaign)
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
    for delivery in deliveries:
        person = session.get(Person, delivery.person_id)
        assert person is not None
        token = issued[delivery.id]
        try:
            message = _message_for(config, renderer, ctx, person, delivery.id, token)
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


def _message_for(
    config: Config,
    renderer: EmailRenderer,
    ctx: _Context,
    person: Person,
    delivery_id: int,
    token: str,
) -> Any:
    """The finished MIME message of one delivery."""
    community = ctx.community
    _, rendered = render_for(config, renderer, ctx, person, token)
    return build_message(
        rendered,
        from_header=address_header(
            community.sender_name or community.name, envelope_address(config.mail_from)
        ),
        to_header=address_header(person.display_name, person.email),
        headers=_headers(config, delivery_id, token, community),
        message_id_domain=_message_id_domain(config),
    )


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
    due = session.execute(
        select(Delivery.campaign_id, func.count())
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Campaign.state == CampaignState.RUNNING,
            Delivery.state == DeliveryState.PENDING,
            Delivery.due_at <= moment,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
            or_(Campaign.enqueued_at.is_(None), Campaign.enqueued_at < moment - requeue_after),
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


def send_test(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    connection: SmtpConnection,
    campaign_id: int,
    *,
    email: str,
    name: str,
    locale: str,
) -> None:
    """Send the campaign's email to a coordinator, subject marked as a test, links inert."""
    campaign = _campaign(session, campaign_id)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    person = Person(email=email, first_name=name.split(" ")[0] if name else "", language=locale)
    _, rendered = render_for(config, renderer, _Context(community, campaign), person, "TEST")
    marked = RenderedEmail(f"[TEST] {rendered.subject}", rendered.text, rendered.html)
    message = build_message(
        marked,
        from_header=address_header(
            community.sender_name or community.name, envelope_address(config.mail_from)
        ),
        to_header=address_header(name, email),
        headers={"Auto-Submitted": "auto-generated"},
        message_id_domain=_message_id_domain(config),
    )
    connection.send(message, envelope_address(config.mail_from), email)
