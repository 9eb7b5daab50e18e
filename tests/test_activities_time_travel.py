"""A series of activities through time (issue 8): each occurrence's invitation, reminder and
follow-up (feedback to those who came, next topics to the others) go out once, at their time; a
moved occurrence is reminded at its new time only, and a cancelled one is never announced."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import time_machine
from builders import community_with_people
from icalendar import Calendar
from inbound_mail import REPLY_DOMAIN
from sink import Sink
from sqlalchemy import select
from test_meetings import deliver, imip_reply

from webapp.config import Config
from webapp.db import Database
from webapp.models import Campaign, Delivery, DeliveryState, Membership, Person, Rsvp
from webapp.services import activity_clock, activity_series, meetings
from workers.campaigns import drain_with

PEOPLE = """email,first_name,language,timezone
marie@example.org,Marie,fr,America/Toronto
bob@example.org,Bob,en,America/Vancouver
chloe@example.org,Chloé,fr,Europe/Paris
"""
EMAILS = ("marie@example.org", "bob@example.org", "chloe@example.org")
RULE = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=18;BYMINUTE=30;BYSECOND=0"
CREATED = datetime(2030, 2, 20, 12, 0, tzinfo=UTC)
# Tuesdays at 18:30 in Toronto: 5 March is still on standard time (23:30 UTC), 19 March on
# daylight time (22:30 UTC).
FIRST = datetime(2030, 3, 5, 23, 30, tzinfo=UTC)
SECOND = datetime(2030, 3, 19, 22, 30, tzinfo=UTC)
THIRD = datetime(2030, 4, 2, 22, 30, tzinfo=UTC)
FOURTH = datetime(2030, 4, 16, 22, 30, tzinfo=UTC)


def at(moment: datetime, config: Config, database: Database) -> None:
    """The beat's turn at ``moment``, then every campaign drained as a worker would."""
    with time_machine.travel(moment, tick=False):
        with database.session() as session:
            activity_clock.tick(session)
            session.commit()
        with database.session() as session:
            ids = session.scalars(select(Campaign.id).order_by(Campaign.id)).all()
        for campaign_id in ids:
            while drain_with(config, database, campaign_id):
                pass


def inbox(sink: Sink) -> dict[str, list[str]]:
    return {email: [m["Subject"] for m in sink.to(email)] for email in EMAILS}


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def calendar_of(message: EmailMessage) -> Calendar:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    raise AssertionError("no calendar in the invitation")


def test_invitations_reminders_and_follow_ups_go_per_occurrence(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url, reply_domain=REPLY_DOMAIN)
    with time_machine.travel(CREATED, tick=False), database.session() as session:
        community_id = community_with_people(session, PEOPLE, timezone="America/Toronto")
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        people = {p.email: p.id for p in session.scalars(select(Person))}
        series_id = activity_series.create_series(
            session,
            community_id,
            activity_series.SeriesData(
                title="Midi-causerie",
                rrule=RULE,
                timezone="America/Toronto",
                first_start=activity_series.first_start(RULE, "America/Toronto", date(2030, 3, 1)),
                duration_minutes=90,
                activity_types=("reading_club", "case_study"),
                invite_days=7,
                reminder_minutes=(1440,),
            ),
            actor="t",
        )
        found = activity_series.occurrences(session, series_id)
        assert [m.starts_at for m in found[:4]] == [FIRST, SECOND, THIRD, FOURTH]
        assert [m.activity_type for m in found[:3]] == ["reading_club", "case_study"] * 1 + [
            "reading_club"
        ]
        first, second, third = (m.id for m in found[:3])
        activity_series.set_occurrence(
            session,
            first,
            topic="Wenger 1998",
            facilitator_id=people["marie@example.org"],
            activity_type="reading_club",
            actor="t",
        )
        session.commit()

    # Nothing before the first invitation is due, a week ahead.
    at(FIRST - timedelta(days=7, minutes=1), settings, database)
    assert smtp_sink.messages == []
    at(FIRST - timedelta(days=7) + timedelta(minutes=1), settings, database)
    assert {e: len(s) for e, s in inbox(smtp_sink).items()} == dict.fromkeys(EMAILS, 1)
    invitation = smtp_sink.to("chloe@example.org")[0]
    assert "Wenger 1998" in invitation["Subject"]
    assert "mercredi 6 mars 2030 à 00:30 (Europe/Paris)" in text(invitation)
    event = next(iter(calendar_of(invitation).walk("VEVENT")))
    with database.session() as session:
        series_uid = session.get_one(activity_series.ActivitySeries, series_id).uid
    assert str(event["UID"]) == series_uid
    assert event.decoded("RECURRENCE-ID") == FIRST

    # Bob declines from his calendar (the reply names the series' UID and this occurrence's
    # RECURRENCE-ID); the reminder a day ahead goes to Marie and Chloé only, once.
    bob = smtp_sink.to("bob@example.org")[0]
    bob_event = next(iter(calendar_of(bob).walk("VEVENT")))
    with time_machine.travel(FIRST - timedelta(days=5), tick=False):
        deliver(database, settings, imip_reply(bob, str(bob_event["UID"]), "DECLINED"))
    with database.session() as session:
        meetings.answer(session, first, people["marie@example.org"], "accepted")
        session.commit()
        declined = session.scalars(
            select(Rsvp).where(
                Rsvp.meeting_id == first, Rsvp.person_id == people["bob@example.org"]
            )
        ).one()
        assert (declined.status, declined.source) == ("declined", "calendar")
    at(FIRST - timedelta(days=1, minutes=1), settings, database)
    at(FIRST - timedelta(days=1) + timedelta(minutes=1), settings, database)
    at(FIRST - timedelta(hours=12), settings, database)
    assert {e: len(s) for e, s in inbox(smtp_sink).items()} == {
        "marie@example.org": 2,
        "bob@example.org": 1,
        "chloe@example.org": 2,
    }
    assert "Rappel" in smtp_sink.to("marie@example.org")[-1]["Subject"]

    # Marie and Chloé came. An hour after the end: feedback to them, the summary prompt to
    # Marie who facilitated, the call for next topics to Bob; once.
    with database.session() as session:
        for email in ("marie@example.org", "chloe@example.org"):
            meetings.check_in(session, first, people[email], True)
        session.commit()
    end = FIRST + timedelta(minutes=90)
    at(end + timedelta(minutes=59), settings, database)
    assert len(smtp_sink.to("bob@example.org")) == 1
    at(end + timedelta(minutes=61), settings, database)
    at(end + timedelta(hours=3), settings, database)
    subjects = inbox(smtp_sink)
    assert len(subjects["chloe@example.org"]) == 3
    assert "Comment s’est passée" in subjects["chloe@example.org"][-1]
    assert sorted(subjects["marie@example.org"][2:]) == sorted(
        [
            "Comment s’est passée l’activité de « CoP » ?",
            "Votre synthèse de l’activité de « CoP »",
        ]
    )
    assert subjects["bob@example.org"][-1] == ("What should the next activities of “CoP” be about?")

    # The second occurrence's invitation goes a week before it; then it moves a day later:
    # everyone hears of the change, and the reminder goes at the new time only.
    at(SECOND - timedelta(days=7) + timedelta(minutes=1), settings, database)
    assert {e: len(s) for e, s in inbox(smtp_sink).items()} == {
        "marie@example.org": 5,
        "bob@example.org": 3,
        "chloe@example.org": 4,
    }
    moved = SECOND + timedelta(days=1)
    with time_machine.travel(SECOND - timedelta(days=3), tick=False):
        with database.session() as session:
            assert activity_series.move(session, second, moved, actor="t")
            # Its topic is set after its invitation went: the reminder tells it, as typed
            # (a member's words are never read as a link or a placeholder).
            activity_series.set_occurrence(
                session,
                second,
                topic="[Réservez ici](https://evil.example) {# {{ x }}",
                facilitator_id=people["chloe@example.org"],
                activity_type="case_study",
                actor="t",
            )
            # The third one is cancelled before its invitation: nobody ever hears of it.
            assert activity_series.cancel(session, third, actor="t")
            session.commit()
    at(SECOND - timedelta(days=3) + timedelta(minutes=1), settings, database)
    changed = smtp_sink.to("bob@example.org")[-1]
    assert changed["Subject"].startswith("Changed:")
    assert "Wednesday, March 20, 2030" in text(changed)
    counts = {e: len(s) for e, s in inbox(smtp_sink).items()}
    at(SECOND - timedelta(days=1) + timedelta(minutes=1), settings, database)
    assert {e: len(s) for e, s in inbox(smtp_sink).items()} == counts
    at(moved - timedelta(days=1) + timedelta(minutes=1), settings, database)
    after = {e: len(s) for e, s in inbox(smtp_sink).items()}
    assert after == {e: n + 1 for e, n in counts.items()}
    reminder = smtp_sink.to("chloe@example.org")[-1]
    assert "Rappel" in reminder["Subject"] and "mercredi 20 mars 2030 à 23:30" in text(reminder)
    assert "Sujet : [Réservez ici](https://evil.example) {# {{ x }}" in text(reminder)
    assert "Animation : Chloé" in text(reminder)
    html = reminder.get_body(("html",))
    assert html is not None and "https://evil.example" in html.get_content()
    assert 'href="https://evil.example"' not in html.get_content()

    # Nobody said they came to the second: an hour after its new end, Chloé, who facilitated,
    # is asked for the summary and the others for the next topics. Then the third date passes
    # in silence; the fourth is announced a week ahead as usual.
    at(moved + timedelta(minutes=150) + timedelta(minutes=1), settings, database)
    after = {e: len(s) for e, s in inbox(smtp_sink).items()}
    assert after == {e: n + 2 for e, n in counts.items()}
    assert "prochaines activités" in smtp_sink.to("marie@example.org")[-1]["Subject"]
    assert "synthèse" in smtp_sink.to("chloe@example.org")[-1]["Subject"]  # she facilitated
    at(THIRD - timedelta(days=7) + timedelta(minutes=1), settings, database)
    at(THIRD + timedelta(hours=4), settings, database)
    assert {e: len(s) for e, s in inbox(smtp_sink).items()} == after
    at(FOURTH - timedelta(days=7) + timedelta(minutes=1), settings, database)
    last = smtp_sink.to("marie@example.org")[-1]
    assert "16 avril 2030" in text(last)
    with database.session() as session:
        third_rows = session.scalars(
            select(Delivery.state)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(Campaign.meeting_id == third)
        ).all()
        assert third_rows == []
        unsent = session.scalars(
            select(Delivery.id).where(Delivery.state == DeliveryState.PENDING)
        ).all()
        assert unsent  # the fourth's reminders wait for their time
