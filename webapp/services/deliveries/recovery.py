"""The sweep (beat, every ``AMORCE_SWEEP_SECONDS``): recover dead workers' rows, re-queue lost
tasks, complete finished campaigns."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from webapp.models import (
    Campaign,
    CampaignState,
    Delivery,
    DeliveryState,
    UnknownPolicy,
    utcnow,
)
from webapp.services.campaigns import complete_if_done

from .sending import MAX_ATTEMPTS


def sweep(
    session: Session, *, batch_size: int, requeue_after: timedelta, now: datetime | None = None
) -> list[tuple[int, int]]:
    """Recover dead workers' rows and list (campaign id, batches) that need send tasks again.

    It reads only due rows (an index on state and due date), so a million reminders due next
    week cost it nothing.
    """
    moment = now or utcnow()
    _recover_lost(session, moment)
    # A campaign a worker is busy with (a live lease) needs no more tasks yet.
    working = aliased(Delivery)
    busy = select(working.id).where(working.lease_expires_at >= moment)
    due = session.execute(
        select(Delivery.campaign_id, func.count())
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Campaign.state == CampaignState.RUNNING,
            Delivery.state == DeliveryState.PENDING,
            Delivery.due_at <= moment,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
            or_(Campaign.enqueued_at.is_(None), Campaign.enqueued_at < moment - requeue_after),
            ~busy.where(working.campaign_id == Delivery.campaign_id).exists(),
        )
        .group_by(Delivery.campaign_id)
    ).all()
    work = [(campaign_id, -(-count // batch_size)) for campaign_id, count in due]
    if work:
        session.execute(
            update(Campaign).where(Campaign.id.in_([c for c, _ in work])).values(enqueued_at=moment)
        )
    for (campaign_id,) in session.execute(
        select(Campaign.id).where(Campaign.state == CampaignState.RUNNING)
    ).all():
        complete_if_done(session, campaign_id)
    session.commit()
    return work


def _recover_lost(session: Session, moment: datetime) -> None:
    """Rows left ``sending`` by a dead worker: resent or held, per their campaign's policy."""
    expired = (Delivery.state == DeliveryState.SENDING, Delivery.lease_expires_at < moment)
    resend = select(Campaign.id).where(Campaign.unknown_policy == UnknownPolicy.RESEND)
    session.execute(
        update(Delivery)
        .where(*expired, Delivery.campaign_id.in_(resend), Delivery.attempts < MAX_ATTEMPTS)
        .values(
            state=DeliveryState.PENDING,
            claim=None,
            lease_expires_at=None,
            unknown_count=Delivery.unknown_count + 1,
            error="worker stopped during the send; sent again",
        )
    )
    session.execute(
        update(Delivery)
        .where(*expired)
        .values(
            state=DeliveryState.UNKNOWN,
            lease_expires_at=None,
            unknown_count=Delivery.unknown_count + 1,
            error="worker stopped during the send",
        )
    )
