"""When a reminder is due: a campaign's policy applied to one recipient.

The policy: up to ``count`` reminders, at least ``gap`` apart; with a deadline, the last one lands
48 hours before it when the deadline is more than five days away, 36 hours when it is two to five
days away, and none is sent under two days; never inside the recipient's quiet hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webapp.models import Campaign

FAR_DEADLINE = timedelta(days=5)
NEAR_DEADLINE = timedelta(days=2)
FAR_LEAD = timedelta(hours=48)
NEAR_LEAD = timedelta(hours=36)


@dataclass(frozen=True)
class ReminderPolicy:
    """A campaign's reminder settings."""

    count: int = 0
    gap: timedelta = timedelta(days=3)
    deadline: datetime | None = None
    quiet_start: int | None = None  # local hour when quiet hours begin
    quiet_end: int | None = None  # local hour when they end

    @classmethod
    def of(cls, campaign: Campaign) -> ReminderPolicy:
        return cls(
            count=campaign.reminder_count,
            gap=timedelta(days=campaign.reminder_gap_days),
            deadline=campaign.deadline_at,
            quiet_start=campaign.quiet_start,
            quiet_end=campaign.quiet_end,
        )


def deadline_cutoff(deadline: datetime, sent_at: datetime) -> datetime | None:
    """The latest moment for a reminder before ``deadline``; None when it is too close."""
    remaining = deadline - sent_at
    if remaining < NEAR_DEADLINE:
        return None
    return deadline - (FAR_LEAD if remaining > FAR_DEADLINE else NEAR_LEAD)


def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name, UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _in_quiet_hours(hour: int, start: int, end: int) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end  # quiet hours across midnight, e.g. 21 to 8


def outside_quiet_hours(moment: datetime, policy: ReminderPolicy, tz: ZoneInfo) -> datetime:
    """``moment``, or the end of the quiet hours it falls in, in the recipient's zone."""
    start, end = policy.quiet_start, policy.quiet_end
    if start is None or end is None:
        return moment
    local = moment.astimezone(tz)
    if not _in_quiet_hours(local.hour, start, end):
        return moment
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(moment.tzinfo)


def next_reminder_at(
    policy: ReminderPolicy, *, step_sent: int, sent_at: datetime, tz: ZoneInfo
) -> datetime | None:
    """When reminder ``step_sent + 1`` is due, given that step ``step_sent`` went out at
    ``sent_at``; None when the policy wants no further reminder."""
    if step_sent >= policy.count:
        return None
    due = sent_at + policy.gap
    if policy.deadline is not None:
        cutoff = deadline_cutoff(policy.deadline, sent_at)
        if cutoff is None or due > cutoff:
            return None
        if step_sent + 1 == policy.count or due + policy.gap > cutoff:
            due = cutoff  # the last reminder: timed against the deadline
    # Quiet hours last less than a day and the cutoff is at least 36 hours before the deadline,
    # so a reminder moved past them still comes before the deadline.
    return outside_quiet_hours(due, policy, tz)
