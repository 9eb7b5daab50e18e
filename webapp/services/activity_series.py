"""Series of activities: a confirmed rhythm becomes occurrences, each a meeting of its own.

The series keeps its recurrence rule (RFC 5545) from its first start, in its time zone, with the
starts it skips (EXDATE). Occurrences are generated a few months ahead, each remembering the start
the rule gave it (its RECURRENCE-ID), so one can move or be cancelled without touching the others:
as meetings, they bring their RSVPs, reminders, waiting list and calendar identity along.

:func:`tick` is the series' clock (the beat runs it): it generates the coming occurrences, sends
each one's invitation when it is near, and after each activity asks those who came for their
feedback, the facilitator for a summary and the others for the next topics.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import (
    ActivityFormat,
    ActivitySeries,
    AuditLog,
    Community,
    Meeting,
    MeetingState,
    Rsvp,
    RsvpStatus,
    SeriesState,
    TopicProposal,
    utcnow,
)

from . import ics, meetings, poll_zones
from .activities import activity_types
from .errors import N_, DomainError, NotFound

# Occurrences exist this far ahead; the beat adds the next ones as time goes by.
HORIZON = timedelta(days=120)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_INVITE_DAYS = 60
TOPIC_LIMIT = 300


@dataclass(frozen=True)
class SeriesData:
    """What a coordinator confirms: the rule and its first start (aware, in ``timezone``)."""

    title: str
    rrule: str
    timezone: str
    first_start: datetime
    duration_minutes: int = 90
    place: str = ""
    format: str = ActivityFormat.ONLINE
    activity_types: Sequence[str] = field(default_factory=tuple)
    invite_days: int = 14
    reminder_minutes: Sequence[int] = (1440, 120)
    exdates: Sequence[date] = field(default_factory=tuple)


def check_series(data: SeriesData) -> None:
    """Refuse a series its members could not follow as described, naming what is wrong."""
    meetings.check_meeting(
        meetings.MeetingData(
            title=data.title,
            starts_at=data.first_start,
            duration_minutes=data.duration_minutes,
            timezone=data.timezone,
            place=data.place,
            reminder_minutes=list(data.reminder_minutes),
        )
    )
    parse_rule(data.rrule, data.first_start.astimezone(ZoneInfo(data.timezone)))
    if data.format not in set(ActivityFormat):
        raise DomainError(N_("An activity is in person, online or hybrid."))
    known = {code for code, _label in activity_types()}
    unknown = [t for t in data.activity_types if t not in known]
    if unknown:
        raise DomainError(
            N_("Unknown activity type %(type)s: use one of %(types)s."),
            type=unknown[0],
            types=", ".join(sorted(known)),
        )
    if not 0 <= data.invite_days <= MAX_INVITE_DAYS:
        raise DomainError(N_("Invitations go from 0 to 60 days before each activity."))


def parse_rule(rule: str, dtstart: datetime) -> rrule:
    """The rule as dateutil reads it, from ``dtstart`` (local, naive): refused when it is not
    one RRULE of a known frequency."""
    text = rule.strip().removeprefix("RRULE:")
    parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
    if not text or "\n" in text or parts.get("FREQ") not in FREQUENCIES:
        raise DomainError(
            N_("The recurrence rule %(rule)s is not one RRULE with FREQ=WEEKLY, MONTHLY…"),
            rule=repr(rule),
        )
    try:
        parsed = rrulestr(text, dtstart=dtstart.replace(tzinfo=None))
    except (ValueError, TypeError):
        raise DomainError(
            N_("The recurrence rule %(rule)s cannot be read."), rule=repr(rule)
        ) from None
    assert isinstance(parsed, rrule)
    return parsed


def first_start(
    rule: str, zone: str, on_or_after: date, *, not_before: datetime | None = None
) -> datetime:
    """The first start the rule gives on or after a day (aware, in ``zone``), and not before
    ``not_before`` (now, for a series being confirmed: not earlier the same day): where a
    proposed rhythm begins."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(N_("Unknown time zone %(zone)s."), zone=repr(zone)) from None
    since = datetime.combine(on_or_after, time(0))
    if not_before is not None:
        since = max(since, not_before.astimezone(tz).replace(tzinfo=None, microsecond=0))
    # Every week (or month) from that day: an interval counts from the first start, not from
    # the day the coordinator gives.
    found = parse_rule(rule, since).replace(interval=1).after(since, inc=True)
    if found is None:
        raise DomainError(N_("The recurrence rule gives no date after %(day)s."), day=on_or_after)
    # A start the clocks skip that day (the hour lost in spring) is refused, naming it.
    return poll_zones.local_to_utc(found, zone).astimezone(tz)


def expand(series: ActivitySeries, until: datetime) -> list[datetime]:
    """The starts the rule gives from the first one up to ``until`` (UTC, aware), skipping the
    exceptions: wall-clock times of the series' zone, so 18:30 stays 18:30 across clock
    changes."""
    tz = ZoneInfo(series.timezone)
    local_first = series.starts_at.astimezone(tz).replace(tzinfo=None)
    rule = parse_rule(series.rrule, local_first)
    skipped = set(series.exdates or [])
    last = until.astimezone(tz).replace(tzinfo=None)
    found = []
    for local in rule.between(local_first, last, inc=True):
        if local.date().isoformat() in skipped:
            continue
        found.append(local.replace(tzinfo=tz).astimezone(UTC))
    return found


# -- the series and its occurrences ------------------------------------------------------------


def _series(session: Session, series_id: int) -> ActivitySeries:
    found = session.get(ActivitySeries, series_id)
    if found is None:
        raise NotFound(N_("No such series of activities."))
    return found


def create_series(session: Session, community_id: int, data: SeriesData, *, actor: str) -> int:
    """A new series with its first occurrences. Returns its id."""
    check_series(data)
    if session.get(Community, community_id) is None:
        raise NotFound(N_("No such community."))
    series = ActivitySeries(
        community_id=community_id,
        title=data.title.strip(),
        rrule=data.rrule.strip().removeprefix("RRULE:"),
        timezone=data.timezone,
        starts_at=data.first_start.astimezone(UTC),
        duration_minutes=data.duration_minutes,
        place=data.place.strip(),
        format=data.format,
        activity_types=list(dict.fromkeys(data.activity_types)),
        exdates=sorted({d.isoformat() for d in data.exdates}),
        uid=f"{uuid.uuid4()}@amorce",
        invite_days=data.invite_days,
        reminder_minutes=sorted(set(data.reminder_minutes), reverse=True),
    )
    session.add(series)
    session.flush()
    _audit(session, series, actor, "series.created", {"rrule": series.rrule})
    extend(session, series.id, now=utcnow())
    return series.id


def series_of(session: Session, community_id: int) -> list[ActivitySeries]:
    """The community's series, the latest first."""
    return list(
        session.scalars(
            select(ActivitySeries)
            .where(ActivitySeries.community_id == community_id)
            .order_by(ActivitySeries.created_at.desc(), ActivitySeries.id.desc())
        )
    )


def occurrences(session: Session, series_id: int) -> list[Meeting]:
    """The series' occurrences generated so far, in the order of the rule (cancelled ones
    included)."""
    return list(
        session.scalars(
            select(Meeting)
            .where(Meeting.series_id == series_id)
            .order_by(Meeting.recurrence_at, Meeting.id)
        )
    )


def extend(session: Session, series_id: int, *, now: datetime) -> int:
    """Generate the occurrences up to the horizon that do not exist yet; the activity types
    take turns in the series' rotation. How many were added."""
    series = _series(session, series_id)
    if series.state != SeriesState.ACTIVE:
        return 0
    known = set(
        session.scalars(select(Meeting.recurrence_at).where(Meeting.series_id == series.id))
    )
    count = len(known)
    added = 0
    for start in expand(series, now + HORIZON):
        if start in known:
            continue
        rotation = series.activity_types or []
        session.add(
            Meeting(
                community_id=series.community_id,
                series_id=series.id,
                recurrence_at=start,
                title=series.title,
                starts_at=start,
                duration_minutes=series.duration_minutes,
                timezone=series.timezone,
                place=series.place,
                agenda=[],
                uid=f"{uuid.uuid4()}@amorce",
                reminder_minutes=list(series.reminder_minutes or []),
                activity_type=rotation[count % len(rotation)] if rotation else "",
            )
        )
        count += 1
        added += 1
    session.flush()
    return added


def lock(session: Session, series_id: int) -> ActivitySeries:
    """The series, locked until the transaction ends: the clock and a coordinator's change to
    it take turns, so neither acts on what the other is changing. (``FOR NO KEY UPDATE``: a
    member's topic or feedback, which only refers to the series, does not wait.)"""
    found = session.scalars(
        select(ActivitySeries).where(ActivitySeries.id == series_id).with_for_update(key_share=True)
    ).one_or_none()
    if found is None:
        raise NotFound(N_("No such series of activities."))
    return found


def _occurrence(session: Session, meeting_id: int, *, to_come: bool = False) -> Meeting:
    """An occurrence, its series locked (:func:`lock`); ``to_come``: refused once it started."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.series_id is None:
        raise NotFound(N_("No such activity."))
    lock(session, meeting.series_id)
    session.refresh(meeting)
    if to_come and meeting.starts_at <= utcnow():
        raise DomainError(N_("This activity has already taken place."))
    return meeting


def set_occurrence(
    session: Session,
    meeting_id: int,
    *,
    topic: str,
    facilitator_id: int | None,
    activity_type: str,
    actor: str,
) -> None:
    """An occurrence's own topic, facilitator (a member) and type of activity."""
    meeting = _occurrence(session, meeting_id)
    topic = " ".join(topic.split())
    if len(topic) > TOPIC_LIMIT:
        raise DomainError(N_("A topic fits in 300 characters."))
    if activity_type and activity_type not in {c for c, _label in activity_types()}:
        raise DomainError(N_("Unknown activity type %(type)s."), type=activity_type)
    if facilitator_id is not None and not meetings.is_invited(
        session, meeting.community_id, facilitator_id
    ):
        raise DomainError(N_("The facilitator is one of the members."))
    meeting.topic = topic
    meeting.facilitator_id = facilitator_id
    meeting.activity_type = activity_type
    proposal = session.scalar(
        select(TopicProposal).where(
            TopicProposal.series_id == meeting.series_id,
            TopicProposal.text == topic,
            TopicProposal.meeting_id.is_(None),
        )
    )
    if proposal is not None and topic:
        proposal.meeting_id = meeting.id
    meeting.updated_at = utcnow()
    audit_occurrence(session, meeting, actor, "activity.changed", {"topic": topic})


def skip(session: Session, series_id: int, day: date, *, actor: str) -> int | None:
    """No activity that day (in the series' zone): the rule gets an exception (EXDATE), and
    the activity planned that day, if any, is cancelled (its invitees are told when it was
    announced). An activity moved away from that day stays where it went. Returns the
    cancelled one."""
    series = lock(session, series_id)
    if day <= utcnow().astimezone(ZoneInfo(series.timezone)).date():
        raise DomainError(N_("Choose a day to come."))
    tz = ZoneInfo(series.timezone)
    found = occurrences(session, series.id)
    moved_away = any(
        m.recurrence_at is not None
        and m.recurrence_at.astimezone(tz).date() == day
        and m.starts_at.astimezone(tz).date() != day
        and m.state == MeetingState.SCHEDULED
        for m in found
    )
    text = day.isoformat()
    if not moved_away and text not in (series.exdates or []):
        series.exdates = sorted({*(series.exdates or []), text})
        series.sequence += 1
    _audit(session, series, actor, "series.skipped", {"day": text})
    for meeting in found:
        on_that_day = meeting.starts_at.astimezone(tz).date() == day
        if on_that_day and meeting.state == MeetingState.SCHEDULED:
            cancel(session, meeting.id, actor=actor)
            return meeting.id
    return None


def cancel(session: Session, meeting_id: int, *, actor: str) -> bool:
    """Cancel one occurrence to come; the others stay. Those already invited get the
    cancellation."""
    meeting = _occurrence(session, meeting_id, to_come=True)
    if not meetings.cancel(session, meeting.id, actor=actor):
        return False
    from .activity_clock import tell_invitees  # (it imports this module)

    tell_invitees(session, meeting, actor)
    return True


def move(session: Session, meeting_id: int, starts_at: datetime, *, actor: str) -> bool:
    """Move one occurrence to come, to a time to come (its reminders move with it); the others
    stay. Those already invited get the change."""
    meeting = _occurrence(session, meeting_id, to_come=True)
    if starts_at <= utcnow():
        raise DomainError(N_("Move it to a time to come."))
    moved = meetings.change(
        session,
        meeting.id,
        meetings.MeetingData(
            title=meeting.title,
            starts_at=starts_at,
            duration_minutes=meeting.duration_minutes,
            timezone=meeting.timezone,
            place=meeting.place,
            capacity=meeting.capacity,
        ),
        actor=actor,
    )
    if moved:
        from .activity_clock import tell_invitees  # (it imports this module)

        tell_invitees(session, meeting, actor)
    return moved


def end_series(session: Session, series_id: int, *, actor: str) -> None:
    """No more occurrences are generated; those already planned stay (calendars hear that the
    rule now ends with the last of them)."""
    series = lock(session, series_id)
    if series.state == SeriesState.ENDED:
        return
    series.state = SeriesState.ENDED
    series.sequence += 1
    _audit(session, series, actor, "series.ended", {})


def came(session: Session, meeting: Meeting) -> list[int]:
    """Who came: those checked in, or when nobody was, those who said yes."""
    checked = sorted(meetings.attendees(session, meeting.id))
    if checked:
        return checked
    return sorted(
        session.scalars(
            select(Rsvp.person_id).where(
                Rsvp.meeting_id == meeting.id, Rsvp.status == RsvpStatus.ACCEPTED
            )
        )
    )


# -- calendars -----------------------------------------------------------------------------------


def series_ics(session: Session, series_id: int, *, organizer_email: str) -> bytes:
    """The whole series for a calendar (``PUBLISH``): the rule, its exceptions and cancelled
    occurrences as EXDATEs, and each occurrence with its own time or topic."""
    series = _series(session, series_id)
    community = session.get(Community, series.community_id)
    assert community is not None
    tz = ZoneInfo(series.timezone)
    found = occurrences(session, series.id)
    skipped = [
        datetime.combine(date.fromisoformat(day), series.starts_at.astimezone(tz).time(), tz)
        for day in series.exdates or []
    ]
    skipped += [
        m.recurrence_at
        for m in found
        if m.state == MeetingState.CANCELLED
        and m.recurrence_at is not None
        and m.recurrence_at.astimezone(tz).date().isoformat() not in (series.exdates or [])
    ]
    organizer = (community.sender_name or community.name, organizer_email)
    rule = series.rrule
    last = max((m.recurrence_at for m in found if m.recurrence_at is not None), default=None)
    if series.state == SeriesState.ENDED and last is not None and "UNTIL=" not in rule:
        # Ended: the rule stops at the last occurrence generated (UNTIL in UTC, RFC 5545).
        rule = ";".join(p for p in rule.split(";") if not p.startswith("COUNT="))
        rule += f";UNTIL={last.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    master = ics.CalendarEvent(
        uid=series.uid,
        sequence=series.sequence,
        title=series.title,
        starts_at=series.starts_at,
        duration=timedelta(minutes=series.duration_minutes),
        timezone=series.timezone,
        location=series.place,
        organizer=organizer,
        rrule=rule,
        exdates=tuple(skipped),
    )
    # The occurrences that differ from the rule, as their own invitations describe them.
    overrides = tuple(
        meetings.calendar_event(
            m,
            community,
            organizer_email=organizer_email,
            attendees=(),
            locale=community.language,
            identity=(series.uid, m.recurrence_at),
        )
        for m in found
        if m.state == MeetingState.SCHEDULED
        and m.recurrence_at is not None
        and (m.starts_at != m.recurrence_at or m.topic or m.sequence)
    )
    return ics.series(master, overrides)


# -- topics --------------------------------------------------------------------------------------


def propose_topic(
    session: Session, series_id: int, text: str, *, person_id: int | None, actor: str
) -> int:
    """A topic for a coming occurrence. Returns its id (the existing one when the same words
    were already proposed)."""
    series = _series(session, series_id)
    text = " ".join(text.split())
    if not text:
        raise DomainError(N_("Write the topic in a few words."))
    if len(text) > TOPIC_LIMIT:
        raise DomainError(N_("A topic fits in 300 characters."))
    existing = session.scalar(
        select(TopicProposal).where(
            TopicProposal.series_id == series.id, TopicProposal.text == text
        )
    )
    if existing is not None:
        return existing.id
    proposal = TopicProposal(series_id=series.id, person_id=person_id, text=text)
    session.add(proposal)
    session.flush()
    _audit(session, series, actor, "series.topic_proposed", {"topic": proposal.id})
    return proposal.id


def open_topics(session: Session, series_id: int) -> list[TopicProposal]:
    """The proposed topics no occurrence took yet, oldest first."""
    return list(
        session.scalars(
            select(TopicProposal)
            .where(TopicProposal.series_id == series_id, TopicProposal.meeting_id.is_(None))
            .order_by(TopicProposal.created_at, TopicProposal.id)
        )
    )


# -- audit ---------------------------------------------------------------------------------------


def _audit(
    session: Session, series: ActivitySeries, actor: str, action: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditLog(
            community_id=series.community_id,
            actor=actor,
            action=action,
            details={"series": series.id, **details},
        )
    )


def audit_occurrence(
    session: Session, meeting: Meeting, actor: str, action: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditLog(
            community_id=meeting.community_id,
            actor=actor,
            action=action,
            details={"meeting": meeting.id, "series": meeting.series_id, **details},
        )
    )
