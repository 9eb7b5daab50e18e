"""Campaigns: compose, choose the audience, launch into the outbox, count."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from webapp.i18n import LOCALES, translations_for
from webapp.mail import (
    check_coordinator_text,
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
    utcnow,
)

from . import suppressions
from .errors import N_, DomainError, NotFound

INSERT_CHUNK = 1000
DEFAULT_AUDIENCE = {CampaignKind.RECRUITMENT: MembershipState.PROSPECT}
SUPPORTED_KINDS = (CampaignKind.RECRUITMENT,)
COUNT_STATES = tuple(s.value for s in DeliveryState)


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
    hashes = suppressions.suppressed_hashes(session, campaign.community_id)
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
        if hashes and suppressions.email_hash(session, email) in hashes:
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
            (N_("sender name"), community.sender_name),
            (N_("organization"), community.organization),
            (N_("postal address"), community.postal_address),
            (N_("contact email"), community.contact_email),
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


def campaigns_of(session: Session, community_id: int) -> list[Campaign]:
    """A community's campaigns, newest first."""
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.community_id == community_id)
            .order_by(Campaign.id.desc())
        )
    )


def audience_sample(session: Session, campaign_id: int, limit: int = 200) -> list[tuple[int, str]]:
    """Some of the people in a campaign's audience, by email, to preview the message for."""
    campaign = _campaign(session, campaign_id)
    rows = session.execute(
        select(Person.id, Person.email)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == campaign.community_id,
            Membership.state == campaign.audience_state,
        )
        .order_by(Person.email)
        .limit(limit)
    )
    return [(person_id, email) for person_id, email in rows]


def pause_campaign(session: Session, campaign_id: int, *, actor: str = "cli") -> bool:
    """Stop sending after the messages in flight; False when the campaign was not running."""
    changed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.RUNNING)
        .values(state=CampaignState.PAUSED)
    )
    won = bool(getattr(changed, "rowcount", 0))
    if won:
        _audit(session, campaign_id, actor, "campaign.paused")
    return won


def resume_campaign(session: Session, campaign_id: int, *, actor: str = "cli") -> bool:
    """Send again from where it stopped (same audience); False when it was not paused."""
    changed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.PAUSED)
        .values(state=CampaignState.RUNNING, enqueued_at=utcnow())
    )
    won = bool(getattr(changed, "rowcount", 0))
    if won:
        _audit(session, campaign_id, actor, "campaign.resumed")
    return won


def _audit(session: Session, campaign_id: int, actor: str, action: str) -> None:
    campaign = _campaign(session, campaign_id)
    session.add(
        AuditLog(
            community_id=campaign.community_id,
            actor=actor,
            action=action,
            details={"campaign": campaign_id},
        )
    )


def is_running(session: Session, campaign_id: int) -> bool:
    """Whether the campaign may send right now (re-read, not cached)."""
    state = session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
    return state == CampaignState.RUNNING
