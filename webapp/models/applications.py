"""Selection of volunteers: the rubric's criteria and reviewers' ratings."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class CriterionSource(enum.StrEnum):
    """Where a criterion's value comes from."""

    ANSWER = "answer"  # an answer of the application questionnaire, worth points
    RATING = "rating"  # reviewers' ratings from 0 to 5


class Criterion(Base):
    """One criterion of a community's rubric: what it is worth and how it is scored."""

    __tablename__ = "criteria"
    __table_args__ = (UniqueConstraint("community_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(40))  # a short name, a column of the ranking
    label: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {"fr": …, "en": …}
    weight: Mapped[float] = mapped_column(default=1.0)
    source: Mapped[str] = mapped_column(String(10), default=CriterionSource.RATING)
    question: Mapped[str] = mapped_column(String(60), default="")  # for ANSWER
    # For ANSWER: {"points": {value: points}} for choices, or {"min": a, "max": b} for numbers.
    scoring: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """A reviewer's rating of an applicant on one criterion, from 0 to 5."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("criterion_id", "person_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
