"""Activity tasks: the series' clock (occurrences, invitations, follow-ups)."""

from __future__ import annotations

import logging

from celery import shared_task

from webapp.services import activity_clock
from workers.runtime import runtime

log = logging.getLogger(__name__)


@shared_task(name="activities.tick")
def tick() -> int:
    """Generate the coming occurrences, launch the invitations that are due and the
    follow-ups of the activities that just ended; the campaigns' sweep sends them."""
    rt = runtime()
    with rt.database.session() as session:
        done = activity_clock.tick(session)
        session.commit()
    if done.not_mailed:
        log.warning("activities not mailed: %s", ", ".join(done.not_mailed))
    return done.generated + done.invited + done.followed_up
