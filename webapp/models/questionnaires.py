"""Questionnaire definitions (versioned) and the responses to them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class QuestionnaireKind(enum.StrEnum):
    """What a questionnaire is for."""

    INTEREST = "interest"
    APPLICATION = "application"  # the volunteer application, scored by the rubric
    CHARTER = "charter"  # the members' answers the charter is drafted from
    NEEDS = "needs"  # the activities members want, how often and when: the rhythm's source


class ResponseChannel(enum.StrEnum):
    """How an answer reached Amorce."""

    WEB = "web"
    EMAIL = "email"


class Questionnaire(Base):
    """A questionnaire of a community, with its definition frozen per version."""

    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("community_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    anonymity: Mapped[str] = mapped_column(String(20), default="named")
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Response(Base):
    """One person's answers to one questionnaire."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("questionnaire_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE")
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    channel: Mapped[str] = mapped_column(String(10), default=ResponseChannel.WEB)
    complete: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
