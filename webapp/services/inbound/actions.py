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
    RsvpStatus,
    utcnow,
)
from webapp.services import meetings, people, suppressions
from webapp.services.errors import DomainError
from webapp.services.questionnaires import INTEREST_FROM

from .bounces import BounceReport

SOFT_BOUNCES_TO_SUPPRESS = 3  # temporary failures within the window before the address is dropped
SOFT_BOUNCE_WINDOW = timedelta(days=30)


# What an answer to an invitation says, as an RSVP.
RSVPS = {
    Intent.ATTENDING: RsvpStatus.ACCEPTED,
    Intent.NOT_ATTENDING: RsvpStatus.DECLINED,
    Intent.MAYBE: RsvpStatus.TENTATIVE,
}


def apply_intent(
    session: Session,
    membership: Membership,
    intent: str,
    *,
    unsubscribe: bool,
    actor: str,
    meeting_id: int | None = None,
    source: str = "email",
) -> str | None:
    """Change what the intent says about the person; the action taken, or None.

    About a meeting (``meeting_id``), attending, not attending and maybe are its RSVP."""
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
    elif intent in RSVPS and meeting_id is not None:
        try:
            outcome = meetings.answer(
                session, meeting_id, person_id, RSVPS[Intent(intent)], source=source
            )
        except DomainError:  # cancelled, or not invited: a coordinator sees the message
            return None
        action = f"rsvp_{outcome.status}"
    else:
        # Questions, a maybe about no meeting: no state changes, the coordinator sees them.
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
