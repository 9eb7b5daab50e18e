"""Reminders before the meeting, through time (issue 6): each goes out once, at its time, to those
attending or not yet answered; after a move none goes at the old time, and after a cancellation
none goes at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from builders import community_with_people
from sink import Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.models import Delivery, Membership, Person
from webapp.services import campaigns, meetings
from workers.campaigns import drain_with

PEOPLE = """email,first_name,language,timezone
marie@example.org,Marie,fr,America/Toronto
bob@example.org,Bob,en,America/Vancouver
chloe@example.org,Chloé,fr,Europe/Paris
"""
LAUNCH = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
START = datetime(2030, 3, 11, 14, 0, tzinfo=UTC)  # reminders: 4 March 14:00, 10 March 14:00,
# 11 March 12:00


def sent_to(sink: Sink) -> dict[str, int]:
    return {
        email: len(sink.to(email))
        for email in ("marie@example.org", "bob@example.org", "chloe@example.org")
    }


def drain_at(moment: datetime, config: Config, database: Database, campaign_id: int) -> None:
    with time_machine.travel(moment, tick=False):
        while drain_with(config, database, campaign_id):
            pass


def test_each_reminder_once_at_its_time_and_never_at_an_old_time(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    with time_machine.travel(LAUNCH, tick=False):
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
                    duration_minutes=120,
                    timezone="America/Toronto",
                    place="Salle 1234",
                ),
                actor="t",
            )
            campaign_id = campaigns.create_campaign(
                session, community_id, kind="invitation", meeting_id=meeting_id
            )
            campaigns.launch_campaign(session, campaign_id)
            session.commit()
        with database.session() as session:
            steps = session.scalars(
                select(Delivery.step).where(Delivery.campaign_id == campaign_id)
            ).all()
            assert sorted(steps) == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    drain_at(LAUNCH, settings, database, campaign_id)
    assert sent_to(smtp_sink) == {
        "marie@example.org": 1,
        "bob@example.org": 1,
        "chloe@example.org": 1,
    }
    with database.session() as session:
        bob = session.scalars(select(Person.id).where(Person.email == "bob@example.org")).one()
        meetings.answer(session, meeting_id, bob, "declined", source="web")
        session.commit()

    # A minute early: nothing. On time: to Marie and Chloé, not to Bob, who declined.
    drain_at(datetime(2030, 3, 4, 13, 59, tzinfo=UTC), settings, database, campaign_id)
    assert sent_to(smtp_sink)["marie@example.org"] == 1
    drain_at(datetime(2030, 3, 4, 14, 1, tzinfo=UTC), settings, database, campaign_id)
    drain_at(datetime(2030, 3, 4, 18, 0, tzinfo=UTC), settings, database, campaign_id)  # once
    assert sent_to(smtp_sink) == {
        "marie@example.org": 2,
        "bob@example.org": 1,
        "chloe@example.org": 2,
    }
    reminder = smtp_sink.to("marie@example.org")[-1]
    assert (
        "Rappel" in reminder["Subject"]
        and "11 mars 2030" in reminder.get_body(("plain",)).get_content()
    )

    # Moved a day later: the reminder due at the old time does not go; the new one does, with
    # the new time.
    moved_start = START + timedelta(days=1)
    with time_machine.travel(datetime(2030, 3, 5, 9, 0, tzinfo=UTC), tick=False):
        with database.session() as session:
            meeting = session.get_one(meetings.Meeting, meeting_id)
            data = meetings.MeetingData(
                title=meeting.title,
                starts_at=moved_start,
                duration_minutes=120,
                timezone="America/Toronto",
                place=meeting.place,
            )
            assert meetings.change(session, meeting_id, data, actor="t")
            session.commit()
    drain_at(datetime(2030, 3, 10, 14, 1, tzinfo=UTC), settings, database, campaign_id)
    assert sent_to(smtp_sink)["marie@example.org"] == 2
    drain_at(datetime(2030, 3, 11, 14, 1, tzinfo=UTC), settings, database, campaign_id)
    assert sent_to(smtp_sink) == {
        "marie@example.org": 3,
        "bob@example.org": 1,
        "chloe@example.org": 3,
    }
    text = smtp_sink.to("chloe@example.org")[-1].get_body(("plain",)).get_content()
    assert "12 mars 2030" in text and "11 mars 2030" not in text

    # Cancelled: the last reminder never goes.
    with time_machine.travel(datetime(2030, 3, 12, 9, 0, tzinfo=UTC), tick=False):
        with database.session() as session:
            assert meetings.cancel(session, meeting_id, actor="t")
            session.commit()
    drain_at(datetime(2030, 3, 12, 12, 1, tzinfo=UTC), settings, database, campaign_id)
    drain_at(datetime(2030, 3, 13, 0, 0, tzinfo=UTC), settings, database, campaign_id)
    assert sent_to(smtp_sink) == {
        "marie@example.org": 3,
        "bob@example.org": 1,
        "chloe@example.org": 3,
    }
    with database.session() as session:
        states = session.scalars(
            select(Delivery.state).where(Delivery.campaign_id == campaign_id, Delivery.step == 3)
        ).all()
        assert sorted(states) == ["cancelled"] * 3


def test_new_reminder_times_replace_the_waiting_reminders(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    with time_machine.travel(LAUNCH, tick=False), database.session() as session:
        community_id = community_with_people(session, PEOPLE)
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        data = meetings.MeetingData(
            title="Fondation", starts_at=START, duration_minutes=120, timezone="America/Toronto"
        )
        meeting_id = meetings.schedule(session, community_id, data, actor="t")
        campaign_id = campaigns.create_campaign(
            session, community_id, kind="invitation", meeting_id=meeting_id
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
        only_an_hour = meetings.MeetingData(**{**data.__dict__, "reminder_minutes": [60]})
        assert meetings.change(session, meeting_id, only_an_hour, actor="t") is False
        session.commit()
        waiting = session.scalars(
            select(Delivery.due_at).where(Delivery.campaign_id == campaign_id, Delivery.step > 0)
        ).all()
        assert sorted(waiting) == [START - timedelta(hours=1)] * 3
    drain_at(LAUNCH, settings, database, campaign_id)
    drain_at(START - timedelta(days=1), settings, database, campaign_id)  # the old day-before
    assert len(smtp_sink.to("bob@example.org")) == 1
    drain_at(START - timedelta(minutes=59), settings, database, campaign_id)
    assert len(smtp_sink.to("bob@example.org")) == 2
