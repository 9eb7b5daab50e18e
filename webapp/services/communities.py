"""Communities: creation, edits and who may manage them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Community,
    CommunityCoordinator,
    Membership,
    QuestionnaireKind,
    User,
)

from .errors import N_, DomainError, NotFound
from .questionnaires import ensure_questionnaire

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
LANGUAGES = ("fr", "en")


@dataclass
class CommunityData:
    """What a coordinator writes about a community."""

    name: str
    slug: str
    language: str = "fr"
    domain: str = ""
    description: str = ""
    benefits: list[str] = field(default_factory=list)
    commitment: str = ""
    timezone: str = "America/Toronto"
    sender_name: str = ""
    organization: str = ""
    postal_address: str = ""
    contact_email: str = ""
    acknowledge_replies: bool = False


def _check(data: CommunityData) -> None:
    if not data.name.strip():
        raise DomainError(N_("The community needs a name."))
    for value in (data.name, data.sender_name, data.organization, data.contact_email):
        if any(ord(char) < 32 for char in value):
            raise DomainError(N_("Names and addresses must fit on one line."))
    if not SLUG_PATTERN.match(data.slug):
        raise DomainError(
            N_("The short name %(slug)s must use lowercase letters, digits and hyphens only."),
            slug=repr(data.slug),
        )
    if data.language not in LANGUAGES:
        raise DomainError(
            N_("Unknown language %(language)s: use fr or en."), language=repr(data.language)
        )
    if data.timezone not in available_timezones():
        raise DomainError(N_("Unknown time zone %(zone)s."), zone=repr(data.timezone))


def create_community(session: Session, data: CommunityData, *, user_id: int | None = None) -> int:
    """Create a community; its creator (if any) becomes its coordinator."""
    _check(data)
    if session.scalar(select(func.count()).where(Community.slug == data.slug)):
        raise DomainError(N_("The short name %(slug)s is already taken."), slug=repr(data.slug))
    community = Community(**_values(data))
    session.add(community)
    session.flush()
    ensure_questionnaire(session, community.id, QuestionnaireKind.INTEREST)
    if user_id is not None:
        session.add(CommunityCoordinator(community_id=community.id, user_id=user_id))
    session.add(
        AuditLog(
            community_id=community.id,
            actor=f"user:{user_id}" if user_id else "cli",
            action="community.created",
            details={"slug": data.slug},
        )
    )
    return community.id


def update_community(session: Session, community_id: int, data: CommunityData) -> None:
    """Change what a coordinator wrote about a community."""
    _check(data)
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(N_("No such community."))
    taken = session.scalar(
        select(func.count()).where(Community.slug == data.slug, Community.id != community_id)
    )
    if taken:
        raise DomainError(N_("The short name %(slug)s is already taken."), slug=repr(data.slug))
    for key, value in _values(data).items():
        setattr(community, key, value)


def _values(data: CommunityData) -> dict[str, object]:
    values = dict(data.__dict__)
    values["benefits"] = [b.strip() for b in data.benefits if b.strip()]
    values["name"] = data.name.strip()
    values["commitment"] = data.commitment.strip()
    return values


def get_community_by_slug(session: Session, slug: str) -> Community:
    """The community with this slug, or :class:`NotFound`."""
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise NotFound(N_("No community has the short name %(slug)s."), slug=repr(slug))
    return community


def communities_for_user(session: Session, user_id: int) -> list[Community]:
    """The communities an account may manage: all for an admin, its own otherwise."""
    user = session.get(User, user_id)
    if user is None:
        return []
    query = select(Community).order_by(Community.name)
    if not user.is_admin:
        query = query.join(
            CommunityCoordinator, CommunityCoordinator.community_id == Community.id
        ).where(CommunityCoordinator.user_id == user_id)
    return list(session.scalars(query))


def community_for_user(session: Session, user_id: int, slug: str) -> Community:
    """The community if this account may manage it; :class:`NotFound` otherwise (W9)."""
    community = session.scalar(select(Community).where(Community.slug == slug))
    user = session.get(User, user_id)
    if community is None or user is None:
        raise NotFound(N_("No such community."))
    if user.is_admin:
        return community
    allowed = session.scalar(
        select(func.count()).where(
            CommunityCoordinator.community_id == community.id,
            CommunityCoordinator.user_id == user_id,
        )
    )
    if not allowed:
        raise NotFound(N_("No such community."))
    return community


def funnel_counts(session: Session, community_id: int) -> dict[str, int]:
    """How many people of the community are in each membership state."""
    rows = session.execute(
        select(Membership.state, func.count())
        .where(Membership.community_id == community_id)
        .group_by(Membership.state)
    )
    return {state: count for state, count in rows}


def sender_of(community: Community) -> dict[str, str]:
    """Who sends on the community's behalf, as every email's footer shows it (CASL)."""
    return {
        "name": community.sender_name or community.name,
        "organization": community.organization,
        "postal_address": community.postal_address,
        "contact_email": community.contact_email,
    }
