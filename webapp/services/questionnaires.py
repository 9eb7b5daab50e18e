"""Questionnaires of a community and the answers people give through their personal link."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.questionnaires import default_definition
from webapp.models import (
    AuditLog,
    ConsentBasis,
    ConsentRecord,
    Membership,
    MembershipState,
    ParticipationLevel,
    Questionnaire,
    Response,
    utcnow,
)

from .errors import N_, NotFound

WEB_CONSENT_TEXT = "interest-questionnaire-1"
# States from which answering the interest questionnaire makes a person "interested".
INTEREST_FROM = {
    MembershipState.PROSPECT,
    MembershipState.INVITED,
    MembershipState.NOT_INTERESTED,
    MembershipState.INTERESTED,
}


def ensure_questionnaire(session: Session, community_id: int, kind: str) -> Questionnaire:
    """The newest questionnaire of this kind, created from the shipped default if none."""
    row = session.scalar(
        select(Questionnaire)
        .where(Questionnaire.community_id == community_id, Questionnaire.kind == kind)
        .order_by(Questionnaire.version.desc())
        .limit(1)
    )
    if row is None:
        definition = default_definition(kind)
        row = Questionnaire(
            community_id=community_id,
            kind=kind,
            version=int(definition.get("version", 1)),
            definition=definition,
        )
        session.add(row)
        session.flush()
    return row


def saved_answers(session: Session, questionnaire_id: int, person_id: int) -> dict[str, Any]:
    """What this person already answered, or an empty mapping."""
    response = session.scalar(
        select(Response).where(
            Response.questionnaire_id == questionnaire_id, Response.person_id == person_id
        )
    )
    return dict(response.answers) if response else {}


def record_interest(
    session: Session,
    questionnaire_id: int,
    person_id: int,
    answers: dict[str, Any],
    *,
    channel: str = "web",
) -> str:
    """Save the interest questionnaire; the person becomes ``interested``. Returns the state."""
    questionnaire = session.get(Questionnaire, questionnaire_id)
    if questionnaire is None:
        raise NotFound(N_("No such questionnaire."))
    community_id = questionnaire.community_id
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    if membership is None:
        raise NotFound(N_("This person is not in this community."))
    now = utcnow()
    response = session.scalar(
        select(Response).where(
            Response.questionnaire_id == questionnaire_id, Response.person_id == person_id
        )
    )
    if response is None:
        response = Response(questionnaire_id=questionnaire_id, person_id=person_id, created_at=now)
        session.add(response)
    response.answers = answers
    response.channel = channel
    response.complete = True
    response.updated_at = now
    if membership.state in INTEREST_FROM:
        membership.state = MembershipState.INTERESTED
    level = answers.get("participation_level")
    if level in set(ParticipationLevel):
        membership.participation_level = level
    membership.answered_at = now
    if answers.get("consent_contact"):
        session.add(
            ConsentRecord(
                person_id=person_id,
                community_id=community_id,
                basis=ConsentBasis.EXPRESS,
                text_version=WEB_CONSENT_TEXT,
                method=f"questionnaire:{channel}",
                source=f"questionnaire:{questionnaire_id}",
                created_at=now,
            )
        )
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="questionnaire.answered",
            details={"kind": questionnaire.kind},
        )
    )
    return membership.state
