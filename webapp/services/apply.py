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

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Campaign,
    CampaignKind,
    Community,
    Delivery,
    Membership,
    MembershipState,
    ParticipationLevel,
    Person,
    Questionnaire,
    QuestionnaireKind,
    Response,
    Stage,
    utcnow,
)

from .errors import N_, DomainError, NotFound
from .questionnaires import ensure_questionnaire

# People who may still fill in or change an application.
APPLYING = {MembershipState.INTERESTED, MembershipState.APPLICANT}
# States from which sending the application makes the person an applicant.
APPLY_FROM = {
    MembershipState.PROSPECT,
    MembershipState.INVITED,
    MembershipState.INTERESTED,
    MembershipState.NOT_INTERESTED,
}
WITHDRAW_FROM = {MembershipState.APPLICANT, MembershipState.SELECTED, MembershipState.WAITLISTED}


class Step(enum.StrEnum):
    """What a person's link opens, given where they are."""

    INTEREST = "interest"  # the interest questionnaire
    APPLICATION = "application"  # the application form, draft or sent
    STATUS = "status"  # a decision to answer or to read


def accepts_applications(community: Community) -> bool:
    """Whether the community takes applications at its stage."""
    return community.stage in (Stage.RECRUITING, Stage.SELECTING)


def _membership(session: Session, community_id: int, person_id: int) -> Membership:
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    if membership is None:
        raise NotFound(N_("This person is not in this community."))
    return membership


def step_for(session: Session, community_id: int, person_id: int, delivery_id: int | None) -> Step:
    """Where a personal link leads: a decision first, then an application under way, then what
    the email was about (an application campaign, or a link given after signing up)."""
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(N_("No such community."))
    state = _membership(session, community_id, person_id).state
    if state in (
        MembershipState.SELECTED,
        MembershipState.WAITLISTED,
        MembershipState.DECLINED,
        MembershipState.MEMBER,
        MembershipState.ALUMNUS,
    ):
        return Step.STATUS
    if state == MembershipState.APPLICANT:
        return Step.APPLICATION
    if not accepts_applications(community):
        return Step.INTEREST
    kind = None
    if delivery_id is not None:
        kind = session.scalar(
            select(Campaign.kind)
            .join(Delivery, Delivery.campaign_id == Campaign.id)
            .where(Delivery.id == delivery_id)
        )
    if kind == CampaignKind.APPLICATION or (kind is None and state in APPLYING):
        return Step.APPLICATION
    return Step.INTEREST


def membership_state(session: Session, community_id: int, person_id: int) -> str:
    """Where the person stands in the community."""
    return _membership(session, community_id, person_id).state


@dataclass(frozen=True)
class Draft:
    """The application form to show: the questionnaire, what is saved, and when."""

    questionnaire: Questionnaire
    answers: dict[str, Any]
    saved_at: datetime | None
    sent: bool


def _responses(session: Session, community_id: int, person_id: int) -> list[Response]:
    """The person's application responses, newest version first."""
    return list(
        session.scalars(
            select(Response)
            .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
            .where(
                Questionnaire.community_id == community_id,
                Questionnaire.kind == QuestionnaireKind.APPLICATION,
                Response.person_id == person_id,
            )
            .order_by(Questionnaire.version.desc(), Response.updated_at.desc())
        )
    )


def draft(session: Session, community_id: int, person_id: int) -> Draft:
    """The application as the person left it, on the questionnaire's newest version."""
    questionnaire = ensure_questionnaire(session, community_id, QuestionnaireKind.APPLICATION)
    responses = _responses(session, community_id, person_id)
    if not responses:
        return Draft(questionnaire, {}, None, False)
    latest = responses[0]
    asked = {q["id"] for q in questionnaire.definition["questions"]}
    answers = {key: value for key, value in (latest.answers or {}).items() if key in asked}
    return Draft(questionnaire, answers, latest.updated_at, latest.complete)


def _store(
    session: Session, community_id: int, person_id: int, answers: dict[str, Any], *, complete: bool
) -> Response:
    questionnaire = ensure_questionnaire(session, community_id, QuestionnaireKind.APPLICATION)
    now = utcnow()
    response = session.scalar(
        select(Response).where(
            Response.questionnaire_id == questionnaire.id, Response.person_id == person_id
        )
    )
    if response is None:
        response = Response(
            questionnaire_id=questionnaire.id, person_id=person_id, answers={}, created_at=now
        )
        session.add(response)
    response.answers = answers
    response.complete = complete
    response.updated_at = now
    session.flush()
    # An application left on an older version moves to this one: one per person.
    older = [r.id for r in _responses(session, community_id, person_id) if r.id != response.id]
    if older:
        session.execute(delete(Response).where(Response.id.in_(older)))
    return response


def save_draft(
    session: Session, community_id: int, person_id: int, answers: dict[str, Any]
) -> datetime:
    """Keep what the person typed so far, valid or not; returns when it was saved.

    Once the application is sent, only sending it again (checked) changes it."""
    membership = _membership(session, community_id, person_id)
    if membership.state not in APPLYING | APPLY_FROM:
        raise DomainError(N_("This application can no longer be changed."))
    current = draft(session, community_id, person_id)
    if current.sent:
        raise DomainError(N_("Your application is already sent: send it again to change it."))
    return _store(session, community_id, person_id, answers, complete=False).updated_at


def submit(session: Session, community_id: int, person_id: int, answers: dict[str, Any]) -> str:
    """Send the application (answers already checked by the form); the person becomes an
    applicant. Returns their state."""
    membership = _membership(session, community_id, person_id)
    if membership.state not in APPLYING | APPLY_FROM:
        raise DomainError(N_("This application can no longer be changed."))
    first = not draft(session, community_id, person_id).sent
    _store(session, community_id, person_id, answers, complete=True)
    now = utcnow()
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
    membership = _membership(session, community_id, person_id)
    if membership.state == MembershipState.MEMBER:
        return False
    if membership.state != MembershipState.SELECTED:
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
    membership = _membership(session, community_id, person_id)
    before = membership.state
    if before not in WITHDRAW_FROM:
        raise DomainError(N_("There is no application to withdraw."))
    membership.state = MembershipState.NOT_INTERESTED
    membership.answered_at = utcnow()
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="application.withdrawn",
            details={"before": before},
        )
    )
    return before
