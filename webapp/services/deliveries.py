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
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Text,
    bindparam,
    cast,
    column,
    func,
    or_,
    select,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from webapp.config import Config
from webapp.mail import EmailRenderer, NotSent, SmtpConnection, envelope_address
from webapp.models import (
    AuditLog,
    Campaign,
    CampaignKind,
    CampaignState,
    Community,
    Delivery,
    DeliveryState,
    Membership,
    MembershipState,
    PauseReason,
    Person,
    Suppression,
    TokenPurpose,
    UnknownPolicy,
    utcnow,
)
from webapp.models.base import UTCDateTime
from webapp.throttle import NoThrottle, Throttle

from . import suppressions, tokens
from .campaigns import _campaign, complete_if_done, is_running
from .messages import MessageContext, message_for, reply_address
from .reminders import ReminderPolicy, next_reminder_at, zone

RETRY_DELAY = timedelta(minutes=5)
MAX_ATTEMPTS = 5
CLAIM_ATTEMPTS = 5
CHUNK = 50  # messages marked ``sending`` together, and recorded together
FAULT_HOOK = "AMORCE_FAULT_EXIT_AFTER_SENT"  # tests only: die right after the Nth 250


def claim_batch(
    session: Session,
    campaign_id: int,
    *,
    size: int,
    lease_seconds: int,
    now: datetime | None = None,
) -> tuple[str, list[int]]:
    """Lease up to ``size`` due pending rows by conditional update; returns the claim and ids."""
    moment = now or utcnow()
    claim = str(uuid.uuid4())
    if not is_running(session, campaign_id):
        return claim, []  # paused, cancelled or done: nothing to claim
    candidates = (
        select(Delivery.id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.due_at <= moment,
            or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
        )
        .order_by(Delivery.due_at)  # the (campaign, state, due) index: stops at the limit
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    for _attempt in range(CLAIM_ATTEMPTS):
        ids = list(session.scalars(candidates))
        if not ids:
            return claim, []
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ids),
                Delivery.state == DeliveryState.PENDING,
                or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < moment),
            )
            .values(claim=claim, lease_expires_at=moment + timedelta(seconds=lease_seconds))
        )
        session.commit()
        won = list(session.scalars(select(Delivery.id).where(Delivery.claim == claim)))
        if won:
            return claim, won
        # Another worker took these rows between our read and our update (SQLite has no SKIP
        # LOCKED): try the next ones rather than leave them without a task until the sweep.
    return claim, []


@dataclass
class BatchOutcome:
    """What one batch did, per final state."""

    counts: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Row:
    id: int
    person_id: int
    membership_id: int
    step: int
    attempts: int


@dataclass(frozen=True)
class _Result:
    """The outcome of one attempt, recorded with its chunk."""

    row: _Row
    state: str
    error: str = ""
    message_id: str = ""
    retry_at: datetime | None = None
    lost: bool = False  # the server may have taken it: it counts as gone through ``unknown``


@dataclass
class _Batch:
    """Everything a batch needs, loaded once."""

    session: Session
    config: Config
    campaign: Campaign
    community: Community
    claim: str
    people: dict[int, Person]
    policy: ReminderPolicy
    outcome: BatchOutcome
    errors_in_a_row: int = 0  # the campaign's count of failed sends in a row, as last seen
    sent_memberships: list[int] = field(default_factory=list)


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
        _Row(*values)
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
        _release(session, claim)
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
    batch = _Batch(
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
    ctx = MessageContext(community, campaign)
    gate = throttle or NoThrottle()
    for position, chunk in enumerate(_chunks(rows, CHUNK)):
        if position and not is_running(session, campaign.id):
            _release(session, claim)  # paused or cancelled meanwhile: the rest waits
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
                failures.append(_Result(row, DeliveryState.FAILED, error=str(exc)))
        _record(batch, failures, from_state=DeliveryState.PENDING)
        ready = _mark_sending(batch, [row for row in chunk if row.id in built])
        results, stopped = _send_chunk(batch, connection, gate, ready, built)
        _record(batch, results)
        if stopped:
            break
    _mark_invited(session, batch.sent_memberships, campaign)
    complete_if_done(session, campaign.id)
    session.commit()
    return outcome


def _chunks(rows: Sequence[_Row], size: int) -> Iterator[Sequence[_Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _skip_answered(
    session: Session, campaign: Campaign, claim: str, rows: list[_Row], outcome: BatchOutcome
) -> list[_Row]:
    """Reminders stop the moment a person answers: their rows become ``skipped``."""
    reminders = [row for row in rows if row.step > 0]
    if not reminders or campaign.launched_at is None:
        return rows
    answered = set(
        session.scalars(
            select(Membership.id).where(
                Membership.id.in_({row.membership_id for row in reminders}),
                Membership.answered_at >= campaign.launched_at,
            )
        )
    )
    skipped = [row.id for row in reminders if row.membership_id in answered]
    if not skipped:
        return rows
    session.execute(
        update(Delivery)
        .where(
            Delivery.id.in_(skipped),
            Delivery.claim == claim,
            Delivery.state == DeliveryState.PENDING,
        )
        .values(state=DeliveryState.SKIPPED, lease_expires_at=None, error="answered")
    )
    session.commit()
    outcome.counts[DeliveryState.SKIPPED] += len(skipped)
    return [row for row in rows if row.id not in set(skipped)]


def _mark_sending(batch: _Batch, chunk: list[_Row]) -> list[_Row]:
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
        _Row(row.id, row.person_id, row.membership_id, row.step, row.attempts + 1)
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
    batch: _Batch,
    connection: SmtpConnection,
    gate: Throttle,
    ready: list[_Row],
    built: dict[int, Any],
) -> tuple[list[_Result], bool]:
    """Send a marked chunk; True as second value when the server stopped the batch."""
    results: list[_Result] = []
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
            _release(batch.session, batch.claim)
            batch.outcome.counts["server_unavailable"] += 1
            return results, True
        if results[-1].state == DeliveryState.SENT:
            _fault_hook()
    return results, False


def _renew_lease(batch: _Batch) -> None:
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
    batch: _Batch, connection: SmtpConnection, message: Any, row: _Row, recipient: str
) -> _Result:
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
    return _Result(row, DeliveryState.SENT, message_id=str(message["Message-ID"]))


def _lost(campaign: Campaign, row: _Row, error: str) -> _Result:
    """An outcome we cannot know: resent later or held, as the campaign's policy says."""
    if campaign.unknown_policy == UnknownPolicy.RESEND and row.attempts < MAX_ATTEMPTS:
        return _Result(
            row, DeliveryState.PENDING, error=error, retry_at=utcnow() + RETRY_DELAY, lost=True
        )
    return _Result(row, DeliveryState.UNKNOWN, error=error, lost=True)


def _after_refusal(row: _Row, code: int, reply: bytes | str, *, at_rcpt: bool) -> _Result:
    """4xx: retry later as a row; 5xx at RCPT: hard bounce, suppressed; other 5xx: failed."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    error = f"{code} {text}"
    if 400 <= code < 500:
        if row.attempts < MAX_ATTEMPTS:
            return _Result(
                row,
                DeliveryState.PENDING,
                error=error,
                retry_at=utcnow() + RETRY_DELAY * row.attempts,
            )
        return _Result(row, DeliveryState.FAILED, error=error)
    state = DeliveryState.BOUNCED if code >= 500 and at_rcpt else DeliveryState.FAILED
    return _Result(row, state, error=error)


_RECORD = (
    update(Delivery)
    .where(
        Delivery.id == bindparam("row_id"),
        Delivery.claim == bindparam("row_claim"),
        Delivery.state == bindparam("from_state"),
    )
    .values(
        state=bindparam("new_state"),
        error=bindparam("new_error"),
        message_id=bindparam("new_message_id"),
        sent_at=bindparam("new_sent_at"),
        claim=bindparam("new_claim"),
        due_at=func.coalesce(bindparam("new_due_at", type_=UTCDateTime()), Delivery.due_at),
        unknown_count=Delivery.unknown_count + bindparam("lost", type_=Integer()),
        lease_expires_at=None,
    )
)


def _record_from_values(rows: list[dict[str, Any]], claim: str, from_state: str) -> Any:
    """One ``UPDATE … FROM (VALUES …)`` for a whole chunk (PostgreSQL): one round trip."""
    names = ["row_id", "new_state", "new_error", "new_message_id"]
    names += ["new_sent_at", "new_due_at", "new_claim", "lost"]
    table = values(
        column("row_id", Integer()),
        column("new_state", String()),
        column("new_error", Text()),
        column("new_message_id", String()),
        column("new_sent_at", UTCDateTime()),
        column("new_due_at", UTCDateTime()),
        column("new_claim", String()),
        column("lost", Integer()),
        name="outcome",
    ).data([tuple(row[name] for name in names) for row in rows])
    return (
        update(Delivery)
        .where(
            Delivery.id == table.c.row_id,
            Delivery.claim == claim,
            Delivery.state == from_state,
        )
        .values(
            state=table.c.new_state,
            error=table.c.new_error,
            message_id=table.c.new_message_id,
            sent_at=cast(table.c.new_sent_at, UTCDateTime()),
            due_at=func.coalesce(cast(table.c.new_due_at, UTCDateTime()), Delivery.due_at),
            claim=table.c.new_claim,
            unknown_count=Delivery.unknown_count + table.c.lost,
            lease_expires_at=None,
        )
    )


def _record(batch: _Batch, results: list[_Result], from_state: str = DeliveryState.SENDING) -> None:
    """Write a chunk's outcomes in one statement, with what follows from them, and commit."""
    if not results:
        return
    session, moment = batch.session, utcnow()
    rows = [
        {
            "row_id": result.row.id,
            "row_claim": batch.claim,
            "from_state": from_state,
            "new_state": result.state,
            "new_error": result.error,
            "new_message_id": result.message_id,
            "new_sent_at": moment if result.state == DeliveryState.SENT else None,
            "new_due_at": result.retry_at,
            # A row back to pending is free for any worker once due again.
            "new_claim": None if result.state == DeliveryState.PENDING else batch.claim,
            "lost": 1 if result.lost else 0,
        }
        for result in results
    ]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_record_from_values(rows, batch.claim, from_state))
    else:  # SQLite: local calls, executemany costs nothing
        session.connection().execute(_RECORD, rows)
    for result in results:
        batch.outcome.counts[result.state] += 1
        if result.state == DeliveryState.SENT:
            batch.sent_memberships.append(result.row.membership_id)
    _schedule_reminders(batch, [r.row for r in results if r.state == DeliveryState.SENT], moment)
    for result in results:
        if result.state == DeliveryState.BOUNCED:
            suppressions.suppress(
                session,
                batch.people[result.row.person_id].email,
                community_id=None,
                reason="hard_bounce",
                actor="system",
            )
    _count_errors(batch, results)
    session.commit()


def _schedule_reminders(batch: _Batch, sent: list[_Row], moment: datetime) -> None:
    """The next reminder of each person just written to, as a row due when the policy says."""
    policy = batch.policy
    if policy.count <= 0:
        return
    rows = []
    for row in sent:
        person = batch.people[row.person_id]
        due = next_reminder_at(
            policy,
            step_sent=row.step,
            sent_at=moment,
            tz=zone(person.timezone or batch.community.timezone),
        )
        if due is not None:
            rows.append(
                {
                    "campaign_id": batch.campaign.id,
                    "person_id": row.person_id,
                    "membership_id": row.membership_id,
                    "step": row.step + 1,
                    "state": DeliveryState.PENDING,
                    "due_at": due,
                    "attempts": 0,
                    "unknown_count": 0,
                    "message_id": "",
                    "error": "",
                }
            )
    if rows:
        _insert_ignoring_duplicates(batch.session, rows)


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows; one already there for the same person and step stays as it is."""
    dialect = session.get_bind().dialect.name
    builder = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = builder(Delivery).on_conflict_do_nothing(
        index_elements=["campaign_id", "person_id", "step"]
    )
    session.execute(statement, rows)


def _count_errors(batch: _Batch, results: list[_Result]) -> None:
    """Count failed sends in a row; past the limit the campaign pauses itself and says why."""
    errors = {DeliveryState.FAILED, DeliveryState.BOUNCED}
    trailing = 0
    for result in results:
        trailing = trailing + 1 if result.state in errors else 0
    any_success = any(r.state not in errors for r in results)
    session, campaign_id = batch.session, batch.campaign.id
    if any_success and not trailing and not batch.errors_in_a_row:
        return  # the usual case: nothing failed, nothing to write
    if any_success:
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(consecutive_errors=trailing)
        )
    else:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(consecutive_errors=Campaign.consecutive_errors + trailing)
        )
    count = session.scalar(select(Campaign.consecutive_errors).where(Campaign.id == campaign_id))
    batch.errors_in_a_row = count or 0
    if batch.errors_in_a_row < batch.config.max_consecutive_errors:
        return
    paused = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.RUNNING)
        .values(state=CampaignState.PAUSED, paused_reason=PauseReason.ERRORS)
    )
    if getattr(paused, "rowcount", 0):
        session.add(
            AuditLog(
                community_id=batch.community.id,
                actor="system",
                action="campaign.paused",
                details={"campaign": campaign_id, "reason": PauseReason.ERRORS, "errors": count},
            )
        )


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


def _release(session: Session, claim: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.claim == claim, Delivery.state == DeliveryState.PENDING)
        .values(claim=None, lease_expires_at=None)
    )
    session.commit()


def _mark_invited(session: Session, membership_ids: list[int], campaign: Campaign) -> None:
    """Prospects who were just sent a recruitment message are now ``invited``."""
    if campaign.kind != CampaignKind.RECRUITMENT or not membership_ids:
        return
    session.execute(
        update(Membership)
        .where(Membership.id.in_(membership_ids), Membership.state == MembershipState.PROSPECT)
        .values(state=MembershipState.INVITED, updated_at=utcnow())
    )


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
