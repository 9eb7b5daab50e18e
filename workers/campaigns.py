"""Campaign tasks: send a batch, send a test, sweep. Each takes ids and calls one service."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer, SmtpConnection
from webapp.services import deliveries as service
from webapp.services import messages
from webapp.services.campaigns import complete_if_done
from webapp.throttle import Throttle
from workers.dispatch import queue_campaign
from workers.runtime import runtime


def drain_with(
    config: Config,
    database: Database,
    campaign_id: int,
    renderer: EmailRenderer | None = None,
    connection: SmtpConnection | None = None,
    throttle: Throttle | None = None,
) -> int:
    """Claim one batch of a campaign and send it; returns how many rows it claimed.

    Without a ``connection`` it opens one for the batch and closes it after.
    """
    with database.session() as session:
        claim, ids = service.claim_batch(
            session, campaign_id, size=config.batch_size, lease_seconds=config.lease_seconds
        )
        if not ids:
            complete_if_done(session, campaign_id)
            return 0
        if connection is not None:
            service.send_claimed(
                session, config, renderer or EmailRenderer(), connection, claim, throttle
            )
        else:
            with SmtpConnection.for_config(config) as own:
                service.send_claimed(
                    session, config, renderer or EmailRenderer(), own, claim, throttle
                )
    return len(ids)


def drain_batch(campaign_id: int) -> int:
    """Send one batch with this worker process's runtime (its connection stays open)."""
    rt = runtime()
    return drain_with(rt.config, rt.database, campaign_id, rt.renderer, rt.connection, rt.throttle)


@shared_task(name="campaigns.send_batch")
def send_batch(campaign_id: int) -> int:
    """Send one batch of a campaign's due rows."""
    return drain_batch(campaign_id)


@shared_task(name="campaigns.send_test")
def send_test(campaign_id: int, email: str, name: str, locale: str) -> None:
    """Send a campaign's email to a coordinator, marked as a test."""
    rt = runtime()
    with rt.database.session() as session, SmtpConnection.for_config(rt.config) as connection:
        messages.send_test(
            session,
            rt.config,
            rt.renderer,
            connection,
            campaign_id,
            email=email,
            name=name,
            locale=locale,
        )


@shared_task(name="campaigns.sweep", bind=True)
def sweep(self: object) -> int:
    """Recover rows of dead workers and re-queue campaigns whose tasks were lost."""
    rt = runtime()
    with rt.database.session() as session:
        work = service.sweep(
            session,
            batch_size=rt.config.batch_size,
            # Tasks queued less than this long ago may still be waiting for a worker.
            requeue_after=timedelta(
                seconds=max(rt.config.sweep_seconds, min(30, rt.config.lease_seconds))
            ),
        )
    app = getattr(self, "app")  # noqa: B009 - the bound task's Celery app
    for campaign_id, batches in work:
        queue_campaign(app, campaign_id, batches)
    return len(work)
