"""Referral links: each interested person or member can bring colleagues, who are attributed.

A link carries a random code kept on the referrer's membership; the code says nothing about who
it belongs to, and it only counts for its own community.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.models import Membership, MembershipState, Person

from .memberships import membership_of

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
    membership = membership_of(session, community_id, person_id)
    if not membership.referral_code:
        # Conditional, so that two first visits at once agree on one code.
        session.execute(
            update(Membership)
            .where(Membership.id == membership.id, Membership.referral_code.is_(None))
            .values(referral_code=secrets.token_urlsafe(CODE_BYTES))
        )
        session.refresh(membership)
    assert membership.referral_code is not None
    return membership.referral_code


def referrer(session: Session, community_id: int, code: str) -> Person | None:
    """Who owns this code in this community, or None for an unknown or foreign code, or for a
    person who no longer takes part."""
    if not code or len(code) > CODE_LIMIT:
        return None
    return session.scalar(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == community_id,
            Membership.referral_code == code,
            Membership.state.in_(REFERRERS),  # who withdrew no longer invites
        )
    )


def referral_counts(session: Session, community_id: int) -> dict[int, int]:
    """How many people each referrer brought into this community."""
    rows = session.execute(
        select(Membership.referred_by_id, func.count())
        .where(Membership.community_id == community_id, Membership.referred_by_id.is_not(None))
        .group_by(Membership.referred_by_id)
    )
    return {int(person_id or 0): int(count) for person_id, count in rows}
