"""Persons, their memberships in communities, their consent and the suppression list."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class MembershipState(enum.StrEnum):
    """A person's path through a community, from prospect to alumnus."""

    PROSPECT = "prospect"
    INVITED = "invited"
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    APPLICANT = "applicant"
    SELECTED = "selected"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    MEMBER = "member"
    ALUMNUS = "alumnus"


class Source(enum.StrEnum):
    """Where a prospect came from."""

    NETWORK = "network"
    REFERRAL = "referral"
    LIST = "list"
    SELF = "self"


class ParticipationLevel(enum.StrEnum):
    """Wenger's levels of participation."""

    CORE = "core"
    ACTIVE = "active"
    PERIPHERAL = "peripheral"


class ConsentBasis(enum.StrEnum):
    """The legal basis for contacting a person (CASL: express or implied)."""

    EXPRESS = "express"
    IMPLIED = "implied"


class Person(Base):
    """Someone Amorce may write to; has no account."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(5), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    organization: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def display_name(self) -> str:
        """First and last name, or the email when both are empty."""
        return f"{self.first_name} {self.last_name}".strip() or self.email


class Membership(Base):
    """A person in a community: state, source and participation level."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("community_id", "person_id"),
        Index("ix_memberships_community_state", "community_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=MembershipState.PROSPECT)
    source: Mapped[str] = mapped_column(String(20), default=Source.LIST)
    participation_level: Mapped[str] = mapped_column(String(20), default="")
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), default=None)
    # The secret part of this person's referral link, made the first time it is shown.
    referral_code: Mapped[str | None] = mapped_column(
        String(24), unique=True, index=True, default=None
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When the member confirmed the minimum commitments agreed at the founding meeting.
    commitments_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")


class ConsentRecord(Base):
    """Proof of consent to be contacted: basis, text version, when, how and where from."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_person_community", "person_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(40), default="contact")
    basis: Mapped[str] = mapped_column(String(20))
    text_version: Mapped[str] = mapped_column(String(40), default="")
    method: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Suppression(Base):
    """An address that must never be mailed again, kept only as a keyed hash."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("email_hash", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), default=None
    )
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
