"""Claiming outbox rows: a lease by conditional update, so two workers never share a row."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.models import Delivery, DeliveryState, utcnow
from webapp.services.campaigns import is_running

CLAIM_ATTEMPTS = 5


def claim_batch(
    session: Session,
    campaign_id: int,
    *,
    size: int,
    lease_seconds: int,
    now: datetime | None = None,
) -> tuple[str, list[int]]:
    """Lease up to ``size`` due pending rows by conditional update; returns the claim and ids."""
    moment = now or utcnow()
    claim = str(uuid.uuid4())
    if not is_running(session, campaign_id):
        return claim, []  # paused, cancelled or done: nothing to claim
    candidates = (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.due_at <= moment,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
        )
        .order_by(Delivery.due_at)  # the (campaign, state, due) index: stops at the limit
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    for _attempt in range(CLAIM_ATTEMPTS):
        ids = list(session.scalars(candidates))
        if not ids:
            return claim, []
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ids),
                Delivery.state == DeliveryState.PENDING,
                or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
            )
            .values(claim=claim, lease_expires_at=moment + timedelta(seconds=lease_seconds))
        )
        session.commit()
        won = list(session.scalars(select(Delivery.id).where(Delivery.claim == claim)))
        if won:
            return claim, won
        # Another worker took these rows between our read and our update (SQLite has no SKIP
        # LOCKED): try the next ones rather than leave them without a task until the sweep.
    return claim, []


def release(session: Session, claim: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.claim == claim, Delivery.state == DeliveryState.PENDING)
        .values(claim=None, lease_expires_at=None)
    )
    session.commit()
