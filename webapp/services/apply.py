"""A person's own side of the application: what their link opens, the draft saved as they go,
the application sent, and the answer to a selection.

The draft lives in the same ``Response`` row as the application, with ``complete`` false until
the person sends it; it is kept on the newest version of the questionnaire, carried over from an
older version (by question id) when the coordinators changed the questions in between.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Campaign,
    CampaignKind,
    Community,
    Delivery,
    MembershipState,
    ParticipationLevel,
    Person,
    Questionnaire,
    QuestionnaireKind,
    Response,
    Stage,
    utcnow,
)

from .audiences import told_people
from .errors import N_, DomainError, NotFound
from .memberships import membership_of
from .questionnaires import carried_answers, ensure_questionnaire, store_answers

# People who may still fill in or change an application.
APPLYING = {MembershipState.INTERESTED, MembershipState.APPLICANT}
# States from which sending the application makes the person an applicant.
APPLY_FROM = {
    MembershipState.PROSPECT,
    MembershipState.INVITED,
    MembershipState.INTERESTED,
    MembershipState.NOT_INTERESTED,
}
APPLY_STATES = APPLYING | APPLY_FROM
WITHDRAW_FROM = {MembershipState.APPLICANT, MembershipState.SELECTED, MembershipState.WAITLISTED}
DECIDED = {MembershipState.SELECTED, MembershipState.WAITLISTED, MembershipState.DECLINED}
ALREADY_SENT = N_("Your application is already sent: send it again to change it.")


class Step(enum.StrEnum):
    """What a person's link opens, given where they are."""

    INTEREST = "interest"  # the interest questionnaire
    APPLICATION = "application"  # the application form, draft or sent
    STATUS = "status"  # a decision to answer or to read
    POLL = "poll"  # the founding meeting's availability poll
    MEETING = "meeting"  # a meeting's invitation, to answer
    CHARTER = "charter"  # the charter: answer, vote, amend, consent
    ACTIVITY = "activity"  # the activities: needs survey, feedback, summary, topics


def accepts_applications(community: Community) -> bool:
    """Whether the community takes applications at its stage."""
    return community.stage in (Stage.RECRUITING, Stage.SELECTING)


def step_for(session: Session, community_id: int, person_id: int, delivery_id: int | None) -> Step:
    """Where a personal link leads: a decision first, then an application under way, then what
    the email was about (an application campaign, or a link given after signing up)."""
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(N_("No such community."))
    state = membership_of(session, community_id, person_id).state
    kind = _campaign_kind(session, delivery_id)
    if state in (MembershipState.SELECTED, MembershipState.MEMBER):
        # The founding group's own links: a poll to answer, an invitation to answer.
        if kind == CampaignKind.AVAILABILITY:
            return Step.POLL
        if kind == CampaignKind.INVITATION:
            return Step.MEETING
        if kind == CampaignKind.CHARTER:
            return Step.CHARTER
        if kind == CampaignKind.ACTIVITY:
            return Step.ACTIVITY
    if state in (MembershipState.MEMBER, MembershipState.ALUMNUS):
        return Step.STATUS
    if state in DECIDED:
        # A decision is the coordinators' own until its email goes: until then the person
        # sees their application, under review.
        return Step.STATUS if told(session, community_id, person_id, state) else Step.APPLICATION
    if state == MembershipState.APPLICANT:
        return Step.APPLICATION
    if not accepts_applications(community):
        return Step.INTEREST
    if kind == CampaignKind.APPLICATION or (kind is None and state in APPLYING):
        return Step.APPLICATION
    return Step.INTEREST


def _campaign_kind(session: Session, delivery_id: int | None) -> str | None:
    campaign = campaign_of(session, delivery_id)
    return campaign.kind if campaign is not None else None


def campaign_of(session: Session, delivery_id: int | None) -> Campaign | None:
    """The campaign whose email carried a personal link (None for a link given on a page)."""
    if delivery_id is None:
        return None
    return session.scalar(
        select(Campaign)
        .join(Delivery, Delivery.campaign_id == Campaign.id)
        .where(Delivery.id == delivery_id)
    )


def told(session: Session, community_id: int, person_id: int, decision: str) -> bool:
    """Whether a decision email telling ``decision`` went (or is going) to this person."""
    query = told_people(community_id, decision).where(Delivery.person_id == person_id).limit(1)
    return session.scalar(query) is not None


def membership_state(session: Session, community_id: int, person_id: int) -> str:
    """Where the person stands in the community."""
    return membership_of(session, community_id, person_id).state


@dataclass(frozen=True)
class Draft:
    """The application form to show: the questionnaire, what is saved, and when."""

    questionnaire: Questionnaire
    answers: dict[str, Any]
    saved_at: datetime | None
    sent: bool
    editable: bool  # applications are open and the person has no decision yet


def _application_ids(community_id: int) -> Any:
    return select(Questionnaire.id).where(
        Questionnaire.community_id == community_id,
        Questionnaire.kind == QuestionnaireKind.APPLICATION,
    )


def draft(session: Session, community_id: int, person_id: int) -> Draft:
    """The application as the person left it, on the questionnaire's newest version."""
    questionnaire = ensure_questionnaire(session, community_id, QuestionnaireKind.APPLICATION)
    carried = carried_answers(session, community_id, questionnaire, person_id)
    editable = _editable(session, community_id, person_id)
    return Draft(questionnaire, carried.answers, carried.saved_at, carried.sent, editable)


def _editable(session: Session, community_id: int, person_id: int) -> bool:
    community = session.get(Community, community_id)
    state = membership_of(session, community_id, person_id).state
    return community is not None and accepts_applications(community) and state in APPLY_STATES


def _check_editable(session: Session, community_id: int, person_id: int) -> None:
    community = session.get(Community, community_id)
    if community is None or not accepts_applications(community):
        raise DomainError(N_("Applications are closed: the founding group is formed."))
    if membership_of(session, community_id, person_id).state not in APPLY_STATES:
        raise DomainError(N_("This application can no longer be changed."))


def _store(
    session: Session, community_id: int, person_id: int, answers: dict[str, Any], *, complete: bool
) -> datetime:
    """Write the application on the newest version; returns when."""
    return store_answers(
        session,
        community_id,
        QuestionnaireKind.APPLICATION,
        person_id,
        {"answers": answers},
        complete=complete,
        already_sent=ALREADY_SENT,
    )


def save_draft(
    session: Session, community_id: int, person_id: int, answers: dict[str, Any]
) -> datetime:
    """Keep what the person typed so far, valid or not; returns when it was saved.

    Once the application is sent, only sending it again (checked) changes it."""
    _check_editable(session, community_id, person_id)
    return _store(session, community_id, person_id, answers, complete=False)


def submit(session: Session, community_id: int, person_id: int, answers: dict[str, Any]) -> str:
    """Send the application (answers already checked by the form); the person becomes an
    applicant. Returns their state."""
    _check_editable(session, community_id, person_id)
    membership = membership_of(session, community_id, person_id)
    first = not draft(session, community_id, person_id).sent
    now = _store(session, community_id, person_id, answers, complete=True)
    if membership.state in APPLY_FROM:
        membership.state = MembershipState.APPLICANT
    membership.answered_at = now
    level = answers.get("participation_level")
    if level in set(ParticipationLevel):
        membership.participation_level = level
    organization = str(answers.get("organization") or "").strip()
    person = session.get(Person, person_id)
    if person is not None and organization and not person.organization:
        person.organization = organization[:300]
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="application.sent" if first else "application.changed",
            details={},
        )
    )
    return membership.state


def confirm_membership(session: Session, community_id: int, person_id: int) -> bool:
    """A selected person confirms they join: they become a member. False if already one."""
    membership = membership_of(session, community_id, person_id)
    if membership.state == MembershipState.MEMBER:
        return False
    if membership.state != MembershipState.SELECTED or not told(
        session, community_id, person_id, MembershipState.SELECTED
    ):
        raise DomainError(N_("Only a selected person can confirm joining."))
    membership.state = MembershipState.MEMBER
    membership.answered_at = utcnow()
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="membership.confirmed",
            details={},
        )
    )
    return True


def withdraw(session: Session, community_id: int, person_id: int) -> str:
    """The person can no longer take part: their seat or their place in line frees up.

    They go back to ``not_interested`` (not ``declined``, which is the coordinators' answer, so
    no decision email reaches them). Returns the state they left."""
    membership = membership_of(session, community_id, person_id)
    before = membership.state
    if before not in WITHDRAW_FROM:
        raise DomainError(N_("There is no application to withdraw."))
    membership.state = MembershipState.NOT_INTERESTED
    membership.answered_at = utcnow()
    # The application is no longer sent: out of the ranking, and a draft again should the
    # person change their mind while applications are open.
    session.execute(
        update(Response)
        .where(Response.person_id == person_id, Response.complete.is_(True))
        .where(Response.questionnaire_id.in_(_application_ids(community_id)))
        .values(complete=False)
    )
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="application.withdrawn",
            details={"before": before},
        )
    )
    return before
