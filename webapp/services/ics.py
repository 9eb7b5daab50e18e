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

from icalendar import Calendar, Event, Timezone, vCalAddress

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

    def __post_init__(self) -> None:
        if not self.uid.strip():
            raise ValueError("an event needs a UID")
        if self.sequence < 0:
            raise ValueError("SEQUENCE cannot be negative")
        if self.starts_at.tzinfo is None or self.starts_at.utcoffset() is None:
            raise ValueError("starts_at must be an aware datetime")
        if self.duration <= timedelta(0):
            raise ValueError("an event needs a positive duration")
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


def content_type(method: str) -> str:
    """The ``Content-Type`` of an iMIP attachment carrying a calendar of that method."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    return f"text/calendar; charset=utf-8; method={method}"


def filename(method: str) -> str:
    """A file name for the attachment: ``invite.ics`` or ``cancel.ics``."""
    return "cancel.ics" if method.upper() == "CANCEL" else "invite.ics"


def _calendar(event: CalendarEvent, method: str, stamp: datetime | None) -> bytes:
    if stamp is not None and stamp.utcoffset() is None:
        raise ValueError("stamp must be an aware datetime")
    tz = _zone(event.timezone)
    start = event.starts_at.astimezone(tz)
    end = event.ends_at.astimezone(tz)
    cancelled = method == "CANCEL"

    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    vevent.add("dtstart", _unambiguous(start))
    vevent.add("dtend", _unambiguous(end))
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
                first_date=date(start.year, 1, 1),
                last_date=date(end.year + 1, 1, 1),
            )
        )
    calendar.add_component(vevent)
    return calendar.to_ical()


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
