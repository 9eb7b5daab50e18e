"""Inbound tasks: drain the received messages, send an answer, sweep, purge. Thin."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer, NotSent, SmtpConnection
from webapp.models import InboundKind
from webapp.services.inbound import pipeline, replies
from workers.dispatch import queue_drain
from workers.runtime import runtime

log = logging.getLogger(__name__)


def process_with(
    config: Config,
    database: Database,
    inbound_id: int,
    renderer: EmailRenderer | None = None,
    connection: SmtpConnection | None = None,
) -> str | None:
    """Process one stored message, then send its acknowledgement if it earns one.

    Returns the kind it was read as, or None when another worker had it.
    """
    with database.session() as session:
        rows = pipeline.process_claimed(
            session, config, pipeline.claim(session, ids=[inbound_id], limit=1)
        )
        kinds = {row.id: row.kind for row in rows}
    _acknowledge(config, database, list(kinds), renderer, connection)
    return kinds.get(inbound_id)


def drain_with(
    config: Config,
    database: Database,
    renderer: EmailRenderer | None = None,
    connection: SmtpConnection | None = None,
) -> int:
    """Process waiting messages a batch at a time until none is left; returns how many."""
    done = 0
    while True:
        with database.session() as session:
            rows = pipeline.process_claimed(session, config, pipeline.claim(session))
            replied = [row.id for row in rows if row.kind == InboundKind.REPLY]
        if not rows:
            return done
        done += len(rows)
        _acknowledge(config, database, replied, renderer, connection)


def _acknowledge(
    config: Config,
    database: Database,
    ids: list[int],
    renderer: EmailRenderer | None,
    connection: SmtpConnection | None,
) -> None:
    """Send the acknowledgements these messages earn (most communities send none)."""
    with database.session() as session:
        due = replies.acknowledging(session, ids)
        outgoing = [
            ack
            for inbound_id in due
            if (
                ack := replies.acknowledgement(
                    session, config, renderer or EmailRenderer(), inbound_id
                )
            )
            is not None
        ]
    for ack in outgoing:
        _send(config, connection, ack)


def _send(config: Config, connection: SmtpConnection | None, outgoing: replies.Outgoing) -> None:
    try:
        if connection is not None:
            connection.send(outgoing.message, outgoing.envelope_from, outgoing.recipient)
        else:
            with SmtpConnection.for_config(config) as own:
                own.send(outgoing.message, outgoing.envelope_from, outgoing.recipient)
    except (NotSent, OSError) as exc:  # an acknowledgement is a courtesy: never retried
        log.warning("acknowledgement to %s not sent: %s", outgoing.recipient, exc)


@shared_task(name="inbound.drain")
def drain() -> int:
    """Read the received messages waiting in the database and apply what they say."""
    rt = runtime()
    return drain_with(rt.config, rt.database, rt.renderer, rt.connection)


@shared_task(name="inbound.send_answer", autoretry_for=(NotSent, OSError), retry_backoff=True)
def send_answer(inbound_id: int) -> bool:
    """Send a coordinator's answer to a received message."""
    rt = runtime()
    with rt.database.session() as session:
        if not replies.claim_answer(session, inbound_id):
            return False  # sent already, or another task is sending it
        try:
            outgoing = replies.answer_message(session, rt.config, rt.renderer, inbound_id)
            if outgoing is None:
                return False
            rt.connection.send(outgoing.message, outgoing.envelope_from, outgoing.recipient)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return _refused(session, inbound_id, code, reply)
        except smtplib.SMTPResponseException as exc:
            rt.connection.reset()
            return _refused(session, inbound_id, exc.smtp_code, exc.smtp_error)
        except BaseException:
            replies.release_answer(session, inbound_id)
            raise
        replies.mark_answered(session, inbound_id)
    return True


def _refused(session: Session, inbound_id: int, code: int, reply: bytes | str) -> bool:
    if replies.answer_refused(session, inbound_id, code, reply):
        return False
    raise NotSent(f"answer to message {inbound_id} deferred: {code}")  # Celery retries it


@shared_task(name="inbound.sweep", bind=True)
def sweep(self: object) -> int:
    """Queue the messages whose task was lost (the database, not Redis, holds the work)."""
    rt = runtime()
    with rt.database.session() as session:
        ids = pipeline.pending_ids(session, older_than=rt.config.sweep_seconds, limit=1)
        answers = replies.unsent_answers(session, older_than=rt.config.sweep_seconds * 4)
    app = getattr(self, "app")  # noqa: B009 - the bound task's Celery app
    if ids:
        queue_drain(app)
    for inbound_id in answers:
        app.send_task("inbound.send_answer", args=[inbound_id])
    return len(ids) + len(answers)


@shared_task(name="inbound.purge")
def purge() -> int:
    """Drop raw messages past the retention period."""
    rt = runtime()
    with rt.database.session() as session:
        return pipeline.purge(session, retention_days=rt.config.inbound_retention_days)
