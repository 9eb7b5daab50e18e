"""The founding meeting: an availability poll over candidate slots, the meeting it leads to,
the members' RSVPs and their attendance."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class PollState(enum.StrEnum):
    """Whether members may still answer."""

    OPEN = "open"
    CLOSED = "closed"


class Availability(enum.StrEnum):
    """A member's answer for one slot."""

    YES = "yes"
    IF_NEED_BE = "if_need_be"
    NO = "no"


class Poll(Base):
    """An availability poll: candidate slots, a deadline, and the time zone it is written in."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    state: Mapped[str] = mapped_column(String(10), default=PollState.OPEN)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PollSlot(Base):
    """A candidate slot: a start (UTC) and a duration, or a whole day that never shifts with
    the reader's time zone; a place and its capacity."""

    __tablename__ = "poll_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    day: Mapped[date | None] = mapped_column(Date, default=None)  # a date-only slot
    duration_minutes: Mapped[int] = mapped_column(default=120)
    place: Mapped[str] = mapped_column(String(300), default="")
    capacity: Mapped[int | None] = mapped_column(default=None)
    position: Mapped[int] = mapped_column(default=0)


class PollAnswer(Base):
    """One member's answer for one slot."""

    __tablename__ = "poll_answers"
    __table_args__ = (
        UniqueConstraint("slot_id", "person_id"),
        Index("ix_poll_answers_poll_person", "poll_id", "person_id"),
        # The recommendation counts answers per slot straight from this index (P6).
        Index("ix_poll_answers_poll_slot_answer", "poll_id", "slot_id", "answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("poll_slots.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PollComment(Base):
    """What a member adds to their answers."""

    __tablename__ = "poll_comments"
    __table_args__ = (UniqueConstraint("poll_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyRole(enum.StrEnum):
    """Someone the meeting needs: their availability weighs more in the recommendation."""

    FACILITATOR = "facilitator"
    SPONSOR = "sponsor"


class PollRole(Base):
    """A person who must attend, and how much their availability weighs."""

    __tablename__ = "poll_roles"
    __table_args__ = (UniqueConstraint("poll_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    weight: Mapped[float] = mapped_column(default=3.0)


class MeetingState(enum.StrEnum):
    """A meeting's life."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Meeting(Base):
    """A meeting with its calendar identity: the UID stays, the SEQUENCE grows with each change."""

    __tablename__ = "meetings"
    # An occurrence of a series is generated once for each start its rule gives.
    __table_args__ = (UniqueConstraint("series_id", "recurrence_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    poll_id: Mapped[int | None] = mapped_column(
        ForeignKey("polls.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(default=120)
    timezone: Mapped[str] = mapped_column(String(64))
    place: Mapped[str] = mapped_column(String(300), default="")
    capacity: Mapped[int | None] = mapped_column(default=None)
    agenda: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(12), default=MeetingState.SCHEDULED)
    # Minutes before the start when reminders go: a week, a day, two hours by default.
    reminder_minutes: Mapped[list[int]] = mapped_column(JSON, default=lambda: [10080, 1440, 120])
    # An occurrence of a series of activities: the start the rule gave it (its RECURRENCE-ID,
    # kept when it moves), its type, topic and facilitator, the summary posted after it, and
    # when its feedback survey went.
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("activity_series.id", ondelete="CASCADE"), default=None, index=True
    )
    recurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    activity_type: Mapped[str] = mapped_column(String(30), default="")
    topic: Mapped[str] = mapped_column(String(300), default="")
    facilitator_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), default=None
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When the clock last could not send its invitation (no one to invite, no sender
    # identity): it tries again a few hours later, and the series page says so meanwhile.
    mail_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RsvpStatus(enum.StrEnum):
    """A member's answer to the invitation (no row yet: they have not answered)."""

    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"  # accepted, but the room is full: first in line for a seat


class Rsvp(Base):
    """A member's answer to a meeting, where it came from, and whether they came."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(String(12), default="web")  # web, email, calendar
    comment: Mapped[str] = mapped_column(Text, default="")
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
