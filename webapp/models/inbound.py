"""Received mail: each message stored raw, then what Amorce read in it and what it did."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from .base import Base, UTCDateTime, utcnow


class InboundKind(enum.StrEnum):
    """What a received message is."""

    REPLY = "reply"  # a person's own words
    AUTO_REPLY = "auto_reply"  # out-of-office, list echo, other robots
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"
    CALENDAR_REPLY = "calendar_reply"  # iMIP METHOD:REPLY
    UNATTRIBUTED = "unattributed"  # no valid signed address: never acted upon


class Intent(enum.StrEnum):
    """What the person means."""

    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    MAYBE = "maybe"
    ATTENDING = "attending"
    NOT_ATTENDING = "not_attending"
    QUESTION = "question"
    UNKNOWN = "unknown"


class InboundState(enum.StrEnum):
    """Where a message is in the pipeline."""

    RECEIVED = "received"  # stored, waiting for the worker
    PROCESSING = "processing"  # a worker holds it since claimed_at
    PROCESSED = "processed"
    FAILED = "failed"  # the pipeline raised; kept for a person to look at


class InboundMessage(Base):
    """One received message, deduplicated by its Message-ID (or its bytes when it has none)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index("ix_inbound_messages_community_received", "community_id", "received_at"),
        Index("ix_inbound_messages_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str] = mapped_column(String(300), default="")
    channel: Mapped[str] = mapped_column(String(10))  # smtp | imap | webhook | devmail
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    recipients: Mapped[str] = mapped_column(Text, default="")  # envelope recipients, one per line
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)  # None once purged
    size: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(10), default=InboundState.RECEIVED)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # What the pipeline read.
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), default=None
    )
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), default=None
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="")
    intent: Mapped[str] = mapped_column(String(20), default=Intent.UNKNOWN)
    confidence: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str] = mapped_column(String(60), default="")  # why this kind (R1 header, …)
    subject: Mapped[str] = mapped_column(String(300), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")  # From:, shown, never trusted
    text: Mapped[str] = mapped_column(Text, default="")  # the new text, quotes stripped
    action: Mapped[str | None] = mapped_column(String(30), default=None)
    needs_review: Mapped[bool] = mapped_column(default=False)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answer_text: Mapped[str] = mapped_column(Text, default="")  # the coordinator's reply
    answer_queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answer_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    error: Mapped[str] = mapped_column(Text, default="")

    @validates(
        "message_id",
        "envelope_from",
        "recipients",
        "subject",
        "sender",
        "text",
        "answer_text",
        "error",
    )
    def _storable(self, _key: str, value: str) -> str:
        """Text from the wire, made storable everywhere: no NUL (PostgreSQL refuses it), no
        lone surrogate."""
        if not value:
            return value
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
