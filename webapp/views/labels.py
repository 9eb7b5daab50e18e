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


def _lookup(table: dict[str, object]) -> Callable[[str], str]:
    return lambda key: str(table.get(key, key))


def label_helpers() -> dict[str, Callable[[str], str]]:
    """The template functions that turn stored values into words."""
    return {
        "state_label": _lookup(STATES),
        "source_label": _lookup(SOURCES),
        "consent_label": _lookup(CONSENTS),
        "campaign_state_label": _lookup(CAMPAIGN_STATES),
        "delivery_label": _lookup(DELIVERY_STATES),
        "exclusion_label": _lookup(EXCLUSIONS),
    }
