"""The availability poll before the founding meeting: the poll itself (its time zone, deadline
and state) and its key people (the facilitator, the sponsor), whose availability weighs more.

The rest of the poll has its own modules: the candidate slots (:mod:`.poll_slots`), who may
answer and their answers (:mod:`.poll_answers`), the heat map and each slot's counts
(:mod:`.poll_results`), and the recommended slot with its reasoning (:mod:`.poll_scores`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.models import AuditLog, Community, KeyRole, Person, Poll, PollRole, PollState, utcnow

from .errors import N_, DomainError, NotFound
from .memberships import membership_of
from .poll_zones import local_to_utc, zone_named

MAX_TITLE = 200
MAX_NOTE = 5000
MIN_WEIGHT = 1.0  # a key person never counts less than anyone else (keeps scores monotonic)
MAX_WEIGHT = 10.0


@dataclass(frozen=True)
class KeyPerson:
    """Someone the meeting needs, and how much their availability weighs."""

    person_id: int
    name: str
    role: str  # a KeyRole
    weight: float = 3.0


# -- polls -------------------------------------------------------------------------------------


def poll_of(session: Session, poll_id: int, *, community_id: int | None = None) -> Poll:
    """The poll, or :class:`NotFound` (also when it belongs to another community than
    ``community_id``, when given)."""
    poll = session.get(Poll, poll_id)
    if poll is None or (community_id is not None and poll.community_id != community_id):
        raise NotFound(N_("No such poll."))
    return poll


def polls_of(session: Session, community_id: int) -> list[Poll]:
    """The community's polls, newest first."""
    return list(
        session.scalars(
            select(Poll)
            .where(Poll.community_id == community_id)
            .order_by(Poll.created_at.desc(), Poll.id.desc())
        )
    )


def is_open(poll: Poll, now: datetime | None = None) -> bool:
    """Whether members may still answer: the poll is open and its deadline is not past."""
    now = now or utcnow()
    return poll.state == PollState.OPEN and (poll.deadline_at is None or now < poll.deadline_at)


def is_one_line(value: str) -> bool:
    """Whether a title or a place fits on one line (no control character)."""
    return not any(ord(char) < 32 for char in value)


def _deadline(deadline_at: datetime | None, zone_name: str) -> datetime | None:
    """An aware deadline, or a naive one read in the poll's zone; it must be in the future."""
    if deadline_at is None:
        return None
    deadline = local_to_utc(deadline_at, zone_name)
    if deadline <= utcnow():
        raise DomainError(N_("The deadline must be in the future."))
    return deadline


def audit(session: Session, poll: Poll, actor: str, action: str, **details: Any) -> None:
    """Log ``poll.<action>`` on the poll in the community's audit log."""
    session.add(
        AuditLog(
            community_id=poll.community_id,
            actor=actor,
            action=f"poll.{action}",
            details={"poll_id": poll.id, **details},
        )
    )


def create_poll(
    session: Session,
    community_id: int,
    *,
    title: str,
    timezone: str,
    deadline_at: datetime | None = None,
    note: str = "",
    actor: str,
) -> int:
    """Open a poll for the community; returns its id. The time zone is an IANA name; a naive
    deadline is read in that zone."""
    if session.get(Community, community_id) is None:
        raise NotFound(N_("No such community."))
    title = title.strip()
    if not title:
        raise DomainError(N_("The poll needs a title."))
    if not is_one_line(title) or len(title) > MAX_TITLE:
        raise DomainError(
            N_("The title must fit on one line, in at most %(count)d characters."),
            count=MAX_TITLE,
        )
    zone_named(timezone)
    if len(note) > MAX_NOTE:
        raise DomainError(N_("The note must be at most %(count)d characters long."), count=MAX_NOTE)
    poll = Poll(
        community_id=community_id,
        title=title,
        timezone=timezone,
        deadline_at=_deadline(deadline_at, timezone),
        state=PollState.OPEN,
        note=note.strip(),
    )
    session.add(poll)
    session.flush()
    audit(session, poll, actor, "created")
    return poll.id


def set_deadline(
    session: Session, poll_id: int, deadline_at: datetime | None, *, actor: str
) -> None:
    """Move the deadline (a naive one is read in the poll's zone), or remove it with None."""
    poll = poll_of(session, poll_id)
    poll.deadline_at = _deadline(deadline_at, poll.timezone)
    audit(
        session,
        poll,
        actor,
        "deadline_set",
        deadline_at=poll.deadline_at.isoformat() if poll.deadline_at else None,
    )


def close_poll(session: Session, poll_id: int, *, actor: str) -> bool:
    """Stop the answers; False when the poll was already closed."""
    poll = poll_of(session, poll_id)
    if poll.state == PollState.CLOSED:
        return False
    poll.state = PollState.CLOSED
    audit(session, poll, actor, "closed")
    return True


def reopen_poll(session: Session, poll_id: int, *, actor: str) -> bool:
    """Let members answer again; False when the poll was already open. A poll whose deadline
    has passed needs a new one first (:func:`set_deadline`)."""
    poll = poll_of(session, poll_id)
    if poll.state == PollState.OPEN:
        return False
    if poll.deadline_at is not None and poll.deadline_at <= utcnow():
        raise DomainError(N_("The deadline has passed: set a new one before reopening the poll."))
    poll.state = PollState.OPEN
    audit(session, poll, actor, "reopened")
    return True


# -- key roles ---------------------------------------------------------------------------------


def set_role(
    session: Session,
    poll_id: int,
    person_id: int,
    role: str,
    weight: float = 3.0,
    *,
    actor: str,
) -> None:
    """Make a person of the community a key person of the poll (facilitator or sponsor), whose
    availability counts ``weight`` times (1 to 10); replaces their role if they had one."""
    poll = poll_of(session, poll_id)
    membership_of(session, poll.community_id, person_id)
    if role not in set(KeyRole):
        raise DomainError(N_("Unknown role %(role)s: use facilitator or sponsor."), role=repr(role))
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or not MIN_WEIGHT <= weight <= MAX_WEIGHT
    ):
        raise DomainError(N_("A key person's weight is from 1 to 10."))
    row = session.scalar(
        select(PollRole).where(PollRole.poll_id == poll_id, PollRole.person_id == person_id)
    )
    if row is None:
        row = PollRole(poll_id=poll_id, person_id=person_id)
        session.add(row)
    row.role, row.weight = str(role), float(weight)
    session.flush()
    audit(session, poll, actor, "role_set", person_id=person_id, role=str(role), weight=weight)


def remove_role(session: Session, poll_id: int, person_id: int, *, actor: str) -> bool:
    """The person is no longer a key person of the poll; False when they were not one."""
    poll = poll_of(session, poll_id)
    removed = session.execute(
        delete(PollRole).where(PollRole.poll_id == poll_id, PollRole.person_id == person_id)
    )
    if not getattr(removed, "rowcount", 0):
        return False
    audit(session, poll, actor, "role_removed", person_id=person_id)
    return True


def display_name(first: str, last: str, email: str) -> str:
    """First and last name, or the email when both are empty (as ``Person.display_name``)."""
    return f"{first} {last}".strip() or email


def roles_of(session: Session, poll_id: int) -> list[KeyPerson]:
    """The poll's key people: facilitators first, then sponsors, by name."""
    rows = session.execute(
        select(PollRole, Person.first_name, Person.last_name, Person.email)
        .join(Person, Person.id == PollRole.person_id)
        .where(PollRole.poll_id == poll_id)
    ).all()
    people = [
        KeyPerson(role.person_id, display_name(first, last, email), role.role, role.weight)
        for role, first, last, email in rows
    ]
    order = {KeyRole.FACILITATOR: 0, KeyRole.SPONSOR: 1}
    return sorted(
        people, key=lambda k: (order.get(KeyRole(k.role), 2), k.name.casefold(), k.person_id)
    )
