"""Translated labels for the states, sources and reasons shown on pages."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import lazy_gettext as _l

STATES = {
    "prospect": _l("Prospect"),
    "invited": _l("Invited"),
    "interested": _l("Interested"),
    "not_interested": _l("Not interested"),
    "applicant": _l("Applicant"),
    "selected": _l("Selected"),
    "waitlisted": _l("Waitlisted"),
    "declined": _l("Declined"),
    "member": _l("Member"),
    "alumnus": _l("Alumnus"),
}
SOURCES = {
    "network": _l("Network"),
    "referral": _l("Referral"),
    "list": _l("List"),
    "self": _l("Self"),
}
CONSENTS = {"express": _l("Express"), "implied": _l("Implied"), "": _l("None")}
CAMPAIGN_STATES = {
    "draft": _l("Draft"),
    "running": _l("Sending"),
    "paused": _l("Paused"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
DELIVERY_STATES = {
    "pending": _l("Pending"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "bounced": _l("Bounced"),
    "unknown": _l("Unknown outcome"),
    "suppressed": _l("Suppressed"),
    "skipped": _l("Not needed (answered)"),
    "cancelled": _l("Cancelled"),
    "waiting": _l("Due later"),
    "resent": _l("Sent again"),
    "answered": _l("Answered"),
}
EXCLUSIONS = {
    "suppressed": _l("Left out, on the suppression list"),
    "no_consent": _l("Left out, no consent record"),
}

INBOUND_KINDS = {
    "reply": _l("Reply"),
    "auto_reply": _l("Automatic reply"),
    "bounce": _l("Bounce"),
    "unsubscribe": _l("Unsubscribe request"),
    "calendar_reply": _l("Calendar answer"),
    "unattributed": _l("Not attributed"),
    "": _l("Not read yet"),
}
INTENTS = {
    "interested": _l("Interested"),
    "not_interested": _l("Not interested"),
    "maybe": _l("Maybe"),
    "attending": _l("Will attend"),
    "not_attending": _l("Will not attend"),
    "question": _l("Question"),
    "unknown": _l("Unclear"),
    "unsubscribe": _l("Unsubscribe: write to them no more"),
}
INBOUND_ACTIONS = {
    "marked_interested": _l("Marked as interested"),
    "marked_not_interested": _l("Marked as not interested"),
    "unsubscribed": _l("Unsubscribed"),
    "bounced": _l("Delivery marked as bounced"),
    "suppressed": _l("Address suppressed (bounces)"),
    "delayed": _l("Delivery delayed, nothing changed"),
    "charter_votes": _l("Votes on the charter's statements recorded"),
    "": _l("No action"),
}
INBOUND_REASONS = {
    "text": _l("read from the new text of the reply"),
    "votes": _l("votes on the charter's statements, by number"),
    "votes_closed": _l("votes sent after the vote closed"),
    "mailto": _l("sent to the unsubscribe address"),
    "imip": _l("a calendar answer (iMIP)"),
    "hard": _l("permanent failure"),
    "soft": _l("temporary failure"),
    "delayed": _l("delivery delayed"),
    "auto_submitted": _l("Auto-Submitted header"),
    "auto_response_suppress": _l("X-Auto-Response-Suppress header"),
    "autoresponder": _l("written by an autoresponder"),
    "precedence": _l("Precedence: bulk, junk or list"),
    "mailing_list": _l("sent through a mailing list"),
    "report": _l("a delivery or read report"),
    "null_sender": _l("no return path (null sender)"),
    "return_path": _l("sent to the bounce address"),
    "forged_address": _l("the signed reply address was altered"),
    "no_signed_address": _l("no signed reply address"),
}
CRITERION_SOURCES = {
    "answer": _l("From an answer to the application"),
    "rating": _l("Rated by reviewers, 0 to 5"),
}
# The buttons that record a decision on an applicant.
DECISION_ACTIONS = {
    "selected": _l("Select"),
    "waitlisted": _l("Put on the waiting list"),
    "declined": _l("Decline"),
}


def _lookup(table: dict[str, object]) -> Callable[[str], str]:
    return lambda key: str(table.get(key, key))


AMENDMENT_STATES = {
    "open": _l("open"),
    "accepted": _l("accepted"),
    "rejected": _l("rejected"),
    "withdrawn": _l("withdrawn"),
}


def label_helpers() -> dict[str, Callable[[str], str]]:
    """The template functions that turn stored values into words."""
    return {
        "state_label": _lookup(STATES),
        "source_label": _lookup(SOURCES),
        "consent_label": _lookup(CONSENTS),
        "campaign_state_label": _lookup(CAMPAIGN_STATES),
        "delivery_label": _lookup(DELIVERY_STATES),
        "exclusion_label": _lookup(EXCLUSIONS),
        "kind_label": _lookup(INBOUND_KINDS),
        "intent_label": _lookup(INTENTS),
        "action_label": lambda key: str(INBOUND_ACTIONS.get(key or "", key)),
        "reason_label": _lookup(INBOUND_REASONS),
        "criterion_source_label": _lookup(CRITERION_SOURCES),
        "amendment_state_label": _lookup(AMENDMENT_STATES),
    }
