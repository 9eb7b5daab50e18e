"""The founding meeting (issue 6): scheduled, moved and cancelled with its calendar identity, the
invitation sent through the campaign engine with its .ics, and RSVPs from the web, an email reply
and the calendar's own accept or decline, within the room's capacity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import time_machine
from builders import community_with_people
from icalendar import Calendar
from inbound_mail import REPLY_DOMAIN, reply_to
from sink import Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.models import InboundMessage, Membership, Person, Rsvp
from webapp.services import (
    campaigns,
    communities,
    meetings,
    poll_answers,
    poll_slots,
    polls,
    suppressions,
)
from webapp.services.errors import DomainError
from webapp.services.inbound import pipeline
from workers.campaigns import drain_with
from workers.inbound import process_with

PEOPLE = """email,first_name,language,timezone
marie@example.org,Marie,fr,America/Toronto
bob@example.org,Bob,en,America/Vancouver
chloe@example.org,Chloé,fr,Europe/Paris
"""
START = datetime(2027, 3, 4, 14, 0, tzinfo=UTC)  # 9:00 in Toronto, 6:00 in Vancouver


@pytest.fixture
def settings_(config: Config, smtp_sink: Sink) -> Config:
    return config.with_overrides(smtp_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)


def founding_group(database: Database, *, capacity: int | None = None) -> tuple[int, int]:
    """A community whose three people are members, and a meeting for them."""
    with database.session() as session:
        community_id = community_with_people(session, PEOPLE)
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        meeting_id = meetings.schedule(
            session,
            community_id,
            meetings.MeetingData(
                title="Rencontre de fondation",
                starts_at=START,
                duration_minutes=150,
                timezone="America/Toronto",
                place="Salle 1234, pavillon Desjardins",
                capacity=capacity,
            ),
            actor="test",
        )
        session.commit()
    return community_id, meeting_id


def person_id(database: Database, email: str) -> int:
    with database.session() as session:
        return session.scalars(select(Person.id).where(Person.email == email)).one()


def invite(database: Database, config: Config, community_id: int, meeting_id: int) -> int:
    with database.session() as session:
        campaign_id = campaigns.create_campaign(
            session, community_id, kind="invitation", meeting_id=meeting_id
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(config, database, campaign_id):
        pass
    return campaign_id


def calendar_of(message: EmailMessage) -> tuple[str, Calendar]:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    method = str(parts[0].get_param("method"))
    return method, Calendar.from_ical(parts[0].get_content())


def test_the_invitation_carries_the_event_in_each_persons_time_zone(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, meeting_id = founding_group(database)
    invite(database, settings_, community_id, meeting_id)
    bob = smtp_sink.to("bob@example.org")[0]
    text = bob.get_body(("plain",)).get_content()
    assert "6:00" in text and "America/Vancouver" in text  # his own zone, written out
    assert "Salle 1234" in text and "The minimum commitments" in text  # the place, the agenda
    marie = smtp_sink.to("marie@example.org")[0].get_body(("plain",)).get_content()
    assert "09:00" in marie and "America/Toronto" in marie and "Les engagements minimaux" in marie
    method, calendar = calendar_of(bob)
    assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    with database.session() as session:
        meeting = session.get_one(meetings.Meeting, meeting_id)
        assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == START
    assert [part.get_filename() for part in bob.iter_attachments()] == ["invite.ics"]


def test_rsvps_from_an_email_reply_and_from_the_calendar(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, meeting_id = founding_group(database)
    invite(database, settings_, community_id, meeting_id)
    marie = smtp_sink.to("marie@example.org")[0]
    yes = deliver(database, settings_, reply_to(marie, "Oui, je serai là !"))
    assert (yes.intent, yes.action) == ("attending", "rsvp_accepted")
    bob = smtp_sink.to("bob@example.org")[0]
    _, calendar = calendar_of(bob)
    (event,) = calendar.walk("VEVENT")
    deliver(database, settings_, imip_reply(bob, str(event["UID"]), "DECLINED"))
    statuses = rsvps(database, meeting_id)
    assert statuses == {
        "marie@example.org": ("accepted", "email"),
        "bob@example.org": ("declined", "calendar"),
    }


def test_a_full_room_keeps_a_waiting_list_and_a_declined_seat_goes_to_the_first_in_line(
    database: Database,
) -> None:
    _, meeting_id = founding_group(database, capacity=2)
    ids = {
        email: person_id(database, email)
        for email in ("marie@example.org", "bob@example.org", "chloe@example.org")
    }
    with database.session() as session:
        assert (
            meetings.answer(session, meeting_id, ids["marie@example.org"], "accepted").status
            == "accepted"
        )
        assert (
            meetings.answer(session, meeting_id, ids["bob@example.org"], "accepted").status
            == "accepted"
        )
        third = meetings.answer(session, meeting_id, ids["chloe@example.org"], "accepted")
        assert third.status == "waitlisted"
        freed = meetings.answer(session, meeting_id, ids["bob@example.org"], "declined")
        assert freed.promoted == ids["chloe@example.org"]
        session.commit()
    assert rsvps(database, meeting_id)["chloe@example.org"][0] == "accepted"


def test_moving_and_cancelling_change_the_sequence_and_the_email(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, meeting_id = founding_group(database)
    invite(database, settings_, community_id, meeting_id)
    first = smtp_sink.to("chloe@example.org")[-1]
    assert first["Subject"].startswith("Invitation")  # a first invitation is not a change
    with database.session() as session:
        meeting = session.get_one(meetings.Meeting, meeting_id)
        data = meetings.MeetingData(
            title=meeting.title,
            starts_at=START + timedelta(days=1),
            duration_minutes=150,
            timezone="America/Toronto",
            place=meeting.place,
        )
        assert meetings.change(session, meeting_id, data, actor="test") is True
        renamed = meetings.MeetingData(**{**data.__dict__, "title": "Fondation"})
        assert meetings.change(session, meeting_id, renamed, actor="test") is False
        session.commit()
    invite(database, settings_, community_id, meeting_id)
    update = smtp_sink.to("chloe@example.org")[-1]
    assert update["Subject"] == "Modifiée : Fondation"
    _, calendar = calendar_of(update)
    (event,) = calendar.walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1 and event.decoded("DTSTART") == START + timedelta(days=1)
    with database.session() as session:
        assert meetings.cancel(session, meeting_id, actor="test") is True
        assert meetings.cancel(session, meeting_id, actor="test") is False
        session.commit()
    invite(database, settings_, community_id, meeting_id)
    cancel = smtp_sink.to("chloe@example.org")[-1]
    method, calendar = calendar_of(cancel)
    (event,) = calendar.walk("VEVENT")
    assert method == "CANCEL" and int(event["SEQUENCE"]) == 2
    assert "annulée" in cancel.get_body(("plain",)).get_content()
    with database.session() as session, pytest.raises(DomainError):
        meetings.answer(session, meeting_id, person_id(database, "bob@example.org"), "accepted")


def test_only_the_founding_group_is_invited(database: Database) -> None:
    _, meeting_id = founding_group(database)
    with database.session() as session:
        chloe = session.scalars(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "chloe@example.org")
        ).one()
        chloe.state = "applicant"
        session.commit()
        assert [i.email for i in meetings.invitees(session, meeting_id)] == [
            "bob@example.org",
            "marie@example.org",
        ]
        with pytest.raises(DomainError):
            meetings.answer(session, meeting_id, chloe.person_id, "accepted")


def deliver(database: Database, config: Config, raw: bytes) -> InboundMessage:
    with database.session() as session:
        inbound_id = pipeline.receive(session, raw, channel="smtp")
    assert inbound_id is not None
    process_with(config, database, inbound_id)
    with database.session() as session:
        row = session.get_one(InboundMessage, inbound_id)
        session.expunge(row)
        return row


def imip_reply(
    original: EmailMessage, uid: str, partstat: str, *, attendee: str | None = None
) -> bytes:
    """What a calendar sends back when its user (by default, the recipient) presses Accept or
    Decline."""
    reply = EmailMessage()
    reply["From"] = str(original["To"])
    reply["To"] = str(original["Reply-To"])
    reply["Subject"] = f"Declined: {original['Subject']}"
    attendee = attendee or str(original["To"]).split("<")[-1].rstrip(">")
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Calendar//EN\r\nMETHOD:REPLY\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20270101T000000Z\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    reply.set_content("Bob has declined.")
    reply.add_alternative(
        body.encode(), maintype="text", subtype="calendar", params={"method": "REPLY"}
    )
    return reply.as_bytes()


def rsvps(database: Database, meeting_id: int) -> dict[str, tuple[str, str]]:
    with database.session() as session:
        rows = session.execute(
            select(Person.email, Rsvp.status, Rsvp.source)
            .join(Rsvp, Rsvp.person_id == Person.id)
            .where(Rsvp.meeting_id == meeting_id)
        )
        return {email: (status, source) for email, status, source in rows}


def test_the_command_line_prints_the_current_ics_and_the_poll(
    database: Database, tmp_path: Path
) -> None:
    community_id, meeting_id = founding_group(database)
    marie = person_id(database, "marie@example.org")
    with database.session() as session:
        meetings.answer(session, meeting_id, marie, "accepted")
        poll_id = polls.create_poll(
            session, community_id, title="Fondation", timezone="America/Toronto", actor="t"
        )
        slot = poll_slots.add_slot(
            session, poll_id, start_local=datetime(2030, 2, 5, 9, 0), duration_minutes=60, actor="t"
        )
        poll_answers.answer(session, poll_id, marie, {slot: "yes"})
        session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMORCE_")}
    env.update(AMORCE_DATABASE_URL=database.url, AMORCE_INSTANCE_PATH=str(tmp_path))

    def amorce(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "webapp.cli", "meetings", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    calendar = Calendar.from_ical(amorce("ics", str(meeting_id)))
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    partstats = {
        str(a).removeprefix("mailto:"): str(a.params["PARTSTAT"]) for a in event["ATTENDEE"]
    }
    assert partstats["marie@example.org"] == "ACCEPTED"
    assert partstats["bob@example.org"] == "NEEDS-ACTION"
    (row,) = json.loads(amorce("poll", str(poll_id), "--format", "json"))
    assert row["start"] == "2030-02-05T09:00:00-05:00"
    assert (row["yes"], row["if_need_be"], row["no"], row["recommended"]) == (1, 0, 0, True)


def test_the_member_who_gets_a_freed_seat_is_told_by_email(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, meeting_id = founding_group(database, capacity=1)
    invite(database, settings_, community_id, meeting_id)
    marie, bob = person_id(database, "marie@example.org"), person_id(database, "bob@example.org")
    with database.session() as session:
        meetings.answer(session, meeting_id, marie, "accepted")
        assert meetings.answer(session, meeting_id, bob, "accepted").status == "waitlisted"
        assert meetings.answer(session, meeting_id, marie, "declined").promoted == bob
        session.commit()
        (notice,) = session.scalars(
            select(campaigns.Campaign.id)
            .where(campaigns.Campaign.audience_filter.is_not(None))
            .where(campaigns.Campaign.name == "Place libérée")
        ).all()
    while drain_with(settings_, database, notice):
        pass
    told = smtp_sink.to("bob@example.org")
    assert len(told) == 2 and told[-1]["Subject"].startswith("A seat freed up")
    assert len(smtp_sink.to("chloe@example.org")) == 1  # nobody else hears of it


def test_a_decline_stands_even_when_the_freed_seat_cannot_be_mailed(database: Database) -> None:
    community_id, meeting_id = founding_group(database, capacity=1)
    marie, bob = person_id(database, "marie@example.org"), person_id(database, "bob@example.org")
    with database.session() as session:
        meetings.answer(session, meeting_id, marie, "accepted")
        meetings.answer(session, meeting_id, bob, "accepted")
        session.commit()
    with database.session() as session:
        suppressions.suppress(
            session, "bob@example.org", community_id=community_id, reason="t", actor="t"
        )
        session.commit()
    with database.session() as session:
        assert meetings.answer(session, meeting_id, marie, "declined").promoted == bob
        session.commit()
    assert rsvps(database, meeting_id) == {
        "marie@example.org": ("declined", "web"),
        "bob@example.org": ("accepted", "web"),
    }


def test_no_answer_once_the_meeting_is_over_and_a_cancellation_stops_unsent_invitations(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, meeting_id = founding_group(database)
    with database.session() as session:
        campaign_id = campaigns.create_campaign(
            session, community_id, kind="invitation", meeting_id=meeting_id
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
        assert meetings.cancel(session, meeting_id, actor="t")
        session.commit()
    while drain_with(settings_, database, campaign_id):
        pass
    assert smtp_sink.to("marie@example.org") == []  # the invitation of a cancelled meeting
    _, other = founding_group_in(database, "cop-2")
    with time_machine.travel(START + timedelta(hours=3)), database.session() as session:
        with pytest.raises(DomainError, match="over"):
            meetings.answer(session, other, person_id(database, "marie@example.org"), "accepted")


def test_a_calendar_answer_from_someone_else_waits_for_a_coordinator(
    database: Database, settings_: Config, smtp_sink: Sink
) -> None:
    community_id, meeting_id = founding_group(database)
    invite(database, settings_, community_id, meeting_id)
    bob = smtp_sink.to("bob@example.org")[0]
    _, calendar = calendar_of(bob)
    (event,) = calendar.walk("VEVENT")
    forwarded = imip_reply(bob, str(event["UID"]), "ACCEPTED", attendee="colleague@example.org")
    row = deliver(database, settings_, forwarded)
    assert row.needs_review and row.action is None
    assert rsvps(database, meeting_id) == {}


def founding_group_in(database: Database, slug: str) -> tuple[int, int]:
    """A second community (another slug) with the same people as members, and a meeting."""
    with database.session() as session:
        community_id = communities.create_community(
            session, communities.CommunityData(name="Autre", slug=slug, language="fr")
        )
        for person in session.scalars(select(Person)):
            session.add(Membership(community_id=community_id, person_id=person.id, state="member"))
        meeting_id = meetings.schedule(
            session,
            community_id,
            meetings.MeetingData(
                title="Rencontre",
                starts_at=START,
                duration_minutes=120,
                timezone="America/Toronto",
            ),
            actor="t",
        )
        session.commit()
    return community_id, meeting_id


def test_a_bigger_room_lets_the_waiting_list_in(database: Database) -> None:
    _, meeting_id = founding_group(database, capacity=1)
    marie, bob = person_id(database, "marie@example.org"), person_id(database, "bob@example.org")
    with database.session() as session:
        meetings.answer(session, meeting_id, marie, "accepted")
        assert meetings.answer(session, meeting_id, bob, "accepted").status == "waitlisted"
        meeting = session.get_one(meetings.Meeting, meeting_id)
        bigger = meetings.MeetingData(
            title=meeting.title,
            starts_at=meeting.starts_at,
            duration_minutes=meeting.duration_minutes,
            timezone=meeting.timezone,
            place=meeting.place,
            capacity=2,
        )
        assert meetings.change(session, meeting_id, bigger, actor="t") is False
        session.commit()
    assert rsvps(database, meeting_id)["bob@example.org"][0] == "accepted"
