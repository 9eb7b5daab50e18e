"""The meeting's .ics: what a calendar user sees, read back by icalendar, by our own iMIP reader,
and by a real calendar program (Debian's khal)."""

from __future__ import annotations

import dataclasses
import email
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component, Event

from webapp.models import Intent
from webapp.services.ics import (
    PRODID,
    Attendee,
    CalendarEvent,
    cancellation,
    content_type,
    filename,
    invitation,
    series,
)
from webapp.services.inbound.calendar import calendar_reply

STAMP = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TORONTO = ZoneInfo("America/Toronto")
VANCOUVER = "America/Vancouver"
KHAL = shutil.which("khal")


def meeting(**changes: object) -> CalendarEvent:
    """The founding meeting: Toronto, a summer afternoon, three people invited."""
    values: dict[str, object] = {
        "uid": "meeting-7-0d5c@amorce.test",
        "sequence": 0,
        "title": "Rencontre de fondation : communauté de pratique, « Données ouvertes »",
        "description": (
            "1. Présentations qui bâtissent la confiance\n"
            "2. Le projet; ce qu'est une communauté de pratique, ses bénéfices\n"
            "3. Les engagements minimaux"
        ),
        "starts_at": datetime(2026, 7, 15, 17, 30, tzinfo=UTC),  # 13:30 EDT
        "duration": timedelta(hours=2),
        "timezone": "America/Toronto",
        "location": "Salle 2.14, pavillon Desjardins; 2325, rue de l'Université, Québec",
        "organizer": ("Élise Côté", "elise@amorce.test"),
        "attendees": (
            Attendee("Zoë Lévesque", "zoe@example.org"),
            Attendee("Dupont, Marie", "Marie.Dupont@example.org", "ACCEPTED"),
            Attendee("Sam O'Neil", "sam@example.org", "TENTATIVE"),
        ),
        "url": "https://amorce.test/m/rsvp/abc123",
    }
    values.update(changes)
    return CalendarEvent(**values)


def parse(data: bytes) -> tuple[Calendar, Event]:
    """The calendar and its one event, refusing anything icalendar had to skip over."""
    calendar = Calendar.from_ical(data)
    for component in calendar.walk():
        assert not component.errors, (component.name, component.errors)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def only(component: Component, name: str) -> Any:
    """The one value of a property that must appear once."""
    value = component[name]
    assert not isinstance(value, list), f"{name} appears more than once"
    return value


# -- strict parse ------------------------------------------------------------------------------


def test_an_invitation_carries_everything_a_calendar_needs() -> None:
    calendar, event = parse(invitation(meeting(), stamp=STAMP))

    assert str(calendar["PRODID"]) == PRODID == "-//Amorce//Amorce//FR"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "meeting-7-0d5c@amorce.test"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTAMP") == STAMP
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == meeting().title
    assert str(event["DESCRIPTION"]) == meeting().description
    assert str(event["LOCATION"]) == meeting().location
    assert str(event["URL"]) == "https://amorce.test/m/rsvp/abc123"

    organizer = only(event, "ORGANIZER")
    assert str(organizer) == "mailto:elise@amorce.test"
    assert organizer.params["CN"] == "Élise Côté"

    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == [
        "mailto:zoe@example.org",
        "mailto:Marie.Dupont@example.org",
        "mailto:sam@example.org",
    ]
    assert [a.params["CN"] for a in attendees] == ["Zoë Lévesque", "Dupont, Marie", "Sam O'Neil"]
    assert [a.params["PARTSTAT"] for a in attendees] == ["NEEDS-ACTION", "ACCEPTED", "TENTATIVE"]
    for attendee in attendees:
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["RSVP"] == "TRUE"


def test_the_start_is_written_in_the_meetings_own_zone_with_its_vtimezone() -> None:
    data = invitation(meeting(), stamp=STAMP)
    calendar, event = parse(data)

    assert b"DTSTART;TZID=America/Toronto:20260715T133000\r\n" in data
    assert b"DTEND;TZID=America/Toronto:20260715T153000\r\n" in data
    assert b"DTSTAMP:20260501T120000Z\r\n" in data
    assert event.decoded("DTSTART") == datetime(2026, 7, 15, 17, 30, tzinfo=UTC)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=2)

    (vtimezone,) = calendar.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == "America/Toronto"
    # A calendar that trusts the VTIMEZONE rather than the zone's name gets the same offsets.
    described = vtimezone.to_tz(lookup_tzid=False)
    assert datetime(2026, 7, 15, 13, 30, tzinfo=described).utcoffset() == timedelta(hours=-4)
    assert datetime(2026, 12, 15, 13, 30, tzinfo=described).utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    ("starts_at", "offset"),
    [
        (datetime(2026, 7, 15, 17, 30, tzinfo=UTC), timedelta(hours=-4)),  # EDT
        (datetime(2026, 11, 18, 18, 30, tzinfo=UTC), timedelta(hours=-5)),  # EST
    ],
)
def test_across_daylight_saving_the_wall_time_stays_and_the_offset_changes(
    starts_at: datetime, offset: timedelta
) -> None:
    calendar, event = parse(invitation(meeting(starts_at=starts_at), stamp=STAMP))

    start = event.decoded("DTSTART")
    assert (start.hour, start.minute) == (13, 30)
    assert start.utcoffset() == offset
    assert start == starts_at
    described = calendar.walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    assert start.replace(tzinfo=described).utcoffset() == offset


def test_an_hour_the_clocks_repeat_keeps_its_instant() -> None:
    # 1 November 2026, 01:30 in Toronto happens twice: 05:30 UTC (EDT), then 06:30 UTC (EST).
    first = meeting(starts_at=datetime(2026, 11, 1, 5, 30, tzinfo=UTC), duration=timedelta(hours=2))
    second = meeting(
        starts_at=datetime(2026, 11, 1, 6, 30, tzinfo=UTC), duration=timedelta(hours=2)
    )

    for event in (first, second):
        _, parsed = parse(invitation(event, stamp=STAMP))
        # (timestamps: Python never calls an ambiguous local time equal to another zone's)
        assert parsed.decoded("DTSTART").timestamp() == event.starts_at.timestamp()
        assert parsed.decoded("DTEND").timestamp() == event.ends_at.timestamp()


def test_a_date_in_paris() -> None:
    paris = meeting(
        timezone="Europe/Paris",
        starts_at=datetime(2026, 3, 20, 9, 0, tzinfo=UTC),  # 10:00 CET, before the EU's change
        location="Maison de la Recherche, 28 rue Serpente, Paris",
    )
    data = invitation(paris, stamp=STAMP)
    calendar, event = parse(data)

    assert b"DTSTART;TZID=Europe/Paris:20260320T100000\r\n" in data
    assert event.decoded("DTSTART").utcoffset() == timedelta(hours=1)
    assert str(calendar.walk("VTIMEZONE")[0]["TZID"]) == "Europe/Paris"
    assert str(event["LOCATION"]) == "Maison de la Recherche, 28 rue Serpente, Paris"


def test_a_meeting_held_in_utc_is_written_in_utc_without_a_vtimezone() -> None:
    data = invitation(meeting(timezone="UTC"), stamp=STAMP)
    calendar, event = parse(data)

    assert b"DTSTART:20260715T173000Z\r\n" in data
    assert calendar.walk("VTIMEZONE") == []
    assert event.decoded("DTSTART") == datetime(2026, 7, 15, 17, 30, tzinfo=UTC)


def test_accents_commas_and_semicolons_survive_and_lines_are_folded_at_75_octets() -> None:
    long_title = "Rencontre de fondation; « Communauté », été, ÉÀÇ — " * 4
    data = invitation(meeting(title=long_title), stamp=STAMP)
    _, event = parse(data)

    assert str(event["SUMMARY"]) == long_title
    assert str(event["LOCATION"]) == meeting().location
    assert b"Salle 2.14\\, pavillon Desjardins\\; 2325\\, rue" in data  # escaped in the text
    data.decode("utf-8")  # whole characters, even where a line is folded
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # the long title was folded


def test_a_personal_invitation_names_only_its_recipient() -> None:
    one = meeting(attendees=[("Zoë Lévesque", "zoe@example.org", "NEEDS-ACTION")])
    _, event = parse(invitation(one, stamp=STAMP))

    attendee = only(event, "ATTENDEE")
    assert str(attendee) == "mailto:zoe@example.org"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"


def test_a_publication_names_no_attendee() -> None:
    calendar, event = parse(invitation(meeting(), "PUBLISH", stamp=STAMP))

    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "ATTENDEE" not in event
    assert str(only(event, "ORGANIZER")) == "mailto:elise@amorce.test"


def test_an_update_keeps_the_uid_and_carries_the_new_sequence_and_time() -> None:
    moved = meeting(sequence=1, starts_at=datetime(2026, 7, 16, 18, 0, tzinfo=UTC))
    _, first = parse(invitation(meeting(), stamp=STAMP))
    _, second = parse(invitation(moved, stamp=STAMP))

    assert str(second["UID"]) == str(first["UID"])
    assert second["SEQUENCE"] == 1
    assert second.decoded("DTSTART") == datetime(2026, 7, 16, 14, 0, tzinfo=TORONTO)


def test_a_cancellation_cancels_the_same_event() -> None:
    calendar, event = parse(cancellation(meeting(sequence=3), stamp=STAMP))

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == "meeting-7-0d5c@amorce.test"
    assert event["SEQUENCE"] == 3
    assert str(only(event, "ORGANIZER")) == "mailto:elise@amorce.test"
    attendees = event["ATTENDEE"]
    assert len(attendees) == 3
    assert all("RSVP" not in a.params for a in attendees)  # nothing left to answer


def test_the_attachment_headers_name_the_method() -> None:
    assert content_type("REQUEST") == "text/calendar; charset=utf-8; method=REQUEST"
    assert content_type("cancel") == "text/calendar; charset=utf-8; method=CANCEL"
    assert filename("REQUEST") == "invite.ics"
    assert filename("CANCEL") == "cancel.ics"
    with pytest.raises(ValueError):
        content_type("REPLY")


@pytest.mark.parametrize(
    "changes",
    [
        {"starts_at": datetime(2026, 7, 15, 13, 30)},  # naive
        {"timezone": "Mars/Olympus_Mons"},
        {"duration": timedelta(0)},
        {"uid": " "},
        {"attendees": [("Zoë", "zoe@example.org", "MAYBE")]},
        {"organizer": ("Élise", "elise @amorce.test")},
    ],
)
def test_an_event_that_cannot_be_written_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        invitation(meeting(**changes), stamp=STAMP)


def test_a_display_name_stays_on_one_line() -> None:
    data = invitation(meeting(organizer=("Élise\r\nBcc: x@evil.test", "e@amorce.test")))
    _, event = parse(data)

    assert only(event, "ORGANIZER").params["CN"] == "Élise Bcc: x@evil.test"


# -- our own iMIP reader ---------------------------------------------------------------------


def mail_with(data: bytes, header: str) -> email.message.Message:
    """An email carrying the calendar under that Content-Type, through bytes and back."""
    message = EmailMessage()
    message["Subject"] = "Rencontre de fondation"
    message.set_content("Voir l'invitation.")
    message.add_attachment(data, maintype="text", subtype="calendar", filename="invite.ics")
    for part in message.iter_attachments():
        part.replace_header("Content-Type", header)
    return email.message_from_bytes(message.as_bytes())


def reply_to(data: bytes, address: str, partstat: str) -> bytes:
    """What a calendar sends back when one attendee answers (RFC 5546 REPLY)."""
    calendar = Calendar.from_ical(data)
    calendar["METHOD"] = "REPLY"
    for event in calendar.walk("VEVENT"):
        mine = [a for a in event["ATTENDEE"] if str(a).lower() == f"mailto:{address}"]
        del event["ATTENDEE"]
        for attendee in mine:
            attendee.params["PARTSTAT"] = partstat
            attendee.params.pop("RSVP", None)
            event.add("attendee", attendee)
    return calendar.to_ical()


def test_our_own_reader_does_not_mistake_an_invitation_or_a_cancellation_for_an_answer() -> None:
    request = mail_with(invitation(meeting(), stamp=STAMP), content_type("REQUEST"))
    cancel = mail_with(cancellation(meeting(), stamp=STAMP), content_type("CANCEL"))
    assert calendar_reply(request) is None
    assert calendar_reply(cancel) is None


def test_a_calendars_answer_to_our_invitation_is_read_by_our_own_reader() -> None:
    data = invitation(meeting(sequence=2), stamp=STAMP)
    answer = reply_to(data, "marie.dupont@example.org", "DECLINED")
    _, reply_event = parse(answer)
    assert reply_event["SEQUENCE"] == 2

    found = calendar_reply(mail_with(answer, "text/calendar; charset=utf-8; method=REPLY"))

    assert found is not None
    assert found.uid == "meeting-7-0d5c@amorce.test"
    assert found.attendee == "marie.dupont@example.org"
    assert found.intent == Intent.NOT_ATTENDING


# -- a real calendar program: Debian's khal --------------------------------------------------

KHAL_FORMAT = "{start}|{end}|{title}|{location}|{status}|{uid}"

needs_khal = pytest.mark.skipif(KHAL is None, reason="khal is not installed (.ci/run installs it)")

Khal = Callable[..., list[str]]


@pytest.fixture
def khal(tmp_path: Path) -> Khal:
    """Run khal on a throw-away calendar whose reader lives in Vancouver."""
    vdir = tmp_path / "calendar"
    vdir.mkdir()
    config = tmp_path / "khal.conf"
    config.write_text(
        "[calendars]\n"
        "[[amorce]]\n"
        f"path = {vdir}\n"
        "type = calendar\n"
        "[locale]\n"
        f"local_timezone = {VANCOUVER}\n"
        f"default_timezone = {VANCOUVER}\n"
        "timeformat = %H:%M\n"
        "dateformat = %Y-%m-%d\n"
        "longdateformat = %Y-%m-%d\n"
        "datetimeformat = %Y-%m-%d %H:%M\n"
        "longdatetimeformat = %Y-%m-%d %H:%M\n"
        "[sqlite]\n"
        f"path = {tmp_path / 'khal.db'}\n",
        encoding="utf-8",
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",  # the machine's zone must not matter, only khal's [locale]
    }
    files = iter(range(1000))

    def run(command: str, *args: str | bytes) -> list[str]:
        argv = [str(KHAL), "--config", str(config), command]
        for arg in args:
            if isinstance(arg, bytes):
                path = tmp_path / f"{next(files)}.ics"
                path.write_bytes(arg)
                arg = str(path)
            argv.append(arg)
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
        )
        assert result.returncode == 0, (argv, result.stdout, result.stderr)
        assert "error" not in result.stderr.lower(), result.stderr
        return [line for line in result.stdout.splitlines() if "|" in line]

    return run


def listed(khal: Khal, start: str, end: str) -> list[list[str]]:
    return [line.split("|") for line in khal("list", "--format", KHAL_FORMAT, start, end)]


@needs_khal
@pytest.mark.parametrize(
    ("starts_at", "shown"),
    [
        # 13:30 in Toronto, summer and winter: three hours earlier in Vancouver, both times.
        (datetime(2026, 7, 15, 17, 30, tzinfo=UTC), "2026-07-15 10:30"),
        (datetime(2026, 11, 18, 18, 30, tzinfo=UTC), "2026-11-18 10:30"),
    ],
)
def test_khal_shows_the_invitation_at_the_readers_local_time(
    khal: Khal, starts_at: datetime, shown: str
) -> None:
    data = invitation(meeting(starts_at=starts_at), stamp=STAMP)

    (printed,) = khal("printics", "--format", KHAL_FORMAT, data)
    assert printed.split("|")[:2] == [shown, shown[:11] + "12:30"]

    khal("import", "--batch", data)
    day = shown[:10]
    ((start, end, title, location, status, uid),) = listed(khal, day, day)
    assert (start, end) == (shown, shown[:11] + "12:30")
    assert title == meeting().title
    assert location == meeting().location
    assert status.strip() == "CONFIRMED"
    assert uid == meeting().uid


@needs_khal
def test_khal_shows_a_paris_date_at_the_readers_local_time(khal: Khal) -> None:
    # 10:00 in Paris on 20 March 2026: Paris is still on winter time (UTC+1), Vancouver already on
    # summer time (UTC-7) since 8 March, so 02:00 there.
    paris = meeting(timezone="Europe/Paris", starts_at=datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    khal("import", "--batch", invitation(paris, stamp=STAMP))

    ((start, end, *_),) = listed(khal, "2026-03-20", "2026-03-20")
    assert (start, end) == ("2026-03-20 02:00", "2026-03-20 04:00")


@needs_khal
def test_khal_replaces_the_meeting_with_its_update_then_shows_it_cancelled(khal: Khal) -> None:
    first = meeting()
    moved = dataclasses.replace(
        first,
        sequence=1,
        starts_at=datetime(2026, 11, 19, 19, 0, tzinfo=UTC),  # 14:00 EST, after the clocks change
        location="Salle 3.02, pavillon Desjardins",
    )
    months = ("2026-07-13", "2026-11-30")

    khal("import", "--batch", invitation(first, stamp=STAMP))
    assert [row[0] for row in listed(khal, *months)] == ["2026-07-15 10:30"]

    khal("import", "--batch", invitation(moved, stamp=STAMP))
    rows = listed(khal, *months)
    assert len(rows) == 1, rows  # replaced, not added: the same UID
    ((start, end, _, location, status, uid),) = rows
    assert (start, end) == ("2026-11-19 11:00", "2026-11-19 13:00")
    assert location == "Salle 3.02, pavillon Desjardins"
    assert status.strip() == "CONFIRMED"
    assert uid == first.uid

    khal("import", "--batch", cancellation(dataclasses.replace(moved, sequence=2), stamp=STAMP))
    rows = listed(khal, *months)
    assert len(rows) == 1, rows
    assert rows[0][4].strip() == "CANCELLED"
    (printed,) = khal(
        "printics", "--format", "{cancelled}|{title}", cancellation(moved, stamp=STAMP)
    )
    assert printed == f"CANCELLED |{moved.title}"


@needs_khal
def test_khal_shows_a_series_its_exceptions_and_a_lone_occurrence(khal: Khal) -> None:
    """The series' file (rule, EXDATE, a moved occurrence) and an occurrence's invitation (its
    series' UID and RECURRENCE-ID, without the rule) both import into a real calendar."""
    first = datetime(2030, 3, 5, 23, 30, tzinfo=UTC)  # Tuesdays 18:30 in Toronto
    master = dataclasses.replace(
        meeting(starts_at=first),
        uid="series-1@amorce",
        rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=18;BYMINUTE=30;BYSECOND=0",
        exdates=(datetime(2030, 3, 19, 22, 30, tzinfo=UTC),),  # daylight time by then
        attendees=(),
    )
    moved = dataclasses.replace(
        master,
        rrule="",
        exdates=(),
        sequence=1,
        title="Moved",
        recurrence_id=datetime(2030, 4, 2, 22, 30, tzinfo=UTC),
        starts_at=datetime(2030, 4, 3, 22, 30, tzinfo=UTC),
    )
    khal("import", "--batch", series(master, (moved,), stamp=STAMP))
    shown = [
        (start, title) for start, _end, title, *_rest in listed(khal, "2030-03-01", "2030-04-20")
    ]
    assert shown == [
        ("2030-03-05 15:30", master.title),
        ("2030-04-03 15:30", "Moved"),
        ("2030-04-16 15:30", master.title),
    ]

    lone = dataclasses.replace(meeting(starts_at=first), uid="series-2@amorce", recurrence_id=first)
    khal("import", "--batch", invitation(lone, stamp=STAMP))
    day = [title for _start, _end, title, *_rest in listed(khal, "2030-03-05", "2030-03-05")]
    assert sorted(day) == sorted([master.title, lone.title])
