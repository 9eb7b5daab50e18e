"""The candidate slots of a poll, and a slot as a reader in another time zone sees it.

A timed slot is written as a local time in the poll's time zone and stored in UTC; a date-only
slot keeps its day and never shifts, whatever the reader's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from webapp.models import Poll, PollAnswer, PollSlot, utcnow

from .errors import N_, DomainError, NotFound
from .poll_zones import known_zones, local_to_utc, zone_named
from .polls import audit, is_one_line, poll_of

MIN_DURATION = 15
MAX_DURATION = 12 * 60
MAX_PLACE = 300


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
        return self.starts_at.astimezone(zone_named(self.timezone)).date()


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
        when = starts_at.astimezone(zone_named(poll.timezone)).strftime("%Y-%m-%d %H:%M")
        raise DomainError(N_("%(when)s is already past."), when=when)
    if day is not None and day < now.astimezone(zone_named(poll.timezone)).date():
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
    if not is_one_line(place) or len(place) > MAX_PLACE:
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
    audit(session, poll, actor, "slot_added", slot_id=row.id)
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
    audit(session, poll, actor, "slot_changed", slot_id=slot_id)


def remove_slot(session: Session, poll_id: int, slot_id: int, *, actor: str) -> int:
    """Remove a slot, and with it every answer given for it (allowed even once people have
    answered: the audit log keeps how many answers went). Returns that number."""
    poll = poll_of(session, poll_id)
    row = _slot_row(session, poll_id, slot_id)
    removed = session.execute(delete(PollAnswer).where(PollAnswer.slot_id == slot_id))
    count = int(getattr(removed, "rowcount", 0) or 0)
    session.delete(row)
    session.flush()
    audit(session, poll, actor, "slot_removed", slot_id=slot_id, answers=count)
    return count
