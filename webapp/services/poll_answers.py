"""Who may answer a poll, and their answers: slot by slot, with a comment.

Those who may answer are the community's selected volunteers and members, and anyone given a
key role in the poll (the facilitator, the sponsor), whatever their state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Availability,
    Membership,
    MembershipState,
    Person,
    Poll,
    PollAnswer,
    PollComment,
    PollRole,
    PollSlot,
    PollState,
    utcnow,
)

from .errors import N_, DomainError, NotFound
from .memberships import membership_of
from .polls import display_name, poll_of

# Who answers the poll, besides the people given a key role.
ANSWERING = (MembershipState.SELECTED, MembershipState.MEMBER)
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Participant:
    """Someone who may answer the poll."""

    person_id: int
    name: str


def eligible_people(session: Session, poll_id: int) -> list[Participant]:
    """Who may answer: the community's selected volunteers and members, and the poll's key
    people; by name."""
    poll = poll_of(session, poll_id)
    key_people = select(PollRole.person_id).where(PollRole.poll_id == poll_id)
    rows = session.execute(
        select(Person.id, Person.first_name, Person.last_name, Person.email)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == poll.community_id,
            or_(Membership.state.in_(ANSWERING), Person.id.in_(key_people)),
        )
    ).all()
    people = [
        Participant(pid, display_name(first, last, email)) for pid, first, last, email in rows
    ]
    return sorted(people, key=lambda p: (p.name.casefold(), p.person_id))


def _check_may_answer(session: Session, poll: Poll, person_id: int) -> None:
    state = membership_of(session, poll.community_id, person_id).state
    if state in ANSWERING:
        return
    key = session.scalar(
        select(PollRole.id).where(PollRole.poll_id == poll.id, PollRole.person_id == person_id)
    )
    if key is None:
        raise DomainError(N_("Only the selected volunteers and the members answer this poll."))


def _availability(value: object) -> Availability:
    try:
        return Availability(str(value))
    except ValueError:
        raise DomainError(N_("Answer yes, if need be or no.")) from None


def _upsert(
    session: Session, model: type[Any], rows: list[dict[str, Any]], keys: list[str], *changed: str
) -> None:
    """Insert rows, or update ``changed`` on those already there (one statement, so two
    submissions at once never make two rows)."""
    dialect = session.get_bind().dialect.name
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in changed}
    )
    session.execute(statement, rows)


def answer(
    session: Session,
    poll_id: int,
    person_id: int,
    answers: Mapping[int, Availability | str | None],
    comment: str | None = None,
) -> None:
    """Record a person's answers, slot by slot (``None`` withdraws the answer for a slot; slots
    not given keep theirs), and their comment (None leaves it as it is, "" removes it).

    Only while the poll is open and before its deadline, only for those who may answer (see
    :func:`eligible_people`) and only for the slots of this poll. Nothing is written unless
    everything is right."""
    poll = poll_of(session, poll_id)
    if poll.state != PollState.OPEN:
        raise DomainError(N_("This poll is closed: answers can no longer change."))
    now = utcnow()
    if poll.deadline_at is not None and poll.deadline_at <= now:
        raise DomainError(N_("The deadline has passed: answers can no longer change."))
    _check_may_answer(session, poll, person_id)
    slot_ids = set(session.scalars(select(PollSlot.id).where(PollSlot.poll_id == poll_id)))
    if any(slot_id not in slot_ids for slot_id in answers):
        raise NotFound(N_("No such slot in this poll."))
    given = {
        slot_id: None if value is None else _availability(value)
        for slot_id, value in answers.items()
    }
    if comment is not None:
        comment = comment.strip()
        if len(comment) > MAX_COMMENT:
            raise DomainError(
                N_("The comment must be at most %(count)d characters long."), count=MAX_COMMENT
            )
    withdrawn = [slot_id for slot_id, value in given.items() if value is None]
    if withdrawn:
        session.execute(
            delete(PollAnswer).where(
                PollAnswer.person_id == person_id, PollAnswer.slot_id.in_(withdrawn)
            )
        )
    rows = [
        {
            "poll_id": poll_id,
            "slot_id": slot_id,
            "person_id": person_id,
            "answer": str(value),
            "updated_at": now,
        }
        for slot_id, value in sorted(given.items())
        if value is not None
    ]
    if rows:
        _upsert(session, PollAnswer, rows, ["slot_id", "person_id"], "answer", "updated_at")
    if comment == "":
        session.execute(
            delete(PollComment).where(
                PollComment.poll_id == poll_id, PollComment.person_id == person_id
            )
        )
    elif comment is not None:
        row = {"poll_id": poll_id, "person_id": person_id, "comment": comment, "updated_at": now}
        _upsert(session, PollComment, [row], ["poll_id", "person_id"], "comment", "updated_at")
    session.add(
        AuditLog(
            community_id=poll.community_id,
            actor=f"person:{person_id}",
            action="poll.answered",
            details={"poll_id": poll_id, "slots": len(given)},
        )
    )
    session.flush()


def answers_of(session: Session, poll_id: int, person_id: int) -> dict[int, Availability]:
    """A person's answers, by slot id (slots they left unanswered are absent)."""
    rows = session.execute(
        select(PollAnswer.slot_id, PollAnswer.answer).where(
            PollAnswer.poll_id == poll_id, PollAnswer.person_id == person_id
        )
    )
    return {slot_id: Availability(value) for slot_id, value in rows}


def comment_of(session: Session, poll_id: int, person_id: int) -> str:
    """A person's comment on the poll ("" when none)."""
    comment = session.scalar(
        select(PollComment.comment).where(
            PollComment.poll_id == poll_id, PollComment.person_id == person_id
        )
    )
    return comment or ""


def respondents(session: Session, poll_id: int) -> set[int]:
    """The ids of the people who answered for at least one slot."""
    return set(
        session.scalars(
            select(PollAnswer.person_id).where(PollAnswer.poll_id == poll_id).distinct()
        )
    )


def not_answered(session: Session, poll_id: int) -> list[int]:
    """The ids of the people who may answer and have answered for no slot (those a reminder
    goes to), by name."""
    answered = respondents(session, poll_id)
    return [p.person_id for p in eligible_people(session, poll_id) if p.person_id not in answered]
