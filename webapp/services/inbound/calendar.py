"""Calendar replies (iMIP, RFC 6047): the Accept / Decline / Tentative a calendar sends back."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from icalendar import Calendar

from webapp.models import Intent

_PARTSTAT = {
    "ACCEPTED": Intent.ATTENDING,
    "DECLINED": Intent.NOT_ATTENDING,
    "TENTATIVE": Intent.MAYBE,
}
_CALENDAR_TYPES = ("text/calendar", "application/ics")


@dataclass(frozen=True)
class CalendarReply:
    """One attendee's answer to an invitation."""

    intent: str
    attendee: str
    uid: str
    comment: str = ""


def calendar_reply(message: Message) -> CalendarReply | None:
    """The ``METHOD:REPLY`` a message carries, or None."""
    for part in message.walk():
        if part.get_content_type() not in _CALENDAR_TYPES:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        try:
            calendar = Calendar.from_ical(
                payload.decode(part.get_content_charset() or "utf-8", "replace")
            )
        except ValueError:
            continue
        if str(calendar.get("METHOD", "")).upper() != "REPLY":
            continue
        for event in calendar.walk("VEVENT"):
            attendees = event.get("ATTENDEE")
            for attendee in attendees if isinstance(attendees, list) else [attendees]:
                if attendee is None:
                    continue
                status = str(attendee.params.get("PARTSTAT", "")).upper()
                if status in _PARTSTAT:
                    address = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:")
                    return CalendarReply(
                        intent=_PARTSTAT[status],
                        attendee=address.lower(),
                        uid=str(event.get("UID", "")),
                        comment=str(event.get("COMMENT", "")),
                    )
    return None
