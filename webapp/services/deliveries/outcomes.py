"""What a chunk's sends came to: written in one statement, with what follows from them
(reminders, suppressions, the count of failures in a row, invited prospects)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from webapp.config import Config
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
    utcnow,
)
from webapp.models.base import UTCDateTime
from webapp.services import suppressions
from webapp.services.reminders import ReminderPolicy, next_reminder_at, zone


@dataclass
class BatchOutcome:
    """What one batch did, per final state."""

    counts: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Row:
    id: int
    person_id: int
    membership_id: int
    step: int
    attempts: int


@dataclass(frozen=True)
class Result:
    """The outcome of one attempt, recorded with its chunk."""

    row: Row
    state: str
    error: str = ""
    message_id: str = ""
    retry_at: datetime | None = None
    lost: bool = False  # the server may have taken it: it counts as gone through ``unknown``


@dataclass
class Batch:
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


# PostgreSQL: a whole chunk's outcomes in one statement whose text never changes (so it is
# compiled once and prepared by the server), the rows travelling as arrays.
_RECORD_FROM_ARRAYS = text(
    """
    UPDATE deliveries AS d SET
        state = v.new_state,
        error = v.new_error,
        message_id = v.new_message_id,
        sent_at = v.new_sent_at,
        due_at = COALESCE(v.new_due_at, d.due_at),
        claim = v.new_claim,
        unknown_count = d.unknown_count + v.lost,
        lease_expires_at = NULL
    FROM unnest(
        CAST(:row_id AS integer[]), CAST(:new_state AS varchar[]), CAST(:new_error AS text[]),
        CAST(:new_message_id AS varchar[]), CAST(:new_sent_at AS timestamp[]),
        CAST(:new_due_at AS timestamp[]), CAST(:new_claim AS varchar[]), CAST(:lost AS integer[])
    ) AS v(row_id, new_state, new_error, new_message_id, new_sent_at, new_due_at, new_claim, lost)
    WHERE d.id = v.row_id AND d.claim = :row_claim AND d.state = :from_state
    """
)
_ARRAY_COLUMNS = (
    "row_id",
    "new_state",
    "new_error",
    "new_message_id",
    "new_sent_at",
    "new_due_at",
    "new_claim",
    "lost",
)


def _naive_utc(moment: datetime | None) -> datetime | None:
    """How :class:`UTCDateTime` stores a moment (raw SQL bypasses the type)."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _array_params(rows: list[dict[str, Any]], claim: str, from_state: str) -> dict[str, Any]:
    params: dict[str, Any] = {name: [row[name] for row in rows] for name in _ARRAY_COLUMNS}
    params["new_sent_at"] = [_naive_utc(moment) for moment in params["new_sent_at"]]
    params["new_due_at"] = [_naive_utc(moment) for moment in params["new_due_at"]]
    params.update(row_claim=claim, from_state=from_state)
    return params


def record(batch: Batch, results: list[Result], from_state: str = DeliveryState.SENDING) -> None:
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
        session.execute(_RECORD_FROM_ARRAYS, _array_params(rows, batch.claim, from_state))
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


def _schedule_reminders(batch: Batch, sent: list[Row], moment: datetime) -> None:
    """The next reminder of each person just written to, as a row due when the policy says."""
    policy = batch.policy
    if policy.count <= 0 or batch.campaign.kind == CampaignKind.INVITATION:
        return  # an invitation's reminders are timed against the meeting (services.meetings)
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


def _count_errors(batch: Batch, results: list[Result]) -> None:
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


def mark_invited(session: Session, membership_ids: list[int], campaign: Campaign) -> None:
    """Prospects who were just sent a recruitment message are now ``invited``."""
    if campaign.kind != CampaignKind.RECRUITMENT or not membership_ids:
        return
    session.execute(
        update(Membership)
        .where(Membership.id.in_(membership_ids), Membership.state == MembershipState.PROSPECT)
        .values(state=MembershipState.INVITED, updated_at=utcnow())
    )
