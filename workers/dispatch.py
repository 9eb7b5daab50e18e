"""Queueing from adapters (views, CLI, sweeps): by task name, after the commit, never fatal."""

from __future__ import annotations

import logging

from celery import Celery
from kombu.exceptions import KombuError
from sqlalchemy.orm import Session

from webapp.services.campaigns import batches_needed

log = logging.getLogger(__name__)


def queue_campaign(celery: Celery, campaign_id: int, batches: int) -> bool:
    """Queue ``batches`` send tasks; False when the broker is down (the sweep will retry)."""
    try:
        for _ in range(max(batches, 0)):
            celery.send_task("campaigns.send_batch", args=[campaign_id])
    except (KombuError, OSError) as exc:
        log.warning("broker unavailable, campaign %s waits for the sweep: %s", campaign_id, exc)
        return False
    return True


def queue_pending(celery: Celery, session: Session, campaign_id: int, batch_size: int) -> bool:
    """Queue enough send tasks for the campaign's committed pending rows."""
    return queue_campaign(celery, campaign_id, batches_needed(session, campaign_id, batch_size))


def queue_test_send(celery: Celery, campaign_id: int, email: str, name: str, locale: str) -> bool:
    """Queue a test send of a campaign to a coordinator."""
    try:
        celery.send_task("campaigns.send_test", args=[campaign_id, email, name, locale])
    except (KombuError, OSError) as exc:
        log.warning("broker unavailable, test send of campaign %s not queued: %s", campaign_id, exc)
        return False
    return True


def queue_drain(celery: Celery) -> bool:
    """Queue a task that reads every received message waiting; False when the broker is down
    (the sweep queues one later)."""
    try:
        celery.send_task("inbound.drain")
    except (KombuError, OSError) as exc:
        log.warning("broker unavailable, received messages wait for the sweep: %s", exc)
        return False
    return True


def queue_answer(celery: Celery, inbound_id: int) -> bool:
    """Queue the sending of a coordinator's answer."""
    try:
        celery.send_task("inbound.send_answer", args=[inbound_id])
    except (KombuError, OSError) as exc:
        log.warning(
            "broker unavailable, answer to message %s waits for the sweep: %s", inbound_id, exc
        )
        return False
    return True
