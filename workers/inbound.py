"""Inbound tasks: process a received message, send an answer, sweep, purge. Thin, by id."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer, NotSent, SmtpConnection
from webapp.services.inbound import pipeline, replies
from workers.dispatch import queue_inbound
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
        row = pipeline.process(session, config, inbound_id)
        if row is None:
            return None
        kind = row.kind
        ack = replies.acknowledgement(session, config, renderer or EmailRenderer(), inbound_id)
    if ack is not None:
        _send(config, connection, ack)
    return kind


def _send(config: Config, connection: SmtpConnection | None, outgoing: replies.Outgoing) -> None:
    try:
        if connection is not None:
            connection.send(outgoing.message, outgoing.envelope_from, outgoing.recipient)
        else:
            with SmtpConnection.for_config(config) as own:
                own.send(outgoing.message, outgoing.envelope_from, outgoing.recipient)
    except (NotSent, OSError) as exc:  # an acknowledgement is a courtesy: never retried
        log.warning("acknowledgement to %s not sent: %s", outgoing.recipient, exc)


@shared_task(name="inbound.process")
def process(inbound_id: int) -> str | None:
    """Read one received message and apply what it says."""
    rt = runtime()
    return process_with(rt.config, rt.database, inbound_id, rt.renderer, rt.connection)


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
    """A 5xx is final: the answer stops waiting and says why; a 4xx is tried again later."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    if code >= 500:
        replies.answer_refused(session, inbound_id, f"{code} {text}")
        return False
    replies.release_answer(session, inbound_id)
    raise NotSent(f"answer to message {inbound_id} deferred: {code} {text}")


@shared_task(name="inbound.sweep", bind=True)
def sweep(self: object) -> int:
    """Queue the messages whose task was lost (the database, not Redis, holds the work)."""
    rt = runtime()
    with rt.database.session() as session:
        ids = pipeline.pending_ids(session, older_than=rt.config.sweep_seconds)
        answers = replies.unsent_answers(session, older_than=rt.config.sweep_seconds * 4)
    app = getattr(self, "app")  # noqa: B009 - the bound task's Celery app
    queue_inbound(app, ids)
    for inbound_id in answers:
        app.send_task("inbound.send_answer", args=[inbound_id])
    return len(ids) + len(answers)


@shared_task(name="inbound.purge")
def purge() -> int:
    """Drop raw messages past the retention period."""
    rt = runtime()
    with rt.database.session() as session:
        return pipeline.purge(session, retention_days=rt.config.inbound_retention_days)
