"""Activity tasks: the series' clock (occurrences, invitations, follow-ups)."""

from __future__ import annotations

import logging

from celery import shared_task

from webapp.services import activity_clock
from workers.dispatch import queue_pending
from workers.runtime import runtime

log = logging.getLogger(__name__)


@shared_task(name="activities.tick", bind=True)
def tick(self: object) -> int:
    """Turn the clock of each series in its own transaction: generate the coming occurrences,
    launch the invitations that are due and the follow-ups of the activities that just ended,
    and queue their sending once committed (the sweep would, later). One series' error is
    logged and leaves the others' turns alone."""
    rt = runtime()
    app = getattr(self, "app")  # noqa: B009 - the bound task's Celery app
    with rt.database.session() as session:
        series_ids = activity_clock.series_to_tick(session)
    handled = 0
    for series_id in series_ids:
        try:
            with rt.database.session() as session:
                done = activity_clock.tick(session, series_id=series_id)
                session.commit()
                for campaign_id in done.launched:
                    queue_pending(app, session, campaign_id, rt.config.batch_size)
        except Exception:
            log.exception("the clock of series %s failed; the next turn tries again", series_id)
            continue
        if done.not_mailed:
            log.warning("activities not mailed: %s", ", ".join(done.not_mailed))
        handled += done.generated + done.invited + done.followed_up
    return handled
