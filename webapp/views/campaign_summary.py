"""How the campaign page words a campaign's schedule, reminders and pauses."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from webapp.models import Campaign, CampaignState, PauseReason, utcnow
from webapp.services.reminders import deadline_cutoff


def when(moment: datetime, tz: ZoneInfo) -> str:
    """A moment in the community's zone, in the reader's language."""
    local, locale = moment.astimezone(tz), get_locale() or "fr"
    return _(
        "%(date)s at %(time)s",
        date=format_date(local, "full", locale=locale),
        time=format_time(local, "short", locale=locale),
    )


def _hour(hour: int) -> str:
    return format_time(datetime(2000, 1, 1, hour), "short", locale=get_locale() or "fr")


def sending_facts(campaign: Campaign, tz: ZoneInfo) -> dict[str, Any]:
    """Finished values for the summary of the sending policy."""
    now, scheduled, launched = utcnow(), campaign.scheduled_at, campaign.launched_at
    if launched is not None:  # the rows were due at the later of the two
        start = max(launched, scheduled or launched)
    else:
        start = scheduled if scheduled and scheduled > now else now
    facts: dict[str, Any] = {
        "start": when(start, tz) if start > now else None,
        "started": when(start, tz) if launched and start <= now else None,
        "reminders": campaign.reminder_count,
        "gap": campaign.reminder_gap_days,
        "quiet": None,
        "deadline": None,
        "lead": None,
        "hold": campaign.unknown_policy == "hold",
    }
    if campaign.quiet_start is not None and campaign.quiet_end is not None:
        facts["quiet"] = (_hour(campaign.quiet_start), _hour(campaign.quiet_end))
    if campaign.deadline_at is not None:
        facts["deadline"] = when(campaign.deadline_at, tz)
        cutoff = deadline_cutoff(campaign.deadline_at, start)
        if cutoff is not None:  # hours between the last reminder and the deadline
            facts["lead"] = int((campaign.deadline_at - cutoff).total_seconds() // 3600)
    return facts


def notice(campaign: Campaign) -> str:
    """Why a paused campaign stopped, when it was not the coordinator's doing."""
    if campaign.state == CampaignState.PAUSED and campaign.paused_reason == PauseReason.ERRORS:
        return ngettext(
            "Paused after %(num)d failed send in a row: check the SMTP settings, then resume.",
            "Paused after %(num)d failed sends in a row: check the SMTP settings, then resume.",
            campaign.consecutive_errors,
        )
    return ""
