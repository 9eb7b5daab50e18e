"""Telling applicants the decisions: one decision campaign per decision, each person told once.

Decisions are taken one by one on the applications pages; telling them is a separate, deliberate
step, so that a coordinator can change their mind until the emails go. The emails are ordinary
campaigns (kind ``decision``), with their texts, test send, outbox and counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import Campaign, CampaignKind, CampaignState, Membership

from .audiences import told_people
from .campaigns import DECISION_AUDIENCES, create_campaign
from .errors import N_, DomainError


@dataclass(frozen=True)
class Untold:
    """One decision: how many people got it, how many are not told yet, and a draft if any."""

    decision: str
    total: int
    untold: int
    draft_id: int | None


def untold(session: Session, community_id: int) -> list[Untold]:
    """For each decision, who got it and who has not been told yet."""
    found = []
    for decision in DECISION_AUDIENCES:
        in_state = select(Membership.person_id).where(
            Membership.community_id == community_id, Membership.state == decision
        )
        total = session.scalar(select(func.count()).select_from(in_state.subquery())) or 0
        waiting = in_state.where(Membership.person_id.not_in(told_people(community_id, decision)))
        count = session.scalar(select(func.count()).select_from(waiting.subquery())) or 0
        found.append(Untold(decision, total, count, _draft(session, community_id, decision)))
    return found


def _draft(session: Session, community_id: int, decision: str) -> int | None:
    return session.scalar(
        select(Campaign.id)
        .where(
            Campaign.community_id == community_id,
            Campaign.kind == CampaignKind.DECISION,
            Campaign.audience_state == decision,
            Campaign.state == CampaignState.DRAFT,
        )
        .order_by(Campaign.id.desc())
        .limit(1)
    )


def prepare(
    session: Session, community_id: int, decision: str, *, name: str, user_id: int | None
) -> int:
    """The draft campaign telling ``decision`` to those not told yet: the one already prepared,
    or a new one with the shipped bilingual texts."""
    if decision not in DECISION_AUDIENCES:
        raise DomainError(N_("Unknown decision %(decision)s."), decision=repr(decision))
    current = next(u for u in untold(session, community_id) if u.decision == decision)
    if current.draft_id is not None:
        return current.draft_id
    if not current.untold:
        raise DomainError(N_("Everyone with this decision has already been told."))
    return create_campaign(
        session,
        community_id,
        kind=CampaignKind.DECISION,
        audience_state=decision,
        name=name,
        user_id=user_id,
    )
