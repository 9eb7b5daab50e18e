"""How mail reaches Amorce: an SMTP/LMTP receiver, an IMAP poller, a webhook (in the views).

Each one only stores the raw message (deduplicated) and queues ``inbound.process``; the pipeline
in :mod:`webapp.services.inbound.pipeline` does the rest, the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from webapp.db import Database
from webapp.services.inbound import pipeline
from workers.dispatch import queue_inbound


def store_and_queue(
    database: Database,
    celery: Celery | None,
    raw: bytes,
    *,
    channel: str,
    envelope_from: str = "",
    recipients: Sequence[str] = (),
) -> int | None:
    """Store one received message and queue its processing; its id, or None for a duplicate.

    Without a broker (``celery`` None) or when it is down, the sweep queues it later: the row
    is committed first, so nothing received is ever lost.
    """
    with database.session() as session:
        inbound_id = pipeline.receive(
            session, raw, channel=channel, envelope_from=envelope_from, recipients=recipients
        )
        session.commit()
    if inbound_id is not None and celery is not None:
        queue_inbound(celery, [inbound_id])
    return inbound_id
