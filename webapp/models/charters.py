"""The charter, drafted together: statements drawn from the members' answers, their votes, the
draft's sections, amendments, the consent round, and every adopted version."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class CharterStage(enum.StrEnum):
    """Where the drafting stands."""

    COLLECTING = "collecting"  # members answer the charter questionnaire
    VOTING = "voting"  # members vote on the statements drawn from the answers
    AMENDING = "amending"  # the draft is out: members propose amendments per section
    CONSENT = "consent"  # the whole charter, consent or object with a reason
    ADOPTED = "adopted"


class Charter(Base):
    """A community's charter in the making: its stage, the consensus threshold, and the
    sections' text where the coordinators or an accepted amendment wrote it."""

    __tablename__ = "charters"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), unique=True
    )
    stage: Mapped[str] = mapped_column(String(12), default=CharterStage.COLLECTING)
    # A statement is kept when this share (percent) of the agree/disagree votes agree, with at
    # least ``min_votes`` such votes.
    threshold: Mapped[int] = mapped_column(default=60)
    min_votes: Mapped[int] = mapped_column(default=3)
    # {section: Markdown}: a section's text once written by hand; else built from statements.
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    consent_round: Mapped[int] = mapped_column(default=0)
    review_on: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StatementOrigin(enum.StrEnum):
    """Where a statement comes from."""

    ANSWERS = "answers"  # drawn from the members' answers
    COORDINATOR = "coordinator"  # written by a coordinator


class StatementState(enum.StrEnum):
    """Whether a statement is put to the vote."""

    ACTIVE = "active"
    MERGED = "merged"  # merged into another: its supporters and votes went there
    REMOVED = "removed"


class Statement(Base):
    """A short statement of one section of the charter."""

    __tablename__ = "statements"
    __table_args__ = (Index("ix_statements_community_section", "community_id", "section"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(12), default=StatementOrigin.ANSWERS)
    state: Mapped[str] = mapped_column(String(10), default=StatementState.ACTIVE)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("statements.id", ondelete="SET NULL"), default=None
    )
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StatementSupport(Base):
    """A member who wrote this statement in their answer, in their own words."""

    __tablename__ = "statement_supports"
    __table_args__ = (UniqueConstraint("statement_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    wording: Mapped[str] = mapped_column(Text, default="")


class Vote(enum.StrEnum):
    """A member's vote on a statement."""

    AGREE = "agree"
    DISAGREE = "disagree"
    PASS = "pass"


class StatementVote(Base):
    """One member's vote on one statement, and where it came from."""

    __tablename__ = "statement_votes"
    __table_args__ = (UniqueConstraint("statement_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    vote: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10), default="web")  # web, email
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AmendmentState(enum.StrEnum):
    """An amendment's life."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Amendment(Base):
    """A change proposed to one section of the draft: the text before and after."""

    __tablename__ = "amendments"
    __table_args__ = (Index("ix_amendments_community_state", "community_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), default=None
    )
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(10), default=AmendmentState.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AmendmentVote(Base):
    """A member accepts or rejects an amendment."""

    __tablename__ = "amendment_votes"
    __table_args__ = (UniqueConstraint("amendment_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    amendment_id: Mapped[int] = mapped_column(ForeignKey("amendments.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    accept: Mapped[bool] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentAnswer(enum.StrEnum):
    """A member's answer in the consent round on the whole charter."""

    CONSENT = "consent"
    OBJECT = "object"


class CharterConsent(Base):
    """One member's consent or objection (with its reason) in one consent round."""

    __tablename__ = "charter_consents"
    __table_args__ = (UniqueConstraint("community_id", "round", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column()
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CharterVersion(Base):
    """An adopted charter, frozen: its sections' headings and Markdown, in its language."""

    __tablename__ = "charter_versions"
    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    language: Mapped[str] = mapped_column(String(5), default="fr")
    # [{"key": "nature", "heading": "Nature", "text": "Markdown"}, ...]
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    review_on: Mapped[date | None] = mapped_column(Date, default=None)
    adopted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
