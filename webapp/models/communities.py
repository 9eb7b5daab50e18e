"""A community of practice and its sender identity."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class Stage(enum.StrEnum):
    """Where the community is in its life."""

    RECRUITING = "recruiting"
    SELECTING = "selecting"
    FOUNDING = "founding"
    ACTIVE = "active"


class Community(Base):
    """A community of practice, with what it offers and who sends on its behalf."""

    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    domain: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    benefits: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What taking part asks: time, rhythm (shown on the public page and in recruitment emails).
    commitment: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    timezone: Mapped[str] = mapped_column(String(64), default="America/Toronto")
    stage: Mapped[str] = mapped_column(String(20), default=Stage.RECRUITING)
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    organization: Mapped[str] = mapped_column(String(200), default="")
    postal_address: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    # Send a short "Merci, c'est noté" to people who reply in their own words.
    acknowledge_replies: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
