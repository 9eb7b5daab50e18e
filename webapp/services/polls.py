"""The availability poll before the founding meeting: candidate slots, the members' answers, the
heat map of who can come, and the recommended slot with its reasoning.

A timed slot is written as a local time in the poll's time zone and stored in UTC; a date-only
slot keeps its day and never shifts, whatever the reader's zone. Those who may answer are the
community's selected volunteers and members, and anyone given a key role in the poll (the
facilitator, the sponsor), whatever their state.

The recommendation is a pure function of each slot's counts (how many of those who may answer
said *yes*, *if need be* and *no*), the key people's own answers and the key roles
(:func:`recommend_counts`; :func:`recommend` takes a heat map, which gives the same counts). The
counts come from SQL (:func:`slot_counts`): the recommendation never loads anyone's name. So:

- each person who answers *yes* is worth 1, *if need be* ½, *no* or no answer 0;
- a key person's worth is multiplied by their role's weight (3 by default), so a slot the
  facilitator cannot attend loses what their presence would have added;
- when a slot's place has a capacity, only that many people can come: the seats go first to
  the key people who can come (the most weighty first), then to those who said *yes*, then to
  those who said *if need be*; whoever gets no seat adds nothing.

So, for a slot with ``Y`` *yes* and ``M`` *if need be* among the other people, key people ``k``
who can come with value ``v_k`` (1 or ½) and weight ``w_k``, and ``c`` seats (infinite when the
place has no capacity)::

    score = Σ v_k × w_k  over the first min(c, K) key people, by v_k × w_k, highest first
          + min(Y, c')                      where c' = c − min(c, K)
          + ½ × min(M, c' − min(Y, c'))

With no capacity and no key person this is ``Y + ½ M``. Scores are rounded to three decimals. The
best score wins; ties go to the slot with more *yes*, then fewer *no*, then the earliest. No slot
is recommended when there is none, when nobody has answered, or when nobody can come to any.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from webapp.models import (
    AuditLog,
    Availability,
    Community,
    KeyRole,
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

# Who answers the poll, besides the people given a key role.
ANSWERING = (MembershipState.SELECTED, MembershipState.MEMBER)
MIN_DURATION = 15
MAX_DURATION = 12 * 60
MAX_TITLE = 200
MAX_PLACE = 300
MAX_NOTE = 5000
MAX_COMMENT = 2000
MIN_WEIGHT = 1.0  # a key person never counts less than anyone else (keeps scores monotonic)
MAX_WEIGHT = 10.0
VALUE = {Availability.YES: 1.0, Availability.IF_NEED_BE: 0.5, Availability.NO: 0.0}


# -- values the services return ----------------------------------------------------------------


class Reason(NamedTuple):
    """One line of reasoning: an English msgid and its ``%(name)s`` parameters; the view
    translates ``msgid`` then applies ``params``."""

    msgid: str
    params: Mapping[str, object]

    def __str__(self) -> str:
        return self.msgid % dict(self.params) if self.params else self.msgid


@dataclass(frozen=True)
class Participant:
    """Someone who may answer the poll."""

    person_id: int
    name: str


@dataclass(frozen=True)
class KeyPerson:
    """Someone the meeting needs, and how much their availability weighs."""

    person_id: int
    name: str
    role: str  # a KeyRole
    weight: float = 3.0


@dataclass(frozen=True)
class Slot:
    """A candidate slot as the poll's zone sees it: ``starts_at`` (UTC) for a timed slot,
    ``day`` for a date-only one."""

    id: int
    poll_id: int
    starts_at: datetime | None
    day: date | None
    duration_minutes: int
    place: str
    capacity: int | None
    position: int
    timezone: str  # the poll's

    @property
    def all_day(self) -> bool:
        """A date-only slot: no time, the same day everywhere."""
        return self.starts_at is None

    @property
    def ends_at(self) -> datetime | None:
        """The end, in UTC (``duration_minutes`` of real time after the start)."""
        if self.starts_at is None:
            return None
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def local_day(self) -> date:
        """The slot's day in the poll's zone."""
        if self.starts_at is None:
            assert self.day is not None
            return self.day
        return self.starts_at.astimezone(_zone(self.timezone)).date()


@dataclass(frozen=True)
class SlotAnswers:
    """One column of the heat map: who said what for a slot, names sorted."""

    slot: Slot
    yes: tuple[Participant, ...]
    if_need_be: tuple[Participant, ...]
    no: tuple[Participant, ...]
    unanswered: tuple[Participant, ...]  # eligible people with no answer for this slot
    answers: Mapping[int, Availability] = field(default_factory=dict)  # by person id

    @property
    def counts(self) -> dict[str, int]:
        """How many said yes, if need be and no, and how many did not answer."""
        return {
            "yes": len(self.yes),
            "if_need_be": len(self.if_need_be),
            "no": len(self.no),
            "unanswered": len(self.unanswered),
        }

    def tally(self, roles: Sequence[KeyPerson] = ()) -> SlotCounts:
        """The column as the recommendation sees it: its counts and the key people's answers."""
        keys = {key.person_id for key in roles}
        return SlotCounts(
            self.slot,
            len(self.yes),
            len(self.if_need_be),
            len(self.no),
            {pid: given for pid, given in self.answers.items() if pid in keys},
        )


@dataclass(frozen=True)
class SlotCounts:
    """What the recommendation needs of a slot: how many of those who may answer said yes, if
    need be and no, and what each key person among them said (by person id; absent: no answer)."""

    slot: Slot
    yes: int
    if_need_be: int
    no: int
    key_answers: Mapping[int, Availability] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """Whether anyone who may answer has answered for this slot."""
        return bool(self.yes or self.if_need_be or self.no)


@dataclass(frozen=True)
class HeatMap:
    """Every slot with its answers, in order, and who may answer."""

    poll_id: int
    timezone: str
    slots: tuple[SlotAnswers, ...]
    eligible: tuple[Participant, ...]
    not_answered: tuple[Participant, ...]  # eligible people who answered no slot at all
    comments: tuple[tuple[Participant, str], ...] = ()


@dataclass(frozen=True)
class SlotScore:
    """A slot's score, the counts it comes from, and why."""

    slot_id: int
    score: float
    yes: int
    if_need_be: int
    no: int
    over_capacity: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Recommendation:
    """The recommended slot (None when there is nothing to recommend), every slot's score in
    the heat map's order, and the reasoning behind the choice."""

    slot_id: int | None
    scores: tuple[SlotScore, ...]
    reasons: tuple[Reason, ...]

    def score_of(self, slot_id: int) -> SlotScore:
        """The score of one slot."""
        return next(s for s in self.scores if s.slot_id == slot_id)


@dataclass(frozen=True)
class LocalSlot:
    """A slot as a reader in ``zone`` sees it."""

    slot_id: int
    zone: str  # the zone written out, e.g. America/Vancouver
    day: date  # the reader's day (a date-only slot's own day)
    start: datetime | None  # aware, in ``zone``; None for a date-only slot
    end: datetime | None
    all_day: bool
    other_day: bool  # the reader's day is not the day in the poll's zone


# -- time zones --------------------------------------------------------------------------------


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(name: str) -> ZoneInfo:
    """The IANA zone, or a DomainError naming it."""
    if name not in known_zones():
        raise DomainError(N_("Unknown time zone %(zone)s."), zone=repr(name))
    return ZoneInfo(name)


def local_to_utc(local: datetime, zone_name: str) -> datetime:
    """A wall-clock time in ``zone_name`` as an aware UTC datetime. A time the clocks skip
    (the hour lost in spring) is refused, naming it; a time that happens twice (the hour
    repeated in autumn) is the first occurrence. An aware datetime is only converted."""
    zone = _zone(zone_name)
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    first = local.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise DomainError(
            N_(
                "%(time)s does not exist in %(zone)s: the clocks go forward at that time. "
                "Choose another time."
            ),
            time=local.strftime("%Y-%m-%d %H:%M"),
            zone=zone_name,
        )
    return first.astimezone(UTC)


def slot_in_zone(slot: Slot, zone_name: str) -> LocalSlot:
    """The slot in a reader's zone, with the zone written out. An empty or unknown zone is
    the poll's own. A date-only slot keeps its day, whatever the zone."""
    zone_name = zone_name if zone_name in known_zones() else slot.timezone
    if slot.starts_at is None or slot.ends_at is None:
        assert slot.day is not None
        return LocalSlot(slot.id, zone_name, slot.day, None, None, True, False)
    zone = ZoneInfo(zone_name)
    start, end = slot.starts_at.astimezone(zone), slot.ends_at.astimezone(zone)
    return LocalSlot(
        slot.id, zone_name, start.date(), start, end, False, start.date() != slot.local_day
    )


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


def _one_line(value: str) -> bool:
    return not any(ord(char) < 32 for char in value)


def _deadline(deadline_at: datetime | None, zone_name: str) -> datetime | None:
    """An aware deadline, or a naive one read in the poll's zone; it must be in the future."""
    if deadline_at is None:
        return None
    deadline = local_to_utc(deadline_at, zone_name)
    if deadline <= utcnow():
        raise DomainError(N_("The deadline must be in the future."))
    return deadline


def _audit(session: Session, poll: Poll, actor: str, action: str, **details: Any) -> None:
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
    if not _one_line(title) or len(title) > MAX_TITLE:
        raise DomainError(
            N_("The title must fit on one line, in at most %(count)d characters."),
            count=MAX_TITLE,
        )
    _zone(timezone)
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
    _audit(session, poll, actor, "created")
    return poll.id


def set_deadline(
    session: Session, poll_id: int, deadline_at: datetime | None, *, actor: str
) -> None:
    """Move the deadline (a naive one is read in the poll's zone), or remove it with None."""
    poll = poll_of(session, poll_id)
    poll.deadline_at = _deadline(deadline_at, poll.timezone)
    _audit(
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
    _audit(session, poll, actor, "closed")
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
    _audit(session, poll, actor, "reopened")
    return True


# -- slots -------------------------------------------------------------------------------------


def _slot(row: PollSlot, zone_name: str) -> Slot:
    return Slot(
        id=row.id,
        poll_id=row.poll_id,
        starts_at=row.starts_at,
        day=row.day,
        duration_minutes=row.duration_minutes,
        place=row.place,
        capacity=row.capacity,
        position=row.position,
        timezone=zone_name,
    )


def _order(slot: Slot) -> tuple[date, int, datetime, int, int]:
    """Day by day in the poll's zone: the date-only slots of a day first, then the timed ones
    by start; then by position."""
    start = slot.starts_at or datetime.min.replace(tzinfo=UTC)
    return (slot.local_day, 0 if slot.all_day else 1, start, slot.position, slot.id)


def slots_of(session: Session, poll_id: int) -> list[Slot]:
    """The poll's slots in order (see :func:`_order`)."""
    poll = poll_of(session, poll_id)
    rows = session.scalars(select(PollSlot).where(PollSlot.poll_id == poll_id))
    return sorted((_slot(row, poll.timezone) for row in rows), key=_order)


def _slot_row(session: Session, poll_id: int, slot_id: int) -> PollSlot:
    row = session.get(PollSlot, slot_id)
    if row is None or row.poll_id != poll_id:
        raise NotFound(N_("No such slot in this poll."))
    return row


def _when(
    poll: Poll, start_local: datetime | None, day: date | None
) -> tuple[datetime | None, date | None]:
    """A slot's ``starts_at`` (UTC) or ``day``: exactly one of them."""
    if (start_local is None) == (day is None):
        raise DomainError(N_("Give a slot either a start time or a whole day."))
    if start_local is not None:
        return local_to_utc(start_local, poll.timezone), None
    assert day is not None
    if isinstance(day, datetime):
        raise TypeError("a date-only slot takes a date, not a datetime")
    return None, day


def _check_future(poll: Poll, starts_at: datetime | None, day: date | None) -> None:
    now = utcnow()
    if starts_at is not None and starts_at <= now:
        when = starts_at.astimezone(_zone(poll.timezone)).strftime("%Y-%m-%d %H:%M")
        raise DomainError(N_("%(when)s is already past."), when=when)
    if day is not None and day < now.astimezone(_zone(poll.timezone)).date():
        raise DomainError(N_("%(when)s is already past."), when=day.isoformat())


def _check_details(duration_minutes: int, place: str, capacity: int | None) -> str:
    """Refuse a duration, place or capacity that makes no sense; returns the place, trimmed."""
    if (
        isinstance(duration_minutes, bool)
        or not isinstance(duration_minutes, int)
        or not MIN_DURATION <= duration_minutes <= MAX_DURATION
    ):
        raise DomainError(N_("A slot lasts from 15 minutes to 12 hours."))
    place = place.strip()
    if not _one_line(place) or len(place) > MAX_PLACE:
        raise DomainError(
            N_("The place must fit on one line, in at most %(count)d characters."),
            count=MAX_PLACE,
        )
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
    ):
        raise DomainError(N_("A capacity is a whole number, at least 1; leave it empty for none."))
    return place


def _check_unique(
    session: Session,
    poll: Poll,
    starts_at: datetime | None,
    day: date | None,
    place: str,
    but: int | None = None,
) -> None:
    for other in slots_of(session, poll.id):
        if other.id == but:
            continue
        same_place = other.place.casefold() == place.casefold()
        if same_place and other.starts_at == starts_at and other.day == day:
            raise DomainError(N_("The poll already has this slot."))


def add_slot(
    session: Session,
    poll_id: int,
    *,
    start_local: datetime | None = None,
    day: date | None = None,
    duration_minutes: int = 120,
    place: str = "",
    capacity: int | None = None,
    actor: str,
) -> int:
    """Add a candidate slot; returns its id.

    A timed slot is given as a naive local time in the poll's zone (see :func:`local_to_utc`
    for the days the clocks change) and stored in UTC; a date-only slot keeps its ``day``.
    A slot must be in the future, last 15 minutes to 12 hours, and not repeat another slot at
    the same time and place. ``capacity`` is how many people the place holds (None: no limit).
    """
    poll = poll_of(session, poll_id)
    starts_at, day = _when(poll, start_local, day)
    place = _check_details(duration_minutes, place, capacity)
    _check_future(poll, starts_at, day)
    _check_unique(session, poll, starts_at, day, place)
    last = session.scalar(select(func.max(PollSlot.position)).where(PollSlot.poll_id == poll_id))
    row = PollSlot(
        poll_id=poll_id,
        starts_at=starts_at,
        day=day,
        duration_minutes=duration_minutes,
        place=place,
        capacity=capacity,
        position=0 if last is None else last + 1,
    )
    session.add(row)
    session.flush()
    _audit(session, poll, actor, "slot_added", slot_id=row.id)
    return row.id


def change_slot(
    session: Session,
    poll_id: int,
    slot_id: int,
    *,
    start_local: datetime | None = None,
    day: date | None = None,
    duration_minutes: int,
    place: str,
    capacity: int | None,
    actor: str,
) -> None:
    """Change a slot, every field given as in :func:`add_slot`. The place and the capacity can
    always change; the time and the duration only while nobody has answered for the slot (the
    answers were about that time: remove the slot and add another instead)."""
    poll = poll_of(session, poll_id)
    row = _slot_row(session, poll_id, slot_id)
    starts_at, day = _when(poll, start_local, day)
    place = _check_details(duration_minutes, place, capacity)
    moved = (starts_at, day, duration_minutes) != (row.starts_at, row.day, row.duration_minutes)
    if moved:
        answered = session.scalar(
            select(func.count()).select_from(PollAnswer).where(PollAnswer.slot_id == slot_id)
        )
        if answered:
            raise DomainError(
                N_(
                    "People have answered for this slot: to change its time or its duration, "
                    "remove it and add another."
                )
            )
        _check_future(poll, starts_at, day)
    _check_unique(session, poll, starts_at, day, place, but=slot_id)
    row.starts_at, row.day, row.duration_minutes = starts_at, day, duration_minutes
    row.place, row.capacity = place, capacity
    session.flush()
    _audit(session, poll, actor, "slot_changed", slot_id=slot_id)


def remove_slot(session: Session, poll_id: int, slot_id: int, *, actor: str) -> int:
    """Remove a slot, and with it every answer given for it (allowed even once people have
    answered: the audit log keeps how many answers went). Returns that number."""
    poll = poll_of(session, poll_id)
    row = _slot_row(session, poll_id, slot_id)
    removed = session.execute(delete(PollAnswer).where(PollAnswer.slot_id == slot_id))
    count = int(getattr(removed, "rowcount", 0) or 0)
    session.delete(row)
    session.flush()
    _audit(session, poll, actor, "slot_removed", slot_id=slot_id, answers=count)
    return count


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
    _audit(session, poll, actor, "role_set", person_id=person_id, role=str(role), weight=weight)


def remove_role(session: Session, poll_id: int, person_id: int, *, actor: str) -> bool:
    """The person is no longer a key person of the poll; False when they were not one."""
    poll = poll_of(session, poll_id)
    removed = session.execute(
        delete(PollRole).where(PollRole.poll_id == poll_id, PollRole.person_id == person_id)
    )
    if not getattr(removed, "rowcount", 0):
        return False
    _audit(session, poll, actor, "role_removed", person_id=person_id)
    return True


def _name(first: str, last: str, email: str) -> str:
    return f"{first} {last}".strip() or email


def roles_of(session: Session, poll_id: int) -> list[KeyPerson]:
    """The poll's key people: facilitators first, then sponsors, by name."""
    rows = session.execute(
        select(PollRole, Person.first_name, Person.last_name, Person.email)
        .join(Person, Person.id == PollRole.person_id)
        .where(PollRole.poll_id == poll_id)
    ).all()
    people = [
        KeyPerson(role.person_id, _name(first, last, email), role.role, role.weight)
        for role, first, last, email in rows
    ]
    order = {KeyRole.FACILITATOR: 0, KeyRole.SPONSOR: 1}
    return sorted(
        people, key=lambda k: (order.get(KeyRole(k.role), 2), k.name.casefold(), k.person_id)
    )


# -- answering ---------------------------------------------------------------------------------


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
    people = [Participant(pid, _name(first, last, email)) for pid, first, last, email in rows]
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
    # Answered: the availability campaign's reminders stop for this person.
    session.execute(
        update(Membership)
        .where(Membership.community_id == poll.community_id, Membership.person_id == person_id)
        .values(answered_at=now)
    )
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


# -- the heat map ------------------------------------------------------------------------------


def slot_answers(
    slot: Slot, eligible: Sequence[Participant], answers: Mapping[int, Availability]
) -> SlotAnswers:
    """A slot's column of the heat map from each eligible person's answer (by person id);
    answers of anyone else are left out."""
    grouped: dict[Availability | None, list[Participant]] = {
        Availability.YES: [],
        Availability.IF_NEED_BE: [],
        Availability.NO: [],
        None: [],
    }
    kept: dict[int, Availability] = {}
    for person in eligible:
        given = answers.get(person.person_id)
        grouped[given].append(person)
        if given is not None:
            kept[person.person_id] = given
    return SlotAnswers(
        slot,
        tuple(grouped[Availability.YES]),
        tuple(grouped[Availability.IF_NEED_BE]),
        tuple(grouped[Availability.NO]),
        tuple(grouped[None]),
        kept,
    )


def heat_map(session: Session, poll_id: int) -> HeatMap:
    """Who can come to each slot, who can if need be, who cannot, who has not answered;
    only the answers of people who may answer (someone who withdrew no longer counts)."""
    poll = poll_of(session, poll_id)
    slots = slots_of(session, poll_id)
    eligible = eligible_people(session, poll_id)
    ids = {p.person_id for p in eligible}
    by_slot: dict[int, dict[int, Availability]] = {slot.id: {} for slot in slots}
    answered: set[int] = set()
    for slot_id, person_id, value in session.execute(
        select(PollAnswer.slot_id, PollAnswer.person_id, PollAnswer.answer).where(
            PollAnswer.poll_id == poll_id
        )
    ):
        if person_id in ids and slot_id in by_slot:
            by_slot[slot_id][person_id] = Availability(value)
            answered.add(person_id)
    names = {p.person_id: p for p in eligible}
    comments = tuple(
        (names[person_id], text)
        for person_id, text in session.execute(
            select(PollComment.person_id, PollComment.comment)
            .where(PollComment.poll_id == poll_id)
            .order_by(PollComment.updated_at, PollComment.id)
        )
        if person_id in names and text
    )
    return HeatMap(
        poll_id=poll.id,
        timezone=poll.timezone,
        slots=tuple(slot_answers(slot, eligible, by_slot[slot.id]) for slot in slots),
        eligible=tuple(eligible),
        not_answered=tuple(p for p in eligible if p.person_id not in answered),
        comments=comments,
    )


# -- the counts, in SQL -----------------------------------------------------------------------

_IN_CHUNK = 500  # person ids per IN (...) list


def _may_answer(poll: Poll, person_id: Any) -> ColumnElement[bool]:
    """SQL: whether the person ``person_id`` (a column) may answer the poll, as in
    :func:`eligible_people`."""
    key_people = select(PollRole.person_id).where(PollRole.poll_id == poll.id)
    return (
        select(Membership.id)
        .where(
            Membership.community_id == poll.community_id,
            Membership.person_id == person_id,
            or_(Membership.state.in_(ANSWERING), Membership.person_id.in_(key_people)),
        )
        .exists()
    )


def _others_who_answered(session: Session, poll: Poll) -> list[int]:
    """The people who answered the poll but may no longer answer it (who withdrew, whose key
    role went): usually none. The answerers are found by one index probe each on
    ``(poll_id, person_id)``, not by reading every answer."""
    following = aliased(PollAnswer)
    first = select(func.min(PollAnswer.person_id).label("person_id")).where(
        PollAnswer.poll_id == poll.id
    )
    answerers = first.cte("answerers", recursive=True)
    step = (
        select(func.min(following.person_id))
        .where(following.poll_id == poll.id, following.person_id > answerers.c.person_id)
        .scalar_subquery()
    )
    answerers = answerers.union_all(select(step).where(answerers.c.person_id.is_not(None)))
    return list(
        session.scalars(
            select(answerers.c.person_id).where(
                answerers.c.person_id.is_not(None), ~_may_answer(poll, answerers.c.person_id)
            )
        )
    )


def _answer_totals(session: Session, poll_id: int) -> dict[int, dict[Availability, int]]:
    """How many answered yes, if need be and no for each slot of the poll, whoever they are:
    three counts per slot, each one range of the index on ``(poll_id, slot_id, answer)``."""

    def count(value: Availability) -> Any:
        return (
            select(func.count())
            .select_from(PollAnswer)
            .where(
                PollAnswer.poll_id == poll_id,
                PollAnswer.slot_id == PollSlot.id,
                PollAnswer.answer == str(value),
            )
            .correlate(PollSlot)
            .scalar_subquery()
        )

    order = (Availability.YES, Availability.IF_NEED_BE, Availability.NO)
    return {
        slot_id: dict(zip(order, numbers, strict=True))
        for slot_id, *numbers in session.execute(
            select(PollSlot.id, *(count(value) for value in order)).where(
                PollSlot.poll_id == poll_id
            )
        )
    }


def _take_off(
    session: Session, poll_id: int, people: list[int], totals: dict[int, dict[Availability, int]]
) -> None:
    """Take the answers of ``people`` off ``totals``."""
    for start in range(0, len(people), _IN_CHUNK):
        for slot_id, value, number in session.execute(
            select(PollAnswer.slot_id, PollAnswer.answer, func.count())
            .where(
                PollAnswer.poll_id == poll_id,
                PollAnswer.person_id.in_(people[start : start + _IN_CHUNK]),
            )
            .group_by(PollAnswer.slot_id, PollAnswer.answer)
        ):
            if slot_id in totals and value in totals[slot_id]:
                totals[slot_id][Availability(value)] -= number


def _key_answers(session: Session, poll: Poll) -> dict[int, dict[int, Availability]]:
    """The key people's answers, by slot id then person id; a key person may answer whatever
    their state, while they are in the community."""
    key_people = list(
        session.scalars(
            select(PollRole.person_id)
            .join(
                Membership,
                (Membership.community_id == poll.community_id)
                & (Membership.person_id == PollRole.person_id),
            )
            .where(PollRole.poll_id == poll.id)
        )
    )
    found: dict[int, dict[int, Availability]] = {}
    if key_people:
        for slot_id, person_id, value in session.execute(
            select(PollAnswer.slot_id, PollAnswer.person_id, PollAnswer.answer).where(
                PollAnswer.poll_id == poll.id, PollAnswer.person_id.in_(key_people)
            )
        ):
            found.setdefault(slot_id, {})[person_id] = Availability(value)
    return found


def slot_counts(session: Session, poll_id: int) -> list[SlotCounts]:
    """Each slot's counts, in order, for the recommendation: only the answers of those who may
    answer (as in :func:`heat_map`), and the key people's own answers; counted in SQL.

    Every answer of the poll is counted, per slot and answer, on the index on
    ``(poll_id, slot_id, answer)``; then the answers of those who answered but may no longer
    answer (usually nobody) are taken off. Neither reads every answer row, nor any name."""
    poll = poll_of(session, poll_id)
    slots = slots_of(session, poll_id)
    totals = _answer_totals(session, poll_id)
    _take_off(session, poll_id, _others_who_answered(session, poll), totals)
    keys = _key_answers(session, poll)
    return [
        SlotCounts(
            slot,
            totals[slot.id][Availability.YES],
            totals[slot.id][Availability.IF_NEED_BE],
            totals[slot.id][Availability.NO],
            keys.get(slot.id, {}),
        )
        for slot in slots
    ]


# -- the recommendation: pure functions -----------------------------------------------------

COUNTS = N_("%(yes)d can come, %(if_need_be)d if need be, %(no)d cannot.")
OVER_CAPACITY = N_("%(expected)d would come: over the room's capacity of %(capacity)d.")
KEY_REASONS: dict[tuple[str, Availability | None], str] = {
    (KeyRole.FACILITATOR, Availability.YES): N_("%(name)s, the facilitator, can come."),
    (KeyRole.FACILITATOR, Availability.IF_NEED_BE): N_(
        "%(name)s, the facilitator, can come only if need be."
    ),
    (KeyRole.FACILITATOR, Availability.NO): N_("%(name)s, the facilitator, cannot come."),
    (KeyRole.FACILITATOR, None): N_("%(name)s, the facilitator, has not answered."),
    (KeyRole.SPONSOR, Availability.YES): N_("%(name)s, the sponsor, can come."),
    (KeyRole.SPONSOR, Availability.IF_NEED_BE): N_(
        "%(name)s, the sponsor, can come only if need be."
    ),
    (KeyRole.SPONSOR, Availability.NO): N_("%(name)s, the sponsor, cannot come."),
    (KeyRole.SPONSOR, None): N_("%(name)s, the sponsor, has not answered."),
}
NO_SLOT = N_("There is no slot to choose from yet.")
NO_ANSWER = N_("Nobody has answered yet.")
NOBODY_CAN_COME = N_("Nobody can come to any slot.")
TIED_MORE_YES = N_("Tied on score with another slot: more people can come to this one.")
TIED_FEWER_NO = N_(
    "Tied on score and on who can come with another slot: fewer people cannot come to this one."
)
TIED_EARLIEST = N_("Tied with another slot on every count: this one is the earliest.")


def score_counts(column: SlotCounts, roles: Sequence[KeyPerson] = ()) -> SlotScore:
    """One slot's score and reasoning from its counts (the formula is in this module's
    docstring)."""
    yes, maybe, no = column.yes, column.if_need_be, column.no
    reasons = [Reason(COUNTS, {"yes": yes, "if_need_be": maybe, "no": no})]
    key_worth: list[float] = []  # value × weight of each key person who can come
    plain_yes, plain_maybe = yes, maybe
    for key in {k.person_id: k for k in roles}.values():  # a person counts once
        given = column.key_answers.get(key.person_id)
        message = KEY_REASONS.get((key.role, given))
        if message:
            reasons.append(Reason(message, {"name": key.name}))
        if given == Availability.YES:
            plain_yes -= 1
        elif given == Availability.IF_NEED_BE:
            plain_maybe -= 1
        if given is not None and VALUE[given] > 0:
            key_worth.append(VALUE[given] * key.weight)
    seats: float = math.inf if column.slot.capacity is None else column.slot.capacity
    score = 0.0
    for worth in sorted(key_worth, reverse=True)[: int(min(seats, len(key_worth)))]:
        score += worth
    seats -= min(seats, len(key_worth))
    seated_yes = min(plain_yes, seats)
    seated_maybe = min(plain_maybe, seats - seated_yes)
    score += seated_yes + 0.5 * seated_maybe
    expected = yes + maybe
    over = column.slot.capacity is not None and expected > column.slot.capacity
    if over:
        reasons.append(
            Reason(OVER_CAPACITY, {"expected": expected, "capacity": column.slot.capacity})
        )
    return SlotScore(column.slot.id, round(score, 3), yes, maybe, no, over, tuple(reasons))


def score_slot(column: SlotAnswers, roles: Sequence[KeyPerson] = ()) -> SlotScore:
    """One slot's score and reasoning from its column of the heat map."""
    return score_counts(column.tally(roles), roles)


def _rank(score: SlotScore, index: int) -> tuple[float, int, int, int]:
    return (-score.score, -score.yes, score.no, index)


def recommend_counts(
    columns: Sequence[SlotCounts], roles: Sequence[KeyPerson] = ()
) -> Recommendation:
    """Score every slot (in order) and pick the best (see this module's docstring for the
    formula and the ties). ``reasons`` explains the choice: the chosen slot's own reasons and,
    when another slot has the same score, what decided between them; or why nothing is
    recommended."""
    scores = tuple(score_counts(column, roles) for column in columns)
    if not scores:
        return Recommendation(None, scores, (Reason(NO_SLOT, {}),))
    if not any(column.answered for column in columns):
        return Recommendation(None, scores, (Reason(NO_ANSWER, {}),))
    ranked = sorted(range(len(scores)), key=lambda i: _rank(scores[i], i))
    best = scores[ranked[0]]
    if best.score <= 0:
        return Recommendation(None, scores, (Reason(NOBODY_CAN_COME, {}),))
    reasons = list(best.reasons)
    tied = [scores[i] for i in ranked[1:] if scores[i].score == best.score]
    if tied:
        if all(best.yes > other.yes for other in tied):
            reasons.append(Reason(TIED_MORE_YES, {}))
        elif all(best.no < other.no for other in tied if other.yes == best.yes):
            reasons.append(Reason(TIED_FEWER_NO, {}))
        else:
            reasons.append(Reason(TIED_EARLIEST, {}))
    return Recommendation(best.slot_id, scores, tuple(reasons))


def recommend(heat_map: HeatMap, roles: Sequence[KeyPerson] = ()) -> Recommendation:
    """The recommendation from a heat map: :func:`recommend_counts` of its columns' counts."""
    return recommend_counts([column.tally(roles) for column in heat_map.slots], roles)


def recommendation_of(session: Session, poll_id: int) -> Recommendation:
    """The poll's recommendation, from the counts in SQL (:func:`slot_counts`): what the
    command line and the coordinator's choice of a slot need, without anyone's name."""
    return recommend_counts(slot_counts(session, poll_id), roles_of(session, poll_id))


def recommendation_for(session: Session, poll_id: int) -> tuple[HeatMap, Recommendation]:
    """The poll's heat map, every name included, and its recommendation (the same as
    :func:`recommendation_of`, scored from the map itself): for a page that shows the names.
    Its cost grows with people × slots in Python; for the recommendation alone, use
    :func:`recommendation_of`."""
    answers = heat_map(session, poll_id)
    return answers, recommend(answers, roles_of(session, poll_id))


# -- the command line --------------------------------------------------------------------------

POLL_COLUMNS = ["slot_id", "start", "yes", "if_need_be", "no", "score", "recommended"]


def slot_start(slot: Slot) -> str:
    """ISO 8601: the start with its offset in the poll's zone, or the day of a date-only slot."""
    if slot.starts_at is None:
        assert slot.day is not None
        return slot.day.isoformat()
    return slot.starts_at.astimezone(_zone(slot.timezone)).isoformat()


def poll_rows(session: Session, poll_id: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The poll as ``amorce meetings poll`` prints it: the columns, then one row per slot."""
    columns = slot_counts(session, poll_id)
    recommendation = recommend_counts(columns, roles_of(session, poll_id))
    rows = []
    for column, score in zip(columns, recommendation.scores, strict=True):
        rows.append(
            {
                "slot_id": column.slot.id,
                "start": slot_start(column.slot),
                "yes": score.yes,
                "if_need_be": score.if_need_be,
                "no": score.no,
                "score": score.score,
                "recommended": column.slot.id == recommendation.slot_id,
            }
        )
    return list(POLL_COLUMNS), rows
