"""Campaigns and their outbox: one delivery row per recipient and step."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class CampaignKind(enum.StrEnum):
    """Which step of the process a campaign serves."""

    RECRUITMENT = "recruitment"
    APPLICATION = "application"
    DECISION = "decision"  # selected, waitlisted or declined: the audience's state says which
    AVAILABILITY = "availability"
    INVITATION = "invitation"
    CHARTER = "charter"
    ACTIVITY = "activity"
    ANNOUNCEMENT = "announcement"


class CampaignState(enum.StrEnum):
    """A campaign's life."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DeliveryState(enum.StrEnum):
    """An outbox row's life."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    UNKNOWN = "unknown"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"  # a reminder nobody needs: the person answered first
    CANCELLED = "cancelled"  # the campaign was cancelled before this row was sent


class UnknownPolicy(enum.StrEnum):
    """What happens to a send whose outcome was lost (a crash or a drop after DATA)."""

    RESEND = "resend"  # send it again: at worst a duplicate
    HOLD = "hold"  # keep it for the coordinator, who resends or drops it


class PauseReason(enum.StrEnum):
    """Why a campaign is paused."""

    COORDINATOR = "coordinator"
    ERRORS = "errors"  # too many failed sends in a row


class Campaign(Base):
    """A message to an audience of a community, written per language."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    audience_state: Mapped[str] = mapped_column(String(20))
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default=CampaignState.DRAFT)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    excluded: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Audience beyond the membership state: {"answered": "yes"|"no", "responded": {kind: bool}}
    audience_filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    paused_reason: Mapped[str] = mapped_column(String(20), default="")
    consecutive_errors: Mapped[int] = mapped_column(default=0)
    unknown_policy: Mapped[str] = mapped_column(String(10), default=UnknownPolicy.RESEND)
    # Reminders to those who have not answered: rows of later steps, due when the policy says.
    reminder_count: Mapped[int] = mapped_column(default=0)
    reminder_gap_days: Mapped[int] = mapped_column(default=3)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    quiet_start: Mapped[int | None] = mapped_column(default=None)  # local hour, 0-23
    quiet_end: Mapped[int | None] = mapped_column(default=None)
    # What an availability or invitation campaign is about.
    poll_id: Mapped[int | None] = mapped_column(
        ForeignKey("polls.id", ondelete="SET NULL"), default=None
    )
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="SET NULL"), default=None
    )
    # What a charter campaign asks: to answer the questionnaire, to vote, to consent.
    charter_stage: Mapped[str | None] = mapped_column(String(12), default=None)
    # The statements a vote's email numbers, in its order (ids), fixed at launch: a reply's
    # "3 d'accord" is about the third.
    charter_statements: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    # What an activity campaign asks (models.activities.ActivityStep); its meeting_id is the
    # occurrence a feedback, summary or topics campaign follows.
    activity_step: Mapped[str | None] = mapped_column(String(12), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """The outbox: one row per campaign × person × step, claimed before it is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "person_id", "step"),
        Index("ix_deliveries_campaign_state_due", "campaign_id", "state", "due_at"),
        Index("ix_deliveries_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    message_id: Mapped[str] = mapped_column(String(300), default="", index=True)
    unknown_count: Mapped[int] = mapped_column(default=0)  # times its outcome was lost
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
