"""Recurring activities: a series generated from a recurrence rule, whose occurrences are meetings
(their RSVPs, reminders and calendar identity come with them), the members' feedback after each,
and the topics they propose for the next ones."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class SeriesState(enum.StrEnum):
    """Whether a series still generates occurrences."""

    ACTIVE = "active"
    ENDED = "ended"


class ActivityFormat(enum.StrEnum):
    """Where the members meet."""

    IN_PERSON = "in_person"
    ONLINE = "online"
    HYBRID = "hybrid"


class ActivityStep(enum.StrEnum):
    """What an activity campaign asks of its recipients."""

    NEEDS = "needs"  # answer the needs-and-availability survey (again, each cycle)
    FEEDBACK = "feedback"  # those who came: was it useful, what next
    SUMMARY = "summary"  # the facilitator: post a summary
    TOPICS = "topics"  # the other members: what should the next ones be about
    REENGAGE = "reengage"  # members gone quiet: the next activities, and what would help


class ActivitySeries(Base):
    """A rhythm the coordinator confirmed: its RRULE from the first start, in its time zone; the
    activity types in rotation; the dates skipped (EXDATE) as local ISO times."""

    __tablename__ = "activity_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)  # DTSTART, the first occurrence
    duration_minutes: Mapped[int] = mapped_column(default=90)
    place: Mapped[str] = mapped_column(String(300), default="")
    format: Mapped[str] = mapped_column(String(12), default=ActivityFormat.ONLINE)
    activity_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    exdates: Mapped[list[str]] = mapped_column(JSON, default=list)
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(10), default=SeriesState.ACTIVE)
    # Each occurrence's invitation goes this many days before it; reminders as for a meeting.
    invite_days: Mapped[int] = mapped_column(default=14)
    reminder_minutes: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1440, 120])
    # A member is going quiet after this many occurrences with neither an RSVP nor a check-in.
    quiet_after: Mapped[int] = mapped_column(default=3)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ActivityFeedback(Base):
    """What one member who came thought of one occurrence."""

    __tablename__ = "activity_feedback"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    usefulness: Mapped[int | None] = mapped_column(default=None)  # 1 (not useful) to 5
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TopicProposal(Base):
    """A topic a member (or a coordinator) proposes for a coming occurrence; ``meeting_id`` is
    the occurrence it was given to, once given."""

    __tablename__ = "topic_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("activity_series.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), default=None
    )
    text: Mapped[str] = mapped_column(String(300))
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
