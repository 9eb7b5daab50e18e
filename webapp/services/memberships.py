"""A person's membership in a community, looked up by the services that change it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import Membership

from .errors import N_, NotFound


def membership_of(session: Session, community_id: int, person_id: int) -> Membership:
    """The membership, or :class:`NotFound` when the person is not in the community."""
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    if membership is None:
        raise NotFound(N_("This person is not in this community."))
    return membership
