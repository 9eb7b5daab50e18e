"""What a reply or a bounce changes: the person's state, their consent, the delivery."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Delivery,
    DeliveryState,
    InboundKind,
    InboundMessage,
    Intent,
    Membership,
    MembershipState,
    Person,
    utcnow,
)
from webapp.services import people, suppressions
from webapp.services.questionnaires import INTEREST_FROM

from .bounces import BounceReport

SOFT_BOUNCES_TO_SUPPRESS = 3  # temporary failures within the window before the address is dropped
SOFT_BOUNCE_WINDOW = timedelta(days=30)


def apply_intent(
    session: Session, membership: Membership, intent: str, *, unsubscribe: bool, actor: str
) -> str | None:
    """Change what the intent says about the person; the action taken, or None."""
    community_id, person_id = membership.community_id, membership.person_id
    membership.answered_at = membership.answered_at or utcnow()
    if unsubscribe:
        people.unsubscribe(session, community_id, person_id, how="email", membership=membership)
        action = "unsubscribed"
    elif intent == Intent.INTERESTED:
        if membership.state not in INTEREST_FROM:
            return None
        membership.state = MembershipState.INTERESTED
        action = "marked_interested"
    elif intent == Intent.NOT_INTERESTED:
        people.record_not_now(session, community_id, person_id, membership=membership)
        action = "marked_not_interested"
    else:
        # Maybe, questions and RSVPs change no state here: the coordinator sees them in the inbox
        # (RSVPs are recorded against a meeting once meetings exist).
        return None
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action=f"inbound.{action}",
            details={"person_id": person_id, "intent": intent},
        )
    )
    return action


def apply_bounce(
    session: Session, delivery: Delivery, bounce: BounceReport, inbound_id: int, *, trusted: bool
) -> str:
    """Mark the delivery bounced; suppress the address on a hard bounce or repeated soft ones.

    Only a ``trusted`` report (one that came back to the signed return path) may suppress: a
    report matched by Message-ID alone could have been written by anyone who saw that ID.
    """
    person = session.get(Person, delivery.person_id)
    assert person is not None
    if bounce.delayed:
        return "delayed"
    # A report about another address (a forward of the person's mail, say) marks the delivery
    # but is not proof enough to drop the person's own address at once.
    own = trusted and (not bounce.recipients or person.email.lower() in bounce.recipients)
    if delivery.state in (DeliveryState.SENT, DeliveryState.UNKNOWN, DeliveryState.SENDING):
        delivery.state = DeliveryState.BOUNCED
    delivery.error = f"{bounce.status} {bounce.diagnostic}".strip()[:1000]
    if bounce.hard and own:
        suppressions.suppress(
            session, person.email, community_id=None, reason="hard_bounce", actor="system"
        )
        return "suppressed"
    if not own:
        return "bounced"
    soft = session.scalar(
        select(func.count(InboundMessage.id)).where(
            InboundMessage.person_id == person.id,
            InboundMessage.kind == InboundKind.BOUNCE,
            InboundMessage.reason == "soft",
            InboundMessage.received_at > utcnow() - SOFT_BOUNCE_WINDOW,
            InboundMessage.id != inbound_id,
        )
    )
    if (soft or 0) + 1 >= SOFT_BOUNCES_TO_SUPPRESS:
        suppressions.suppress(
            session, person.email, community_id=None, reason="soft_bounces", actor="system"
        )
        return "suppressed"
    return "bounced"
