"""The suppression list: addresses never to be mailed again, kept only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Campaign,
    Delivery,
    DeliveryState,
    InstanceSetting,
    Person,
    Suppression,
)


def _suppression_key(session: Session) -> bytes:
    cached = session.info.get("suppression_key")
    if cached:
        return bytes(cached)
    row = session.get(InstanceSetting, "suppression_key")
    if row is None:
        try:
            with session.begin_nested():
                row = InstanceSetting(name="suppression_key", value=secrets.token_hex(32))
                session.add(row)
        except IntegrityError:
            row = session.get(InstanceSetting, "suppression_key")
            assert row is not None
    key = bytes.fromhex(row.value)
    session.info["suppression_key"] = key
    return key


def email_hash(session: Session, address: str) -> str:
    """The keyed hash under which an address is kept on the suppression list."""
    return hmac.new(_suppression_key(session), address.lower().encode(), hashlib.sha256).hexdigest()


def suppressed_hashes(session: Session, community_id: int) -> set[str]:
    """Every hash suppressed for this community or for the whole instance."""
    rows = session.scalars(
        select(Suppression.email_hash).where(
            or_(Suppression.community_id == community_id, Suppression.community_id.is_(None))
        )
    )
    return set(rows)


def is_suppressed(session: Session, community_id: int, address: str) -> bool:
    """Whether this address may not be mailed on behalf of this community."""
    digest = email_hash(session, address)
    row = session.scalar(
        select(Suppression.id)
        .where(
            Suppression.email_hash == digest,
            or_(Suppression.community_id == community_id, Suppression.community_id.is_(None)),
        )
        .limit(1)
    )
    return row is not None


def suppress(
    session: Session, address: str, *, community_id: int | None, reason: str, actor: str
) -> bool:
    """Put an address on the suppression list; False when it already was."""
    digest = email_hash(session, address)
    exists = session.scalar(
        select(Suppression.id).where(
            Suppression.email_hash == digest,
            Suppression.community_id.is_(None)
            if community_id is None
            else Suppression.community_id == community_id,
        )
    )
    if exists:
        return False
    try:
        with session.begin_nested():
            session.add(Suppression(email_hash=digest, community_id=community_id, reason=reason))
    except IntegrityError:  # a concurrent unsubscribe got there first
        return False
    _suppress_pending(session, address, community_id)
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action="suppression.added",
            details={"reason": reason},
        )
    )
    return True


def _suppress_pending(session: Session, address: str, community_id: int | None) -> None:
    """Rows waiting in the outbox for this address will not go (U3), queued ones included."""
    person_ids = select(Person.id).where(Person.email == address.lower())
    rows = select(Delivery.id).where(
        Delivery.person_id.in_(person_ids), Delivery.state == DeliveryState.PENDING
    )
    if community_id is not None:
        rows = rows.join(Campaign, Campaign.id == Delivery.campaign_id).where(
            Campaign.community_id == community_id
        )
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(rows), Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.SUPPRESSED, lease_expires_at=None)
    )
