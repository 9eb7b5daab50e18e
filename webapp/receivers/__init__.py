"""How mail reaches Amorce: an SMTP/LMTP receiver, an IMAP poller, a webhook (in the views).

Each one only stores the raw message (deduplicated) and asks for an ``inbound.drain`` task; the
pipeline in :mod:`webapp.services.inbound.pipeline` does the rest, the same way for all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from celery import Celery

from webapp.db import Database
from webapp.services.inbound import pipeline
from workers.dispatch import queue_drain

DEBOUNCE = 0.1  # seconds: messages arriving together share one drain task


class DrainRequests:
    """Queues ``inbound.drain`` at most once per :data:`DEBOUNCE` however many messages arrive,
    and always once after the last one (a worker drains every waiting message in batches)."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def request(self) -> None:
        """Ask for a drain soon."""
        with self._lock:
            if self._timer is None:
                # Not a daemon: a command that stores and exits still queues its drain.
                self._timer = threading.Timer(DEBOUNCE, self._fire)
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        queue_drain(self.celery)

    def flush(self) -> None:
        """Queue the drain asked for now, without waiting (before a command exits)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            queue_drain(self.celery)


_requests: dict[int, DrainRequests] = {}
_requests_lock = threading.Lock()


def _drain_requests(celery: Celery) -> DrainRequests:
    with _requests_lock:
        found = _requests.get(id(celery))
        if found is None or found.celery is not celery:
            found = _requests[id(celery)] = DrainRequests(celery)
        return found


def flush_drain_requests() -> None:
    """Queue every drain asked for and not queued yet."""
    with _requests_lock:
        pending = list(_requests.values())
    for requests in pending:
        requests.flush()


def store_and_queue(
    database: Database,
    celery: Celery | None,
    raw: bytes,
    *,
    channel: str,
    envelope_from: str = "",
    recipients: Sequence[str] = (),
) -> int | None:
    """Store one received message and ask for its processing; its id, or None for a duplicate.

    Without a broker (``celery`` None) or when it is down, the sweep queues the drain later: the
    row is committed first, so nothing received is ever lost.
    """
    with database.session() as session:
        inbound_id = pipeline.receive(
            session, raw, channel=channel, envelope_from=envelope_from, recipients=recipients
        )
        session.commit()
    if inbound_id is not None and celery is not None:
        _drain_requests(celery).request()
    return inbound_id
