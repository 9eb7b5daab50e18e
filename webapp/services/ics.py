"""A meeting as an iCalendar file (RFC 5545) for email invitations (iTIP, RFC 5546; iMIP, RFC 6047).

Pure: the caller describes the event with finished values and gets bytes back; no database, no
clock unless ``stamp`` is left out. The start is written in the event's own time zone (``TZID``)
with a ``VTIMEZONE`` built from the IANA database, so a calendar shows the meeting at the same
wall-clock time in that zone whatever the daylight saving rules of the reader's zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, Timezone, vCalAddress, vRecur

PRODID = "-//Amorce//Amorce//FR"
PARTSTATS = ("NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE")
METHODS = ("REQUEST", "PUBLISH", "CANCEL")
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})
_WHITESPACE = re.compile(r"\s+")


class Attendee(NamedTuple):
    """Someone invited, and their answer so far (an iCalendar ``PARTSTAT``)."""

    name: str
    email: str
    partstat: str = "NEEDS-ACTION"


@dataclass(frozen=True)
class CalendarEvent:
    """What goes in the calendar: one meeting, already decided, with its calendar identity.

    ``starts_at`` is an aware datetime (stored in UTC); ``timezone`` is the IANA zone the meeting
    is held in; ``organizer`` is ``(name, email)``. ``attendees`` may hold everyone or only the
    recipient of one invitation (the RFC 6047 practice for personal invitations).
    """

    uid: str
    sequence: int
    title: str
    starts_at: datetime
    duration: timedelta
    timezone: str
    organizer: tuple[str, str]
    description: str = ""
    location: str = ""
    attendees: tuple[Attendee, ...] = field(default=())
    url: str | None = None
    # A series: its RRULE (RFC 5545 3.3.10, without the "RRULE:" prefix) and the starts it
    # skips; an occurrence of a series: the start its rule gave it (RECURRENCE-ID), under the
    # series' UID.
    rrule: str = ""
    exdates: tuple[datetime, ...] = field(default=())
    recurrence_id: datetime | None = None

    def __post_init__(self) -> None:
        if not self.uid.strip():
            raise ValueError("an event needs a UID")
        if self.sequence < 0:
            raise ValueError("SEQUENCE cannot be negative")
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("starts_at must be an aware datetime")
        if self.duration <= timedelta(0):
            raise ValueError("an event needs a positive duration")
        if self.rrule and self.recurrence_id is not None:
            raise ValueError("an event is a series or one of its occurrences, not both")
        for moment in (*self.exdates, self.recurrence_id):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("EXDATE and RECURRENCE-ID must be aware datetimes")
        _zone(self.timezone)
        object.__setattr__(self, "attendees", tuple(Attendee(*a) for a in self.attendees))
        for attendee in self.attendees:
            if attendee.partstat not in PARTSTATS:
                raise ValueError(f"unknown PARTSTAT {attendee.partstat!r}")

    @property
    def ends_at(self) -> datetime:
        """The end, in UTC."""
        return self.starts_at.astimezone(UTC) + self.duration


def invitation(
    event: CalendarEvent, method: str = "REQUEST", *, stamp: datetime | None = None
) -> bytes:
    """The ``.ics`` inviting to ``event`` (``REQUEST``), or announcing it (``PUBLISH``)."""
    method = method.upper()
    if method not in ("REQUEST", "PUBLISH"):
        raise ValueError(f"an invitation is a REQUEST or a PUBLISH, not {method!r}")
    return _calendar(event, method, stamp)


def cancellation(event: CalendarEvent, *, stamp: datetime | None = None) -> bytes:
    """The ``.ics`` cancelling ``event`` (``METHOD:CANCEL``); the caller bumps its SEQUENCE."""
    return _calendar(event, "CANCEL", stamp)


def series(
    master: CalendarEvent,
    overrides: tuple[CalendarEvent, ...] = (),
    method: str = "PUBLISH",
    *,
    stamp: datetime | None = None,
) -> bytes:
    """A whole series in one ``.ics``: the master event with its RRULE and EXDATEs, and the
    occurrences that differ from the rule (moved, or with their own topic), each under the
    master's UID with its RECURRENCE-ID."""
    if not master.rrule:
        raise ValueError("a series needs its RRULE")
    for override in overrides:
        if override.uid != master.uid or override.recurrence_id is None:
            raise ValueError("an occurrence of a series shares its UID and has a RECURRENCE-ID")
    return _calendar(master, method.upper(), stamp, overrides)


def content_type(method: str) -> str:
    """The ``Content-Type`` of an iMIP attachment carrying a calendar of that method."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    return f"text/calendar; charset=utf-8; method={method}"


def filename(method: str) -> str:
    """A file name for the attachment: ``invite.ics`` or ``cancel.ics``."""
    return "cancel.ics" if method.upper() == "CANCEL" else "invite.ics"


def _calendar(
    event: CalendarEvent,
    method: str,
    stamp: datetime | None,
    overrides: tuple[CalendarEvent, ...] = (),
) -> bytes:
    if stamp is not None and stamp.utcoffset() is None:
        raise ValueError("stamp must be an aware datetime")
    moment = (stamp or datetime.now(UTC)).astimezone(UTC)
    tz = _zone(event.timezone)
    events = (event, *overrides)
    first = min(e.starts_at for e in events).astimezone(tz)
    last = max(e.ends_at for e in events).astimezone(tz)
    if event.rrule:  # the zone's rules for as long as the series may run
        last = max(last, first + timedelta(days=3 * 366))

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    if tz.key not in _UTC_NAMES:
        calendar.add_component(
            Timezone.from_tzinfo(
                tz,
                tzid=tz.key,
                first_date=date(first.year, 1, 1),
                last_date=date(last.year + 1, 1, 1),
            )
        )
    for one in events:
        calendar.add_component(_event(one, method, moment))
    return calendar.to_ical()


def _event(event: CalendarEvent, method: str, stamp: datetime) -> Event:
    tz = _zone(event.timezone)
    start = event.starts_at.astimezone(tz)
    end = event.ends_at.astimezone(tz)
    cancelled = method == "CANCEL"

    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", stamp)
    if event.recurrence_id is not None:
        vevent.add("recurrence-id", _unambiguous(event.recurrence_id.astimezone(tz)))
    vevent.add("dtstart", _unambiguous(start))
    vevent.add("dtend", _unambiguous(end))
    if event.rrule:
        vevent.add("rrule", vRecur.from_ical(event.rrule.removeprefix("RRULE:")))
    for skipped in event.exdates:
        vevent.add("exdate", _unambiguous(skipped.astimezone(tz)))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    if event.location:
        vevent.add("location", event.location)
    vevent.add("organizer", _address(*event.organizer))
    if method != "PUBLISH":  # RFC 5546 3.2.1: a PUBLISH carries no ATTENDEE
        for attendee in event.attendees:
            vevent.add("attendee", _attendee(attendee, cancelled))
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    if event.url:
        vevent.add("url", event.url)
    return vevent


def _unambiguous(moment: datetime) -> datetime:
    """The local time, or UTC for the second pass of an hour the clocks repeat in the autumn:
    RFC 5545 3.3.5 reads a repeated local time as its first occurrence."""
    return moment.astimezone(UTC) if moment.fold else moment


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def _address(name: str, email: str) -> vCalAddress:
    email = email.strip()
    if not email or _WHITESPACE.search(email):
        raise ValueError(f"not an email address: {email!r}")
    address = vCalAddress(f"mailto:{email}")
    display = _WHITESPACE.sub(" ", name).strip()  # a display name is one line
    if display:
        address.params["CN"] = display
    return address


def _attendee(attendee: Attendee, cancelled: bool) -> vCalAddress:
    address = _address(attendee.name, attendee.email)
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = "REQ-PARTICIPANT"
    if not cancelled:  # nothing left to answer once the meeting is cancelled
        address.params["PARTSTAT"] = attendee.partstat
        address.params["RSVP"] = "TRUE"
    return address
