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

from forms.questionnaires import default_definition, localised
from webapp.i18n import LOCALES, translations_for
from webapp.models import (
    ActivityFormat,
    ActivitySeries,
    ActivityStep,
    AuditLog,
    Campaign,
    CampaignKind,
    Community,
    Meeting,
    MeetingState,
    Membership,
    MembershipState,
    Person,
    Rsvp,
    RsvpStatus,
    SeriesState,
    TopicProposal,
    utcnow,
)

from . import ics, meetings
from .errors import N_, DomainError, NotFound

# Occurrences exist this far ahead; the beat adds the next ones as time goes by.
HORIZON = timedelta(days=120)
# The feedback survey goes this long after the end of an activity, and not for activities
# older than a week (a series created late does not survey its past).
FEEDBACK_DELAY = timedelta(hours=1)
FEEDBACK_WINDOW = timedelta(days=7)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
MAX_INVITE_DAYS = 60
TOPIC_LIMIT = 300


def activity_types() -> list[tuple[str, dict[str, str]]]:
    """The catalogue of activity types (code, label per language), from the needs survey."""
    for question in default_definition("needs")["questions"]:
        if question["id"] == "activity_types":
            return [(c["value"], c["label"]) for c in question["choices"]]
    return []


def type_label(code: str, locale: str) -> str:
    """An activity type as a reader in ``locale`` calls it (its code when unknown)."""
    return next((localised(label, locale) for c, label in activity_types() if c == code), code)


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


def first_start(rule: str, zone: str, on_or_after: date) -> datetime:
    """The first start the rule gives on or after a day (aware, in ``zone``): where a proposed
    rhythm begins."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(N_("Unknown time zone %(zone)s."), zone=repr(zone)) from None
    midnight = datetime.combine(on_or_after, time(0))
    # Every week (or month) from that day: an interval counts from the first start, not from
    # the day the coordinator gives.
    found = parse_rule(rule, midnight).replace(interval=1).after(midnight, inc=True)
    if found is None:
        raise DomainError(N_("The recurrence rule gives no date after %(day)s."), day=on_or_after)
    return found.replace(tzinfo=tz)


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
    known = {m.recurrence_at for m in occurrences(session, series.id)}
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


def _occurrence(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.series_id is None:
        raise NotFound(N_("No such activity."))
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
    if facilitator_id is not None:
        state = session.scalar(
            select(Membership.state).where(
                Membership.community_id == meeting.community_id,
                Membership.person_id == facilitator_id,
            )
        )
        if state not in meetings.INVITED_STATES:
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
    _audit_meeting(session, meeting, actor, "activity.changed", {"topic": topic})


def skip(session: Session, series_id: int, day: date, *, actor: str) -> int | None:
    """Add an exception to the rule (no activity that day); the occurrence generated for that
    day, if any, is cancelled (its invitees are told when it was announced). Returns it."""
    series = _series(session, series_id)
    text = day.isoformat()
    if text not in (series.exdates or []):
        series.exdates = sorted({*(series.exdates or []), text})
    series.sequence += 1
    tz = ZoneInfo(series.timezone)
    for meeting in occurrences(session, series.id):
        assert meeting.recurrence_at is not None
        if meeting.recurrence_at.astimezone(tz).date() == day:
            cancel(session, meeting.id, actor=actor)
            return meeting.id
    _audit(session, series, actor, "series.skipped", {"day": text})
    return None


def cancel(session: Session, meeting_id: int, *, actor: str) -> bool:
    """Cancel one occurrence; the others stay. Those already invited get the cancellation."""
    meeting = _occurrence(session, meeting_id)
    if not meetings.cancel(session, meeting.id, actor=actor):
        return False
    _tell_invitees(session, meeting, actor)
    return True


def move(session: Session, meeting_id: int, starts_at: datetime, *, actor: str) -> bool:
    """Move one occurrence (its reminders move with it); the others stay. Those already
    invited get the change."""
    meeting = _occurrence(session, meeting_id)
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
        _tell_invitees(session, meeting, actor)
    return moved


def _tell_invitees(session: Session, meeting: Meeting, actor: str) -> None:
    """The occurrence changed after its invitation went: the invitation again (an update or a
    cancellation, with its .ics), to the same people."""
    if not _invited(session, meeting.id):
        return
    from .campaigns import create_campaign, launch_campaign  # (campaigns import meetings)

    try:
        with session.begin_nested():
            campaign_id = create_campaign(
                session,
                meeting.community_id,
                kind=CampaignKind.INVITATION,
                meeting_id=meeting.id,
                content=occurrence_content(session, meeting),
                name=_name(session, meeting, N_("Activity update")),
            )
            launch_campaign(session, campaign_id, actor=actor)
    except DomainError as exc:
        _audit_meeting(session, meeting, "system", "activity.update_not_mailed", {"why": str(exc)})


def _invited(session: Session, meeting_id: int) -> bool:
    return (
        session.scalar(
            select(Campaign.id)
            .where(
                Campaign.meeting_id == meeting_id,
                Campaign.kind == CampaignKind.INVITATION,
                Campaign.launched_at.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


def end_series(session: Session, series_id: int, *, actor: str) -> None:
    """No more occurrences are generated; those already planned stay."""
    series = _series(session, series_id)
    series.state = SeriesState.ENDED
    _audit(session, series, actor, "series.ended", {})


# -- messages ------------------------------------------------------------------------------------

INVITATION_SUBJECT = N_("{{ community }}: %(type)s, %(title)s")
INVITATION_LEAD = N_("The next activity of **{{ community }}**: %(type)s.")
INVITATION_TOPIC = N_("The topic: %(topic)s.")
INVITATION_FACILITATOR = N_("%(name)s facilitates it.")
INVITATION_FORMAT = {
    ActivityFormat.IN_PERSON: N_("It is held in person."),
    ActivityFormat.ONLINE: N_("It is held online."),
    ActivityFormat.HYBRID: N_("Come in person or join online."),
}


def occurrence_content(session: Session, meeting: Meeting) -> dict[str, dict[str, str]]:
    """An occurrence's invitation, per language: its type, topic, facilitator and format."""
    series = _series(session, meeting.series_id or 0)
    facilitator = session.get(Person, meeting.facilitator_id) if meeting.facilitator_id else None
    content = {}
    for locale in LOCALES:
        gettext = translations_for(locale).gettext
        kind = type_label(meeting.activity_type, locale) if meeting.activity_type else ""
        kind = kind or gettext("Activity")
        lines = [gettext(INVITATION_LEAD) % {"type": kind}]
        if meeting.topic:
            lines.append(gettext(INVITATION_TOPIC) % {"topic": _plain(meeting.topic)})
        if facilitator is not None:
            name = _plain(facilitator.display_name)
            lines.append(gettext(INVITATION_FACILITATOR) % {"name": name})
        lines.append(gettext(INVITATION_FORMAT[ActivityFormat(series.format)]))
        content[locale] = {
            "subject": gettext(INVITATION_SUBJECT)
            % {"type": kind, "title": _plain(meeting.topic or series.title)},
            "message": " ".join(lines),
        }
    return content


def _plain(text: str) -> str:
    """A member's words inside a message: no placeholder or Markdown link of theirs is read."""
    return text.replace("{{", "{ {").replace("}}", "} }").replace("{%", "{ %").replace("%}", "% }")


def _name(session: Session, meeting: Meeting, what: str) -> str:
    community = session.get(Community, meeting.community_id)
    locale = community.language if community else "fr"
    day = meeting.starts_at.astimezone(ZoneInfo(meeting.timezone)).date().isoformat()
    return f"{translations_for(locale).gettext(what)} {day}"


# -- the clock -----------------------------------------------------------------------------------


@dataclass
class Tick:
    """What one turn of the clock did."""

    generated: int = 0
    invited: int = 0
    followed_up: int = 0
    not_mailed: list[str] = field(default_factory=list)


def tick(session: Session, *, now: datetime | None = None) -> Tick:
    """Generate the coming occurrences, invite to those whose invitation is due, follow up the
    ones that just ended. Idempotent: a second turn at the same moment does nothing."""
    now = now or utcnow()
    done = Tick()
    for series_id in session.scalars(
        select(ActivitySeries.id).where(ActivitySeries.state == SeriesState.ACTIVE)
    ).all():
        done.generated += extend(session, series_id, now=now)
    rows = session.execute(
        select(Meeting, ActivitySeries.invite_days)
        .join(ActivitySeries, ActivitySeries.id == Meeting.series_id)
        .where(Meeting.state == MeetingState.SCHEDULED, Meeting.starts_at > now)
    ).all()
    for meeting, invite_days in rows:
        if meeting.starts_at - timedelta(days=invite_days) > now:
            continue
        if _invited(session, meeting.id) or _invitation_refused(session, meeting.id):
            continue
        if _send(session, meeting, CampaignKind.INVITATION, None, None, done):
            done.invited += 1
    ended = session.scalars(
        select(Meeting).where(
            Meeting.series_id.is_not(None),
            Meeting.state == MeetingState.SCHEDULED,
            Meeting.followed_up_at.is_(None),
            Meeting.starts_at > now - FEEDBACK_WINDOW,
        )
    ).all()
    for meeting in ended:
        if meetings.meeting_end(meeting) + FEEDBACK_DELAY > now:
            continue
        follow_up(session, meeting, done)
        meeting.followed_up_at = now
        done.followed_up += 1
    return done


def _invitation_refused(session: Session, meeting_id: int) -> bool:
    """An invitation the clock already tried and could not launch (nobody to invite, no sender
    identity): it is not tried again at every turn."""
    return (
        session.scalar(
            select(AuditLog.id)
            .where(
                AuditLog.action == "activity.invitation_not_mailed",
                AuditLog.details["meeting"].as_integer() == meeting_id,
            )
            .limit(1)
        )
        is not None
    )


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


def follow_up(session: Session, meeting: Meeting, done: Tick | None = None) -> None:
    """After an activity: the feedback survey to those who came, the summary prompt to the
    facilitator, the call for next topics to the other members."""
    done = done or Tick()
    attended = came(session, meeting)
    members = set(
        session.scalars(
            select(Membership.person_id).where(
                Membership.community_id == meeting.community_id,
                Membership.state == MembershipState.MEMBER,
            )
        )
    )
    if attended:
        _send(session, meeting, CampaignKind.ACTIVITY, ActivityStep.FEEDBACK, attended, done)
    if meeting.facilitator_id is not None:
        _send(
            session,
            meeting,
            CampaignKind.ACTIVITY,
            ActivityStep.SUMMARY,
            [meeting.facilitator_id],
            done,
        )
    others = sorted(members - set(attended) - {meeting.facilitator_id})
    if others:
        _send(session, meeting, CampaignKind.ACTIVITY, ActivityStep.TOPICS, others, done)


STEP_NAMES = {
    ActivityStep.FEEDBACK: N_("Feedback"),
    ActivityStep.SUMMARY: N_("Summary"),
    ActivityStep.TOPICS: N_("Next topics"),
}


def _send(
    session: Session,
    meeting: Meeting,
    kind: str,
    step: str | None,
    people: list[int] | None,
    done: Tick,
) -> bool:
    """Create and launch one campaign about the occurrence; a refusal (nobody to write to, no
    sender identity) is recorded and undoes only this campaign."""
    from .campaigns import create_campaign, launch_campaign  # (campaigns import meetings)

    name = N_("Invitation") if step is None else STEP_NAMES[ActivityStep(step)]
    try:
        with session.begin_nested():
            campaign_id = create_campaign(
                session,
                meeting.community_id,
                kind=kind,
                meeting_id=meeting.id,
                activity_step=step,
                audience_filter={"people": people} if people is not None else None,
                content=occurrence_content(session, meeting) if step is None else None,
                name=_name(session, meeting, name),
            )
            launch_campaign(session, campaign_id, actor="system")
    except DomainError as exc:
        what = "invitation" if step is None else str(step)
        _audit_meeting(session, meeting, "system", f"activity.{what}_not_mailed", {"why": str(exc)})
        done.not_mailed.append(f"{meeting.id}:{what}")
        return False
    return True


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
        if m.state == MeetingState.CANCELLED and m.recurrence_at is not None
    ]
    organizer = (community.sender_name or community.name, organizer_email)
    master = ics.CalendarEvent(
        uid=series.uid,
        sequence=series.sequence,
        title=series.title,
        starts_at=series.starts_at,
        duration=timedelta(minutes=series.duration_minutes),
        timezone=series.timezone,
        location=series.place,
        organizer=organizer,
        rrule=series.rrule,
        exdates=tuple(skipped),
    )
    overrides = tuple(
        ics.CalendarEvent(
            uid=series.uid,
            sequence=m.sequence,
            title=occurrence_title(m, community.language),
            starts_at=m.starts_at,
            duration=timedelta(minutes=m.duration_minutes),
            timezone=m.timezone,
            location=m.place,
            organizer=organizer,
            recurrence_id=m.recurrence_at,
        )
        for m in found
        if m.state == MeetingState.SCHEDULED
        and m.recurrence_at is not None
        and (m.starts_at != m.recurrence_at or m.topic or m.activity_type or m.sequence)
    )
    return ics.series(master, overrides)


def occurrence_title(meeting: Meeting, locale: str) -> str:
    """ "Midi-causerie · Reading club: Wenger 1998": the series' title, the occurrence's type
    and topic."""
    parts = [type_label(meeting.activity_type, locale)] if meeting.activity_type else []
    if meeting.topic:
        parts.append(meeting.topic)
    return f"{meeting.title} · {': '.join(parts)}" if parts else meeting.title


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


def _audit_meeting(
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
