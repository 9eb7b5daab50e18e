"""Campaigns: compose, launch into the outbox, claim and send, count."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.i18n import LOCALES, pick_locale, translations_for
from webapp.mail import (
    EmailRenderer,
    NotSent,
    RenderedEmail,
    SmtpConnection,
    address_header,
    build_message,
    check_coordinator_text,
    envelope_address,
    markdown_to_html,
    render_coordinator_text,
)
from webapp.models import (
    AuditLog,
    Campaign,
    CampaignKind,
    CampaignState,
    Community,
    ConsentRecord,
    Delivery,
    DeliveryState,
    Membership,
    MembershipState,
    Person,
    TokenPurpose,
    utcnow,
)

from . import people, tokens
from .errors import N_, DomainError, NotFound

INSERT_CHUNK = 1000
RETRY_DELAY = timedelta(minutes=5)
MAX_ATTEMPTS = 5
DEFAULT_AUDIENCE = {CampaignKind.RECRUITMENT: MembershipState.PROSPECT}
SUPPORTED_KINDS = (CampaignKind.RECRUITMENT,)


def default_content(kind: str) -> dict[str, dict[str, str]]:
    """The shipped subject and message of a campaign kind, per language."""
    if kind != CampaignKind.RECRUITMENT:
        raise DomainError(N_("Campaigns of kind %(kind)s are not available yet."), kind=kind)
    content = {}
    for locale in LOCALES:
        gettext = translations_for(locale).gettext
        content[locale] = {
            "subject": gettext("Join the community “{{ community }}”"),
            "message": gettext(
                "We are starting a community of practice, **{{ community }}**, and we think your "
                "experience would make a difference. Taking part is voluntary: you choose how "
                "much you get involved."
            ),
        }
    return content


def check_content(content: dict[str, dict[str, str]]) -> dict[str, str]:
    """Errors per field (``fr.subject``…) in what the coordinator wrote; empty when fine."""
    errors: dict[str, str] = {}
    for locale in LOCALES:
        for part in ("subject", "message"):
            value = content.get(locale, {}).get(part, "")
            key = f"{locale}.{part}"
            if not value.strip():
                errors[key] = N_("required")
            elif part == "subject" and ("\n" in value or "\r" in value):
                errors[key] = N_("one line only")
            elif (problem := check_coordinator_text(value)) is not None:
                errors[key] = problem
    return errors


def create_campaign(
    session: Session,
    community_id: int,
    *,
    kind: str = CampaignKind.RECRUITMENT,
    audience_state: str | None = None,
    content: dict[str, dict[str, str]] | None = None,
    name: str = "",
    user_id: int | None = None,
) -> int:
    """A draft campaign with the default texts unless others are given."""
    if kind not in set(CampaignKind):
        raise DomainError(
            N_("Unknown campaign kind %(kind)s: use one of %(kinds)s."),
            kind=kind,
            kinds=", ".join(k.value for k in CampaignKind),
        )
    if kind not in SUPPORTED_KINDS:
        raise DomainError(N_("Campaigns of kind %(kind)s are not available yet."), kind=kind)
    audience = audience_state or DEFAULT_AUDIENCE[CampaignKind(kind)]
    if audience not in set(MembershipState):
        raise DomainError(N_("Unknown audience state %(state)s."), state=audience)
    body = content or default_content(kind)
    errors = check_content(body)
    if errors:
        raise DomainError("; ".join(f"{k}: {v}" for k, v in errors.items()))
    campaign = Campaign(
        community_id=community_id,
        kind=kind,
        audience_state=audience,
        content=body,
        name=name,
        created_by_id=user_id,
    )
    session.add(campaign)
    session.flush()
    return campaign.id


def update_content(session: Session, campaign_id: int, content: dict[str, dict[str, str]]) -> None:
    """Replace the texts of a draft campaign."""
    campaign = _campaign(session, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        raise DomainError(N_("A launched campaign can no longer be edited."))
    errors = check_content(content)
    if errors:
        raise DomainError("; ".join(f"{k}: {v}" for k, v in errors.items()))
    campaign.content = content


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(N_("No campaign has the id %(id)s."), id=campaign_id)
    return campaign


# -- audience and launch ------------------------------------------------------------------


@dataclass
class AudiencePlan:
    """Who a launch would reach, and who it leaves out and why."""

    recipients: list[tuple[int, int]] = field(default_factory=list)  # (person_id, membership_id)
    excluded: dict[str, list[str]] = field(default_factory=dict)  # reason -> emails


def plan_audience(session: Session, campaign_id: int) -> AudiencePlan:
    """The eligible recipients: in the audience state, with consent, not suppressed."""
    campaign = _campaign(session, campaign_id)
    hashes = people.suppressed_hashes(session, campaign.community_id)
    consenting = select(ConsentRecord.person_id).where(
        ConsentRecord.community_id == campaign.community_id,
        ConsentRecord.withdrawn_at.is_(None),
    )
    plan = AudiencePlan()
    rows = session.execute(
        select(Person.id, Person.email, Membership.id, Person.id.in_(consenting))
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == campaign.community_id,
            Membership.state == campaign.audience_state,
        )
        .order_by(Person.id)
        .execution_options(yield_per=INSERT_CHUNK)
    )
    for person_id, email, membership_id, consented in rows:
        if hashes and people.email_hash(session, email) in hashes:
            plan.excluded.setdefault("suppressed", []).append(email)
        elif not consented:
            plan.excluded.setdefault("no_consent", []).append(email)
        else:
            plan.recipients.append((person_id, membership_id))
    return plan


def missing_sender_identity(community: Community) -> list[str]:
    """The parts of the CASL identification a community has not filled in."""
    return [
        label
        for label, value in (
            ("sender name", community.sender_name),
            ("organization", community.organization),
            ("postal address", community.postal_address),
            ("contact email", community.contact_email),
        )
        if not value.strip()
    ]


def check_sender_identity(community: Community) -> None:
    """CASL: every message names the sender, the organisation, a postal address and a contact."""
    missing = missing_sender_identity(community)
    if missing:
        raise DomainError(
            N_(
                "Complete the community's sender identity before launching (%(missing)s): "
                "the law requires it in every message."
            ),
            missing=", ".join(missing),
        )


@dataclass(frozen=True)
class LaunchResult:
    """What a launch did: rows created (0 when it had already run), people left out."""

    campaign_id: int
    created: int
    excluded: dict[str, list[str]]
    already_launched: bool


def launch_campaign(
    session: Session,
    campaign_id: int,
    *,
    actor: str = "cli",
    now: datetime | None = None,
    require_identity: bool = True,
) -> LaunchResult:
    """Fix the audience and write one outbox row per recipient; launching twice is one run.

    ``require_identity`` is relaxed only in development, where a missing part is a warning.
    """
    moment = now or utcnow()
    campaign = _campaign(session, campaign_id)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    if require_identity:
        check_sender_identity(community)
    won = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.DRAFT)
        .values(state=CampaignState.RUNNING, launched_at=moment)
    )
    if not getattr(won, "rowcount", 0):
        session.rollback()
        return LaunchResult(campaign_id, 0, dict(campaign.excluded or {}), True)
    plan = plan_audience(session, campaign_id)
    if not plan.recipients:
        session.rollback()
        raise DomainError(
            N_("Nobody to write to: no one in the audience has consent and is not suppressed.")
        )
    rows: list[dict[str, Any]] = []
    for person_id, membership_id in plan.recipients:
        rows.append(
            {
                "campaign_id": campaign_id,
                "person_id": person_id,
                "membership_id": membership_id,
                "step": 0,
                "state": DeliveryState.PENDING,
                "due_at": moment,
                "attempts": 0,
                "message_id": "",
                "error": "",
            }
        )
        if len(rows) >= INSERT_CHUNK:
            session.execute(insert(Delivery), rows)
            rows = []
    if rows:
        session.execute(insert(Delivery), rows)
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(excluded=plan.excluded, enqueued_at=moment)
    )
    session.add(
        AuditLog(
            community_id=campaign.community_id,
            actor=actor,
            action="campaign.launched",
            details={"campaign": campaign_id, "recipients": len(plan.recipients)},
        )
    )
    return LaunchResult(campaign_id, len(plan.recipients), plan.excluded, False)


def batches_needed(session: Session, campaign_id: int, batch_size: int) -> int:
    """How many send tasks would cover the rows still pending."""
    pending = (
        session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id, Delivery.state == DeliveryState.PENDING
            )
        )
        or 0
    )
    return -(-pending // batch_size)


# -- claim and send -----------------------------------------------------------------------


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


def _headers(config: Config, delivery_id: int, token: str, community: Community) -> dict[str, str]:
    unsubscribe_mailto = reply_address(config, "unsubscribe", delivery_id)
    return {
        "Reply-To": reply_address(config, "reply", delivery_id),
        "List-Unsubscribe": f"<{config.base_url}/u/{token}>, <mailto:{unsubscribe_mailto}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"{community.name} <{community.slug}.{config.reply_domain}>",
        "X-Amorce-Delivery": str(delivery_id),
    }


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
    hashes = people.suppressed_hashes(session, community.id)
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
    from_header = address_header(
        community.sender_name or community.name, envelope_address(config.mail_from)
    )
    for delivery in deliveries:
        person = session.get(Person, delivery.person_id)
        assert person is not None
        if hashes and people.email_hash(session, person.email) in hashes:
            _finish(session, delivery.id, claim, DeliveryState.SUPPRESSED, from_state="pending")
            outcome.counts[DeliveryState.SUPPRESSED] += 1
            continue
        token = issued[delivery.id]
        _, rendered = render_for(config, renderer, ctx, person, token)
        message = build_message(
            rendered,
            from_header=from_header,
            to_header=address_header(person.display_name, person.email),
            headers=_headers(config, delivery.id, token, community),
            message_id_domain=config.reply_domain,
        )
        marked = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery.id,
                Delivery.claim == claim,
                Delivery.state == DeliveryState.PENDING,
            )
            .values(state=DeliveryState.SENDING, attempts=Delivery.attempts + 1)
        )
        session.commit()
        if not getattr(marked, "rowcount", 0):
            continue
        state = _send_one(session, connection, message, config, delivery)
        outcome.counts[state] += 1
    _mark_invited(session, [d.membership_id for d in deliveries], campaign)
    complete_if_done(session, campaign.id)
    session.commit()
    return outcome


def _send_one(
    session: Session,
    connection: SmtpConnection,
    message: Any,
    config: Config,
    delivery: Delivery,
) -> str:
    envelope_from = reply_address(config, "bounce", delivery.id)
    try:
        connection.send(message, envelope_from, envelope_address(message["To"]))
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _after_refusal(session, delivery, code, reply, at_rcpt=True)
    except smtplib.SMTPResponseException as exc:
        connection.reset()
        return _after_refusal(session, delivery, exc.smtp_code, exc.smtp_error, at_rcpt=False)
    except NotSent as exc:
        return _retry_later(session, delivery, f"not sent: {exc}")
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
            people.suppress(
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


def complete_if_done(session: Session, campaign_id: int) -> bool:
    """Mark a running campaign completed once no row is pending or sending."""
    open_rows = session.scalar(
        select(func.count()).where(
            Delivery.campaign_id == campaign_id,
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )
    )
    if open_rows:
        return False
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.RUNNING)
        .values(state=CampaignState.COMPLETED, completed_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


# -- sweep and counts ---------------------------------------------------------------------


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


COUNT_STATES = tuple(s.value for s in DeliveryState)


def campaign_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Rows per state, plus ``answered`` (recipients who answered since the launch) and total."""
    campaign = _campaign(session, campaign_id)
    counts = dict.fromkeys(COUNT_STATES, 0)
    for state, count in session.execute(
        select(Delivery.state, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.state)
    ):
        counts[state] = count
    counts["total"] = sum(counts[s] for s in COUNT_STATES)
    answered = 0
    if campaign.launched_at is not None:
        answered = (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(Membership, Membership.id == Delivery.membership_id)
                .where(
                    and_(
                        Delivery.campaign_id == campaign_id,
                        Membership.answered_at >= campaign.launched_at,
                    )
                )
            )
            or 0
        )
    counts["answered"] = answered
    return counts


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
        message_id_domain=config.reply_domain,
    )
    connection.send(message, envelope_address(config.mail_from), email)
