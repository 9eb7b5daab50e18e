"""The outbox: claim due deliveries, render each in its reader's language, send, record it.

A worker leases a batch of rows, then goes through it in chunks: it marks a chunk ``sending`` in
one update (skipping anyone unsubscribed meanwhile), sends each message over its one SMTP
connection, and records the chunk's outcomes in one more. A crash can therefore only lose the
outcome of the chunk in flight, whose rows the sweep finds still ``sending`` once their lease ran
out: the campaign's policy then resends them or holds them for the coordinator.
"""

from __future__ import annotations

import os
import smtplib
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.mail import EmailRenderer, NotSent, SmtpConnection, envelope_address
from webapp.models import (
    Campaign,
    CampaignKind,
    CampaignState,
    Community,
    Delivery,
    DeliveryState,
    Membership,
    Person,
    Suppression,
    TokenPurpose,
    UnknownPolicy,
    utcnow,
)
from webapp.services import charters, meetings, poll_answers, polls, suppressions, tokens
from webapp.services.campaigns import _campaign, complete_if_done, is_running
from webapp.services.messages import context_for, message_for, reply_address
from webapp.services.reminders import ReminderPolicy
from webapp.throttle import NoThrottle, Throttle

from .claims import release
from .outcomes import Batch, BatchOutcome, Result, Row, mark_invited, record

RETRY_DELAY = timedelta(minutes=5)
MAX_ATTEMPTS = 5
CHUNK = 50  # messages marked ``sending`` together, and recorded together
FAULT_HOOK = "AMORCE_FAULT_EXIT_AFTER_SENT"  # tests only: die right after the Nth 250


def send_claimed(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    connection: SmtpConnection,
    claim: str,
    throttle: Throttle | None = None,
) -> BatchOutcome:
    """Send every row of a claim, chunk by chunk, each chunk marked ``sending`` before it goes."""
    outcome = BatchOutcome()
    rows = [
        Row(*values)
        for values in session.execute(
            select(
                Delivery.id,
                Delivery.person_id,
                Delivery.membership_id,
                Delivery.step,
                Delivery.attempts,
            )
            .where(Delivery.claim == claim, Delivery.state == DeliveryState.PENDING)
            .order_by(Delivery.id)
        )
    ]
    if not rows:
        return outcome
    campaign_id = session.scalar(select(Delivery.campaign_id).where(Delivery.id == rows[0].id))
    campaign = _campaign(session, campaign_id or 0)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    if campaign.state != CampaignState.RUNNING:
        release(session, claim)
        return outcome
    rows = _skip_answered(session, campaign, claim, rows, outcome)
    people = {
        person.id: person
        for person in session.scalars(
            select(Person).where(Person.id.in_({row.person_id for row in rows}))
        )
    }
    issued = tokens.issue_delivery_tokens(
        session,
        [(row.id, row.person_id) for row in rows],
        community_id=community.id,
        purpose=TokenPurpose.RESPOND,
        lifetime_days=config.token_lifetime_days,
    )
    session.commit()
    batch = Batch(
        session,
        config,
        campaign,
        community,
        claim,
        people,
        ReminderPolicy.of(campaign),
        outcome,
        campaign.consecutive_errors,
    )
    ctx = context_for(session, community, campaign)
    gate = throttle or NoThrottle()
    for position, chunk in enumerate(_chunks(rows, CHUNK)):
        if position and not is_running(session, campaign.id):
            release(session, claim)  # paused or cancelled meanwhile: the rest waits
            break
        built: dict[int, Any] = {}
        failures = []
        for row in chunk:
            try:
                built[row.id] = message_for(
                    config, renderer, ctx, people[row.person_id], row.id, issued[row.id], row.step
                )
            except (ValueError, UnicodeError) as exc:
                # This one message cannot be built (say, an address the relay cannot carry): it
                # fails alone and the batch goes on.
                failures.append(Result(row, DeliveryState.FAILED, error=str(exc)))
        record(batch, failures, from_state=DeliveryState.PENDING)
        ready = _mark_sending(batch, [row for row in chunk if row.id in built])
        results, stopped = _send_chunk(batch, connection, gate, ready, built)
        record(batch, results)
        if stopped:
            break
    mark_invited(session, batch.sent_memberships, campaign)
    complete_if_done(session, campaign.id)
    session.commit()
    return outcome


def _chunks(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _skip_answered(
    session: Session, campaign: Campaign, claim: str, rows: list[Row], outcome: BatchOutcome
) -> list[Row]:
    """Reminders stop the moment a person answers: their rows become ``skipped``."""
    reminders = [row for row in rows if row.step > 0]
    if not reminders or campaign.launched_at is None:
        return rows
    if campaign.kind == CampaignKind.INVITATION:
        refused, over = meetings.reminder_refusals(
            session, campaign, {row.person_id for row in reminders}
        )
        return _drop_reminders(session, claim, rows, reminders, outcome, refused, over)
    if campaign.kind == CampaignKind.CHARTER:
        # Those who answered (voted, consented) hear no more; once the stage is over, nobody.
        done, over = charters.reminder_refusals(
            session, campaign, {row.person_id for row in reminders}
        )
        return _drop_reminders(session, claim, rows, reminders, outcome, done, over)
    if campaign.kind == CampaignKind.AVAILABILITY and campaign.poll_id is not None:
        # Those who answered the poll hear no more of it; once it closes, nobody does.
        poll = polls.poll_of(session, campaign.poll_id)
        answered = poll_answers.respondents(session, poll.id)
        return _drop_reminders(
            session, claim, rows, reminders, outcome, answered, not polls.is_open(poll)
        )
    # Any other campaign: those who answered since the launch.
    answered = set(
        session.scalars(
            select(Membership.person_id).where(
                Membership.id.in_({row.membership_id for row in reminders}),
                Membership.answered_at >= campaign.launched_at,
            )
        )
    )
    return _drop_reminders(session, claim, rows, reminders, outcome, answered, False)


def _drop_reminders(
    session: Session,
    claim: str,
    rows: list[Row],
    reminders: list[Row],
    outcome: BatchOutcome,
    refused: set[int],
    over: bool,
) -> list[Row]:
    """Reminders that must not go: ``skipped`` for the ``refused`` people (they answered, or
    declined), ``cancelled`` for everyone once the poll or the meeting is ``over``."""
    dropped = [row.id for row in reminders if over or row.person_id in refused]
    if not dropped:
        return rows
    state = DeliveryState.CANCELLED if over else DeliveryState.SKIPPED
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(dropped),
            Delivery.claim == claim,
            Delivery.state == DeliveryState.PENDING,
        )
        .values(state=state, lease_expires_at=None, error="over" if over else "answered")
    )
    session.commit()
    outcome.counts[state] += len(dropped)
    return [row for row in rows if row.id not in set(dropped)]


def _mark_sending(batch: Batch, chunk: list[Row]) -> list[Row]:
    """Flip a chunk to ``sending``, except anyone unsubscribed meanwhile (U3); renew the lease.

    An unsubscribe moves the person's pending rows to ``suppressed`` in its own transaction, and
    this update only takes rows still ``pending``: whichever commits first wins, so a message is
    never sent after its unsubscribe committed.
    """
    session, claim = batch.session, batch.claim
    if not chunk:
        return []
    by_hash = {
        suppressions.email_hash(session, batch.people[row.person_id].email): row for row in chunk
    }
    blocked = set(
        session.scalars(
            select(Suppression.email_hash).where(
                Suppression.email_hash.in_(list(by_hash)),
                or_(
                    Suppression.community_id == batch.community.id,
                    Suppression.community_id.is_(None),
                ),
            )
        )
    )
    blocked_ids = [by_hash[digest].id for digest in blocked]
    if blocked_ids:
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(blocked_ids),
                Delivery.claim == claim,
                Delivery.state == DeliveryState.PENDING,
            )
            .values(state=DeliveryState.SUPPRESSED, lease_expires_at=None)
        )
        batch.outcome.counts[DeliveryState.SUPPRESSED] += len(blocked_ids)
    wanted = [row.id for row in chunk if row.id not in set(blocked_ids)]
    lease = utcnow() + timedelta(seconds=batch.config.lease_seconds)
    marked: set[int] = set()
    if wanted:
        marked = set(
            session.scalars(
                update(Delivery)
                .where(
                    Delivery.id.in_(wanted),
                    Delivery.claim == claim,
                    Delivery.state == DeliveryState.PENDING,
                )
                .values(
                    state=DeliveryState.SENDING,
                    attempts=Delivery.attempts + 1,
                    lease_expires_at=lease,
                )
                .returning(Delivery.id)
            )
        )
    # The rest of the batch keeps its lease too, so a slow (throttled) batch never looks dead.
    session.execute(
        update(Delivery)
        .where(Delivery.claim == claim, Delivery.state == DeliveryState.PENDING)
        .values(lease_expires_at=lease)
    )
    session.commit()
    return [
        Row(row.id, row.person_id, row.membership_id, row.step, row.attempts + 1)
        for row in chunk
        if row.id in marked
    ]


_sent_in_process = 0


def _fault_hook() -> None:
    """Tests of crash recovery set AMORCE_FAULT_EXIT_AFTER_SENT=N to die after the Nth 250."""
    global _sent_in_process
    limit = os.environ.get(FAULT_HOOK)
    if not limit:
        return
    _sent_in_process += 1
    if _sent_in_process >= int(limit):
        os._exit(137)  # like kill -9: no cleanup, nothing recorded


def _send_chunk(
    batch: Batch,
    connection: SmtpConnection,
    gate: Throttle,
    ready: list[Row],
    built: dict[int, Any],
) -> tuple[list[Result], bool]:
    """Send a marked chunk; True as second value when the server stopped the batch."""
    results: list[Result] = []
    renewed = time.monotonic()
    for index, row in enumerate(ready):
        recipient = batch.people[row.person_id].email
        gate.acquire(recipient.rpartition("@")[2])
        if time.monotonic() - renewed > batch.config.lease_seconds / 3:
            _renew_lease(batch)  # a slow relay or a tight rate limit: still alive
            renewed = time.monotonic()
        try:
            results.append(_send_one(batch, connection, built[row.id], row, recipient))
        except NotSent as exc:
            # The server, not this recipient, is the problem: put the unsent rows back as they
            # were and leave the rest of the batch to the sweep.
            _unsend(batch.session, [r.id for r in ready[index:]], batch.claim, str(exc))
            release(batch.session, batch.claim)
            batch.outcome.counts["server_unavailable"] += 1
            return results, True
        if results[-1].state == DeliveryState.SENT:
            _fault_hook()
    return results, False


def _renew_lease(batch: Batch) -> None:
    session = batch.session
    session.execute(
        update(Delivery)
        .where(
            Delivery.claim == batch.claim,
            Delivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )
        .values(lease_expires_at=utcnow() + timedelta(seconds=batch.config.lease_seconds))
    )
    session.commit()


def _send_one(
    batch: Batch, connection: SmtpConnection, message: Any, row: Row, recipient: str
) -> Result:
    config = batch.config
    envelope_from = (
        reply_address(config, "bounce", row.id)
        if config.reply_domain
        else envelope_address(config.mail_from)
    )
    try:
        connection.send(message, envelope_from, recipient)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _after_refusal(row, code, reply, at_rcpt=True)
    except smtplib.SMTPResponseException as exc:
        connection.reset()
        return _after_refusal(row, exc.smtp_code, exc.smtp_error, at_rcpt=False)
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        # The server may or may not have taken the message: never guess.
        connection.reset()
        return _lost(batch.campaign, row, str(exc))
    return Result(row, DeliveryState.SENT, message_id=str(message["Message-ID"]))


def _lost(campaign: Campaign, row: Row, error: str) -> Result:
    """An outcome we cannot know: resent later or held, as the campaign's policy says."""
    if campaign.unknown_policy == UnknownPolicy.RESEND and row.attempts < MAX_ATTEMPTS:
        return Result(
            row, DeliveryState.PENDING, error=error, retry_at=utcnow() + RETRY_DELAY, lost=True
        )
    return Result(row, DeliveryState.UNKNOWN, error=error, lost=True)


def _after_refusal(row: Row, code: int, reply: bytes | str, *, at_rcpt: bool) -> Result:
    """4xx: retry later as a row; 5xx at RCPT: hard bounce, suppressed; other 5xx: failed."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    error = f"{code} {text}"
    if 400 <= code < 500:
        if row.attempts < MAX_ATTEMPTS:
            return Result(
                row,
                DeliveryState.PENDING,
                error=error,
                retry_at=utcnow() + RETRY_DELAY * row.attempts,
            )
        return Result(row, DeliveryState.FAILED, error=error)
    state = DeliveryState.BOUNCED if code >= 500 and at_rcpt else DeliveryState.FAILED
    return Result(row, state, error=error)


def _unsend(session: Session, ids: list[int], claim: str, error: str) -> None:
    """Undo ``sending`` for messages the server never took; the attempt does not count."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(ids),
            Delivery.claim == claim,
            Delivery.state == DeliveryState.SENDING,
        )
        .values(
            state=DeliveryState.PENDING,
            attempts=Delivery.attempts - 1,
            claim=None,
            lease_expires_at=None,
            error=f"not sent: {error}",
        )
    )
    session.commit()
