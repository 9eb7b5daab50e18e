"""Referral links: each interested person or member can bring colleagues, who are attributed.

A link carries a random code kept on the referrer's membership; the code says nothing about who
it belongs to, and it only counts for its own community.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import Membership, MembershipState, Person

from .errors import N_, NotFound

CODE_BYTES = 12  # 16 URL-safe characters
CODE_LIMIT = 24
# Who gets a referral link: people who said yes, from interest to membership.
REFERRERS = {
    MembershipState.INTERESTED,
    MembershipState.APPLICANT,
    MembershipState.SELECTED,
    MembershipState.WAITLISTED,
    MembershipState.MEMBER,
}


def _membership(session: Session, community_id: int, person_id: int) -> Membership:
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    if membership is None:
        raise NotFound(N_("This person is not in this community."))
    return membership


def can_refer(session: Session, community_id: int, person_id: int) -> bool:
    """Whether this person is far enough along to be offered a referral link."""
    state = session.scalar(
        select(Membership.state).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    return state in REFERRERS


def referral_code(session: Session, community_id: int, person_id: int) -> str:
    """This person's code in this community, made the first time it is asked for."""
    membership = _membership(session, community_id, person_id)
    if not membership.referral_code:
        membership.referral_code = secrets.token_urlsafe(CODE_BYTES)
        session.flush()
    return membership.referral_code


def referrer(session: Session, community_id: int, code: str) -> Person | None:
    """Who owns this code in this community, or None for an unknown or foreign code."""
    if not code or len(code) > CODE_LIMIT:
        return None
    return session.scalar(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.community_id == community_id, Membership.referral_code == code)
    )


def referral_counts(session: Session, community_id: int) -> dict[int, int]:
    """How many people each referrer brought into this community."""
    rows = session.execute(
        select(Membership.referred_by_id, func.count())
        .where(Membership.community_id == community_id, Membership.referred_by_id.is_not(None))
        .group_by(Membership.referred_by_id)
    )
    return {int(person_id or 0): int(count) for person_id, count in rows}
