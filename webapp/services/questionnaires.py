"""Questionnaires of a community and the answers people give through their personal link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
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

from .errors import N_, DomainError, NotFound

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


def responses_of(session: Session, community_id: int, kind: str, person_id: int) -> list[Response]:
    """A person's responses to every version of one questionnaire, newest version first."""
    return list(
        session.scalars(
            select(Response)
            .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
            .where(
                Questionnaire.community_id == community_id,
                Questionnaire.kind == kind,
                Response.person_id == person_id,
            )
            .order_by(Questionnaire.version.desc(), Response.updated_at.desc())
        )
    )


@dataclass(frozen=True)
class Carried:
    """A person's latest answers, as they left them, on a questionnaire's newest version."""

    answers: dict[str, Any]
    saved_at: datetime | None
    sent: bool


def carried_answers(
    session: Session, community_id: int, questionnaire: Questionnaire, person_id: int
) -> Carried:
    """The person's latest response to any version of the questionnaire's kind, kept for the
    questions ``questionnaire`` (the newest version) still asks."""
    responses = responses_of(session, community_id, questionnaire.kind, person_id)
    if not responses:
        return Carried({}, None, False)
    latest = responses[0]
    asked = {q["id"] for q in questionnaire.definition["questions"]}
    kept = {key: value for key, value in (latest.answers or {}).items() if key in asked}
    return Carried(kept, latest.updated_at, latest.complete)


def store_answers(
    session: Session,
    community_id: int,
    kind: str,
    person_id: int,
    values: dict[str, Any],
    *,
    complete: bool,
    already_sent: str,
) -> datetime:
    """Write answers (``values``: answers, channel…) on the questionnaire's newest version, a
    draft or ``complete``; returns when. A draft never overwrites sent answers, even when a send
    and an autosave cross (the update is conditional): it raises ``already_sent`` instead. The
    person's responses to older versions go: one per person."""
    questionnaire = ensure_questionnaire(session, community_id, kind)
    now = utcnow()
    values = {**values, "complete": complete, "updated_at": now}
    mine = (Response.questionnaire_id == questionnaire.id, Response.person_id == person_id)
    condition = mine if complete else (*mine, Response.complete.is_(False))
    if not _update(session, condition, values):
        if session.scalar(select(Response.id).where(*mine)) is not None:
            raise DomainError(already_sent)
        try:
            with session.begin_nested():
                session.add(
                    Response(
                        questionnaire_id=questionnaire.id,
                        person_id=person_id,
                        created_at=now,
                        **values,
                    )
                )
        except IntegrityError:  # the same first answer, twice at once: the other one won
            if not _update(session, condition, values):
                raise DomainError(already_sent) from None
    older = [
        r.id
        for r in responses_of(session, community_id, kind, person_id)
        if r.questionnaire_id != questionnaire.id
    ]
    if older:
        session.execute(delete(Response).where(Response.id.in_(older)))
    return now


def _update(session: Session, condition: tuple[Any, ...], values: dict[str, Any]) -> bool:
    result = session.execute(update(Response).where(*condition).values(**values))
    return bool(getattr(result, "rowcount", 0))


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
