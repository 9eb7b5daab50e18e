"""Campaigns: compose, choose the audience, launch into the outbox, count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from webapp.i18n import LOCALES, translations_for
from webapp.mail import (
    check_coordinator_text,
)
from webapp.models import (
    ActivityStep,
    AuditLog,
    Campaign,
    CampaignKind,
    CampaignState,
    CharterStage,
    Community,
    Delivery,
    DeliveryState,
    Meeting,
    Membership,
    MembershipState,
    PauseReason,
    Person,
    Poll,
    UnknownPolicy,
    utcnow,
)

from . import audiences, charters, meetings, statements
from .audiences import AudiencePlan
from .errors import N_, DomainError, NotFound

DEFAULT_AUDIENCE = {
    CampaignKind.RECRUITMENT: MembershipState.PROSPECT,
    CampaignKind.APPLICATION: MembershipState.INTERESTED,
    CampaignKind.DECISION: MembershipState.SELECTED,
    CampaignKind.AVAILABILITY: MembershipState.MEMBER,  # and the selected: see audiences
    CampaignKind.INVITATION: MembershipState.MEMBER,  # and the selected: see audiences
    CampaignKind.CHARTER: MembershipState.MEMBER,  # and the selected: see audiences
    CampaignKind.ACTIVITY: MembershipState.MEMBER,
    CampaignKind.ANNOUNCEMENT: MembershipState.MEMBER,
}
SUPPORTED_KINDS = (
    CampaignKind.RECRUITMENT,
    CampaignKind.APPLICATION,
    CampaignKind.DECISION,
    CampaignKind.AVAILABILITY,
    CampaignKind.INVITATION,
    CampaignKind.CHARTER,
    CampaignKind.ACTIVITY,
    CampaignKind.ANNOUNCEMENT,
)
# A decision campaign tells each decision to the people who got it.
DECISION_AUDIENCES = (
    MembershipState.SELECTED,
    MembershipState.WAITLISTED,
    MembershipState.DECLINED,
)
MAX_REMINDERS = 5
COUNT_STATES = tuple(s.value for s in DeliveryState)


def default_content(
    kind: str,
    audience: str = "",
    *,
    charter_stage: str = "",
    after_meeting: bool = False,
    activity_step: str = "",
) -> dict[str, dict[str, str]]:
    """The shipped subject and message of a campaign kind, per language (for a decision, the
    one of the decision its ``audience`` got; for the charter, the one of its stage, or the
    follow-up of the founding meeting; for an activity campaign, the one of its step)."""
    if kind not in SUPPORTED_KINDS:
        raise DomainError(N_("Campaigns of kind %(kind)s are not available yet."), kind=kind)
    content = {}
    for locale in LOCALES:
        gettext = translations_for(locale).gettext
        if kind == CampaignKind.RECRUITMENT:
            subject = gettext("Join the community “{{ community }}”")
            message = gettext(
                "We are starting a community of practice, **{{ community }}**, and we think "
                "your experience would make a difference. Taking part is voluntary: you "
                "choose how much you get involved."
            )
        elif kind == CampaignKind.APPLICATION:
            subject = gettext("Your application to “{{ community }}”")
            message = gettext(
                "Thank you for your interest in **{{ community }}**. To form a founding group "
                "that covers the expertise and skills the community needs, we ask everyone a "
                "few questions: your areas of expertise, your skills, the time you can give "
                "and how you would like to take part. It takes about ten minutes."
            )
        elif kind == CampaignKind.DECISION:
            subject, message = _decision_text(gettext, audience or MembershipState.SELECTED)
        elif kind == CampaignKind.AVAILABILITY:
            subject = gettext("When can you come to the founding meeting of “{{ community }}”?")
            message = gettext(
                "The founding group of **{{ community }}** will meet for the first time, face to "
                "face. It is the meeting that sets the climate of trust between us: we want "
                "everyone there. Tell us which of the proposed times suit you; it takes a minute."
            )
        elif kind == CampaignKind.INVITATION:
            subject = gettext("Invitation: the founding meeting of “{{ community }}”")
            message = gettext(
                "The founding meeting of **{{ community }}** is set. "
                "We will get to know one another, share what the community can bring each of "
                "us, agree on the minimum commitments and choose our first topics."
            )
        elif kind == CampaignKind.CHARTER:
            subject, message = _charter_text(gettext, charter_stage, after_meeting)
        elif kind == CampaignKind.ACTIVITY:
            subject, message = _activity_text(gettext, activity_step)
        else:
            subject = gettext("News from the community “{{ community }}”")
            message = gettext(
                "Hello {{ first_name }},\n\nHere is some news from **{{ community }}**."
            )
        content[locale] = {"subject": subject, "message": message}
    return content


def _charter_text(
    gettext: Callable[[str], str], stage: str, after_meeting: bool
) -> tuple[str, str]:
    if after_meeting:
        return gettext("Thank you for the founding meeting of “{{ community }}”"), gettext(
            "Thank you for the founding meeting of **{{ community }}**. Two things remain to set "
            "the community on its way: confirm the minimum commitments each member accepts, and "
            "say in a few lines what our charter should hold: our nature, our raison d’être, who "
            "we are, our objectives, our domain and how we govern ourselves. Your answers become "
            "the statements we will vote on together."
        )
    if stage == CharterStage.VOTING:
        return gettext("Vote on the charter of “{{ community }}”"), gettext(
            "Your answers about the charter of **{{ community }}** are now short statements. "
            "Say for each one whether you agree, disagree or pass: the statements most members "
            "agree with make up the draft charter. It takes a few minutes."
        )
    if stage == CharterStage.AMENDING:
        return gettext("The draft charter of “{{ community }}” is ready"), gettext(
            "The draft charter of **{{ community }}** is built from the statements most members "
            "agreed with. Read it, propose an amendment to a section if something is missing or "
            "badly put, and accept or reject the amendments others propose."
        )
    if stage == CharterStage.CONSENT:
        return gettext("Do you consent to the charter of “{{ community }}”?"), gettext(
            "The charter of **{{ community }}** is ready for adoption. Read it once more and tell "
            "us whether you consent, or object with your reason: the charter is adopted when no "
            "objection remains."
        )
    return gettext("Let us write the charter of “{{ community }}” together"), gettext(
        "The charter says what **{{ community }}** is and how it works. Tell us in a few lines "
        "what it should hold: our nature, our raison d’être, who we are, our objectives, our "
        "domain and how we govern ourselves. Your answers become the statements we will vote "
        "on together."
    )


def _activity_text(gettext: Callable[[str], str], step: str) -> tuple[str, str]:
    if step == ActivityStep.FEEDBACK:
        return gettext("How was the activity of “{{ community }}”?"), gettext(
            "Thank you for coming. Two questions, one minute: was it useful to you, and what "
            "should the next activities be about? Your answers shape the ones to come."
        )
    if step == ActivityStep.SUMMARY:
        return gettext("Your summary of the activity of “{{ community }}”"), gettext(
            "Thank you for facilitating. A few lines on what was said and decided help everyone "
            "remember it: post them with the link below; the members find them with the "
            "activity."
        )
    if step == ActivityStep.TOPICS:
        return gettext("What should the next activities of “{{ community }}” be about?"), gettext(
            "We missed you at the last activity of **{{ community }}**. What would you like the "
            "next ones to be about? Propose a topic in a few words: the next activities are "
            "planned from the members' proposals."
        )
    if step == ActivityStep.REENGAGE:
        return gettext("We miss you at “{{ community }}”"), gettext(
            "We have not seen you at the activities of **{{ community }}** lately. Is the time "
            "wrong, or the topics? Tell us what would help you take part: the coming activities "
            "and the survey of your needs and availability are one click away."
        )
    return gettext("Your needs and availability for “{{ community }}”"), gettext(
        "The activities of **{{ community }}** follow a rhythm chosen from what the members "
        "need and when they are free. Tell us which activities would help you, how often and "
        "when you can come; it takes two minutes."
    )


def _decision_text(gettext: Callable[[str], str], decision: str) -> tuple[str, str]:
    if decision == MembershipState.SELECTED:
        return gettext("You are selected for “{{ community }}”"), gettext(
            "Good news: the coordinators selected you for the founding group of "
            "**{{ community }}**. Your expertise and your skills will count from the very "
            "first meeting. Please confirm that you join, so that we can plan the founding "
            "meeting with you."
        )
    if decision == MembershipState.WAITLISTED:
        return gettext("Your application to “{{ community }}”: waiting list"), gettext(
            "Thank you for your application to **{{ community }}**. The founding group is "
            "full for now, and you are on the waiting list: if a seat frees up, we will offer "
            "it to you first, in the order of the ranking."
        )
    return gettext("Your application to “{{ community }}”"), gettext(
        "Thank you for your application to **{{ community }}** and for the time you gave it. "
        "We could not offer you a seat in the founding group this time. The community will "
        "open to more people later on: we will be glad to hear from you then."
    )


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


@dataclass(frozen=True)
class SendingPolicy:
    """How a campaign sends: when it starts, its reminders, what it does with lost outcomes."""

    reminder_count: int = 0
    reminder_gap_days: int = 3
    deadline_at: datetime | None = None
    quiet_start: int | None = None
    quiet_end: int | None = None
    unknown_policy: str = UnknownPolicy.RESEND
    scheduled_at: datetime | None = None


def check_policy(policy: SendingPolicy, *, now: datetime | None = None) -> dict[str, str]:
    """Errors per field of a sending policy; empty when fine."""
    moment = now or utcnow()
    errors: dict[str, str] = {}
    if not 0 <= policy.reminder_count <= MAX_REMINDERS:
        errors["reminder_count"] = N_("between 0 and 5")
    if not 1 <= policy.reminder_gap_days <= 60:
        errors["reminder_gap_days"] = N_("between 1 and 60 days")
    if policy.deadline_at is not None and policy.deadline_at <= moment:
        errors["deadline_at"] = N_("must be in the future")
    if (policy.quiet_start is None) != (policy.quiet_end is None):
        errors["quiet_hours"] = N_("give both the start and the end, or neither")
    for hour in (policy.quiet_start, policy.quiet_end):
        if hour is not None and not 0 <= hour <= 23:
            errors["quiet_hours"] = N_("hours go from 0 to 23")
    if policy.unknown_policy not in set(UnknownPolicy):
        errors["unknown_policy"] = N_("resend or hold")
    if policy.scheduled_at is not None and policy.scheduled_at <= moment:
        errors["scheduled_at"] = N_("must be in the future")
    if (
        policy.scheduled_at is not None
        and policy.deadline_at is not None
        and policy.deadline_at <= policy.scheduled_at
    ):
        errors["deadline_at"] = N_("must come after the start")
    return errors


def _raise_errors(errors: dict[str, str]) -> None:
    if errors:
        raise DomainError(
            N_("Please correct: %(errors)s."),
            errors="; ".join(f"{key}: {value}" for key, value in errors.items()),
        )


def create_campaign(
    session: Session,
    community_id: int,
    *,
    kind: str = CampaignKind.RECRUITMENT,
    audience_state: str | None = None,
    audience_filter: dict[str, Any] | None = None,
    content: dict[str, dict[str, str]] | None = None,
    policy: SendingPolicy | None = None,
    name: str = "",
    user_id: int | None = None,
    poll_id: int | None = None,
    meeting_id: int | None = None,
    activity_step: str | None = None,
) -> int:
    """A draft campaign with the default texts unless others are given; an availability
    campaign is about a poll, an invitation about a meeting, an activity campaign asks one
    thing (its step) and may follow an occurrence."""
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
    if kind == CampaignKind.DECISION and audience not in DECISION_AUDIENCES:
        raise DomainError(
            N_("A decision campaign goes to the selected, waitlisted or declined people.")
        )
    if kind == CampaignKind.AVAILABILITY and poll_id is None:
        raise DomainError(N_("Say which availability poll the campaign asks people to answer."))
    if kind == CampaignKind.INVITATION and meeting_id is None:
        raise DomainError(N_("Say which meeting the invitation is for."))
    if kind == CampaignKind.ACTIVITY:
        activity_step = activity_step or ActivityStep.NEEDS
        if activity_step not in set(ActivityStep):
            raise DomainError(
                N_("Unknown activity step %(step)s: use one of %(steps)s."),
                step=activity_step,
                steps=", ".join(s.value for s in ActivityStep),
            )
    else:
        activity_step = None
    _check_about(session, community_id, poll_id, meeting_id)
    charter_stage = None
    if kind == CampaignKind.CHARTER:
        charter_stage = charters.charter_of(session, community_id).stage
        if charter_stage == CharterStage.ADOPTED:
            raise DomainError(N_("The charter is adopted: there is nothing to ask the members."))
    body = content or default_content(
        kind,
        audience,
        charter_stage=charter_stage or "",
        after_meeting=meeting_id is not None,
        activity_step=activity_step or "",
    )
    _raise_errors(check_content(body))
    campaign = Campaign(
        community_id=community_id,
        kind=kind,
        audience_state=audience,
        audience_filter=audiences.check_filter(audience_filter or {}),
        content=body,
        name=name,
        created_by_id=user_id,
        poll_id=poll_id,
        meeting_id=meeting_id,
        charter_stage=charter_stage,
        activity_step=activity_step,
    )
    session.add(campaign)
    session.flush()
    if policy is not None:
        set_policy(session, campaign.id, policy)
    return campaign.id


def _check_about(
    session: Session, community_id: int, poll_id: int | None, meeting_id: int | None
) -> None:
    """A campaign is about a poll or a meeting of its own community."""
    poll = session.get(Poll, poll_id) if poll_id is not None else None
    if poll_id is not None and (poll is None or poll.community_id != community_id):
        raise NotFound(N_("No such poll in this community."))
    meeting = session.get(Meeting, meeting_id) if meeting_id is not None else None
    if meeting_id is not None and (meeting is None or meeting.community_id != community_id):
        raise NotFound(N_("No such meeting in this community."))


def set_policy(session: Session, campaign_id: int, policy: SendingPolicy) -> None:
    """Reminders, start time and lost-outcome policy of a draft campaign."""
    campaign = _campaign(session, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        raise DomainError(N_("A launched campaign can no longer be edited."))
    _raise_errors(check_policy(policy))
    campaign.reminder_count = policy.reminder_count
    campaign.reminder_gap_days = policy.reminder_gap_days
    campaign.deadline_at = policy.deadline_at
    campaign.quiet_start = policy.quiet_start
    campaign.quiet_end = policy.quiet_end
    campaign.unknown_policy = policy.unknown_policy
    campaign.scheduled_at = policy.scheduled_at


def policy_of(campaign: Campaign) -> SendingPolicy:
    """A campaign's sending policy as it stands."""
    return SendingPolicy(
        reminder_count=campaign.reminder_count,
        reminder_gap_days=campaign.reminder_gap_days,
        deadline_at=campaign.deadline_at,
        quiet_start=campaign.quiet_start,
        quiet_end=campaign.quiet_end,
        unknown_policy=campaign.unknown_policy,
        scheduled_at=campaign.scheduled_at,
    )


def update_content(session: Session, campaign_id: int, content: dict[str, dict[str, str]]) -> None:
    """Replace the texts of a draft campaign."""
    campaign = _campaign(session, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        raise DomainError(N_("A launched campaign can no longer be edited."))
    _raise_errors(check_content(content))
    campaign.content = content


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(N_("No campaign has the id %(id)s."), id=campaign_id)
    return campaign


# -- audience and launch ------------------------------------------------------------------


def plan_audience(session: Session, campaign_id: int) -> AudiencePlan:
    """Dry run: who a launch would reach, who it leaves out and why."""
    return audiences.plan_for(session, _campaign(session, campaign_id))


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
    start = (
        campaign.scheduled_at
        if campaign.scheduled_at and campaign.scheduled_at > moment
        else moment
    )
    # In a savepoint: a refused launch undoes its own writes, never the caller's transaction
    # (a launch made inside another change, such as an RSVP freeing a seat, must not undo it).
    with session.begin_nested():
        won = session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.state == CampaignState.DRAFT)
            .values(state=CampaignState.RUNNING, launched_at=moment)
        )
        already = not getattr(won, "rowcount", 0)
        if not already:
            created, excluded = audiences.write_outbox(session, campaign, start)
            if not created:
                raise DomainError(
                    N_(
                        "Nobody to write to: no one in the audience has consent and is not "
                        "suppressed."
                    )
                )
    if already:
        session.refresh(campaign)
        return LaunchResult(campaign_id, 0, dict(campaign.excluded or {}), True)
    meetings.add_reminders(session, campaign, now=moment)  # an invitation's, before the meeting
    numbered = None
    if campaign.kind == CampaignKind.CHARTER and campaign.charter_stage == CharterStage.VOTING:
        # The vote's email numbers the statements: a reply's numbers mean these.
        numbered = [s.id for s in statements.numbered(session, campaign.community_id)]
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(excluded=excluded, enqueued_at=moment, charter_statements=numbered)
    )
    session.add(
        AuditLog(
            community_id=campaign.community_id,
            actor=actor,
            action="campaign.launched",
            details={"campaign": campaign_id, "recipients": created},
        )
    )
    return LaunchResult(campaign_id, created, excluded, False)


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
    """Mark a running campaign completed once no row is pending or sending (reminders due
    later are pending rows, so a campaign with reminders to come stays running)."""
    open_row = session.scalar(
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )
        .limit(1)
    )
    if open_row is not None:
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
    counts["recipients"] = (
        session.scalar(
            select(func.count()).where(Delivery.campaign_id == campaign_id, Delivery.step == 0)
        )
        or 0
    )
    counts["waiting"] = (  # pending but due later: reminders, retries, a scheduled start
        session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id,
                Delivery.state == DeliveryState.PENDING,
                Delivery.due_at > utcnow(),
            )
        )
        or 0
    )
    counts["resent"] = (
        session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == campaign_id, Delivery.unknown_count > 0
            )
        )
        or 0
    )
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
                        Delivery.step == 0,
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
            Membership.state.in_(audiences.audience_states(campaign)),
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
        .values(state=CampaignState.PAUSED, paused_reason=PauseReason.COORDINATOR)
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
        .values(
            state=CampaignState.RUNNING,
            enqueued_at=utcnow(),
            paused_reason="",
            consecutive_errors=0,
        )
    )
    won = bool(getattr(changed, "rowcount", 0))
    if won:
        _audit(session, campaign_id, actor, "campaign.resumed")
    return won


def cancel_campaign(session: Session, campaign_id: int, *, actor: str = "cli") -> int | None:
    """Stop for good: rows not yet sent become ``cancelled`` (messages in flight finish).

    Returns how many rows were cancelled, or None when the campaign had already ended.
    """
    changed = session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state.in_([CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED]),
        )
        .values(state=CampaignState.CANCELLED, cancelled_at=utcnow())
    )
    if not getattr(changed, "rowcount", 0):
        return None
    rows = session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.UNKNOWN]),
        )
        .values(state=DeliveryState.CANCELLED, lease_expires_at=None)
    )
    _audit(session, campaign_id, actor, "campaign.cancelled")
    return int(getattr(rows, "rowcount", 0) or 0)


def resend_unknown(session: Session, campaign_id: int, *, actor: str = "cli") -> int:
    """Send again the messages whose outcome was lost (held by the ``hold`` policy).

    A completed campaign runs again for them. Returns how many rows were put back.
    """
    campaign = _campaign(session, campaign_id)
    if campaign.state not in (
        CampaignState.RUNNING,
        CampaignState.PAUSED,
        CampaignState.COMPLETED,
    ):
        raise DomainError(N_("Only a launched campaign can resend messages."))
    rows = session.execute(
        update(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.state == DeliveryState.UNKNOWN)
        .values(
            state=DeliveryState.PENDING,
            claim=None,
            lease_expires_at=None,
            due_at=utcnow(),
            error="resent by the coordinator",
        )
    )
    count = int(getattr(rows, "rowcount", 0) or 0)
    if count and campaign.state == CampaignState.COMPLETED:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.state == CampaignState.COMPLETED)
            .values(state=CampaignState.RUNNING, completed_at=None, enqueued_at=utcnow())
        )
    if count:
        _audit(session, campaign_id, actor, "campaign.unknown_resent")
    return count


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
