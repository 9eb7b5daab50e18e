"""A series of activities (issue 8): the proposed rhythm's RRULE expands (python-dateutil) to the
occurrences the series shows, at the same wall-clock time across clock changes, without the dates
skipped; one occurrence moves or is cancelled alone; the series' .ics carries the rule, its
exceptions and the occurrences that differ; the clock is idempotent."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from builders import community_with_people
from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_activities_rhythm import simulated

from webapp.db import Database
from webapp.models import AuditLog, Campaign, Community, Delivery, MeetingState, Membership
from webapp.services import activities, activity_clock, activity_series
from webapp.services.errors import DomainError

ZONE = "America/Toronto"
WEEKLY = "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;BYHOUR=12;BYMINUTE=0;BYSECOND=0"
NOW = datetime(2030, 1, 10, 15, 0, tzinfo=UTC)
PEOPLE = """email,first_name,language,timezone
marie@example.org,Marie,fr,America/Toronto
bob@example.org,Bob,en,America/Vancouver
"""


def members(session: Session) -> int:
    community_id = community_with_people(session, PEOPLE, timezone=ZONE)
    for membership in session.scalars(select(Membership)):
        membership.state = "member"
    return community_id


def series_from(session: Session, community_id: int, rhythm: activities.Rhythm) -> int:
    first = activity_series.first_start(rhythm.rrule, rhythm.timezone, date(2030, 1, 14))
    data = activity_series.SeriesData(
        title="Midi-causerie",
        rrule=rhythm.rrule,
        timezone=rhythm.timezone,
        first_start=first,
        activity_types=tuple(rhythm.activity_types),
    )
    return activity_series.create_series(session, community_id, data, actor="t")


def weekly(session: Session, community_id: int, **changes: Any) -> int:
    """A series on Tuesdays at noon from 15 January 2030 ("Midi" unless ``changes`` say)."""
    data = activity_series.SeriesData(
        title="Midi",
        rrule=WEEKLY,
        timezone=ZONE,
        first_start=activity_series.first_start(WEEKLY, ZONE, date(2030, 1, 14)),
    )
    return activity_series.create_series(
        session, community_id, dataclasses.replace(data, **changes), actor="t"
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rhythms_rule_expands_to_the_occurrences_the_series_shows(
    database: Database, seed: int
) -> None:
    rhythm = activities.propose(simulated(24, seed), ZONE)
    assert rhythm is not None
    with time_machine.travel(NOW, tick=False), database.session() as session:
        community_id = members(session)
        series_id = series_from(session, community_id, rhythm)
        shown = activity_series.occurrences(session, series_id)
        series = session.get_one(activity_series.ActivitySeries, series_id)
        first_local = series.starts_at.astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)
        until = (NOW + activity_series.HORIZON).astimezone(ZoneInfo(ZONE)).replace(tzinfo=None)
        expected = [
            local.replace(tzinfo=ZoneInfo(ZONE)).astimezone(UTC)
            for local in rrulestr(rhythm.rrule, dtstart=first_local).between(
                first_local, until, inc=True
            )
        ]
        assert [m.starts_at for m in shown] == expected
        assert len(shown) >= 2
        # The same local time every time, across the change to daylight time in March.
        times = {m.starts_at.astimezone(ZoneInfo(ZONE)).time() for m in shown}
        assert times == {activities.STARTS[rhythm.candidate.part]}
        # The activity types take turns in the order of demand.
        rotation = rhythm.activity_types
        assert [m.activity_type for m in shown] == [
            rotation[i % len(rotation)] for i in range(len(shown))
        ]


def test_skipped_dates_are_not_generated_and_one_occurrence_moves_or_goes_alone(
    database: Database,
) -> None:
    with time_machine.travel(NOW, tick=False), database.session() as session:
        community_id = members(session)
        series_id = weekly(session, community_id, exdates=(date(2030, 1, 22),))
        days = [
            m.starts_at.astimezone(ZoneInfo(ZONE)).date()
            for m in activity_series.occurrences(session, series_id)
        ][:3]
        assert days == [date(2030, 1, 15), date(2030, 1, 29), date(2030, 2, 5)]

        first, second, third = activity_series.occurrences(session, series_id)[:3]
        later = first.starts_at + timedelta(hours=3)
        assert activity_series.move(session, first.id, later, actor="t")
        assert activity_series.skip(session, series_id, date(2030, 2, 5), actor="t") == third.id
        session.commit()
        assert first.starts_at == later and first.recurrence_at != later and first.sequence == 1
        assert second.starts_at.astimezone(ZoneInfo(ZONE)).hour == 12 and second.sequence == 0
        assert third.state == MeetingState.CANCELLED

        # The series' .ics: the rule, the skipped dates and the cancelled one as EXDATEs, the
        # moved occurrence under the series' UID with its RECURRENCE-ID.
        calendar = Calendar.from_ical(
            activity_series.series_ics(session, series_id, organizer_email="cop@example.org")
        )
        events = list(calendar.walk("VEVENT"))
        master = next(e for e in events if "RRULE" in e)
        assert master["RRULE"]["FREQ"] == ["WEEKLY"]
        exdates = master["EXDATE"] if isinstance(master["EXDATE"], list) else [master["EXDATE"]]
        skipped = sorted(d.dt.date() for group in exdates for d in group.dts)
        assert skipped == [date(2030, 1, 22), date(2030, 2, 5)]
        moved = next(e for e in events if "RECURRENCE-ID" in e)
        assert str(moved["UID"]) == str(master["UID"])
        assert moved.decoded("RECURRENCE-ID") == first.recurrence_at
        assert moved.decoded("DTSTART") == later


def test_a_rule_or_a_type_that_cannot_be_followed_is_refused(database: Database) -> None:
    with time_machine.travel(NOW, tick=False), database.session() as session:
        community_id = members(session)
        start = datetime(2030, 1, 15, 12, 0, tzinfo=ZoneInfo(ZONE))
        for rule, types in (
            ("FREQ=SECONDLY", ()),
            ("not a rule", ()),
            ("FREQ=WEEKLY;BYDAY=XX", ()),
            ("FREQ=WEEKLY;BYDAY=TU", ("karaoke",)),
        ):
            data = activity_series.SeriesData(
                title="Midi", rrule=rule, timezone=ZONE, first_start=start, activity_types=types
            )
            with pytest.raises(DomainError):
                activity_series.create_series(session, community_id, data, actor="t")


def test_the_clock_is_idempotent_and_a_refused_invitation_is_not_retried(
    database: Database,
) -> None:
    with time_machine.travel(NOW, tick=False), database.session() as session:
        community_id = members(session)
        series_id = weekly(session, community_id, invite_days=7)
        session.commit()
        first = activity_clock.tick(session)
        second = activity_clock.tick(session)
        session.commit()
        assert first.invited == 1 and first.generated == 0  # 15 January, within the week
        assert second.invited == 0 and second.generated == 0
        assert len(activity_series.occurrences(session, series_id)) == len(
            activity_series.expand(
                session.get_one(activity_series.ActivitySeries, series_id),
                NOW + activity_series.HORIZON,
            )
        )
        # A community that lost its sender identity: the next invitation is refused once,
        # recorded, and not tried again at every turn.
        community = session.get_one(Community, community_id)
        community.postal_address = ""
        session.commit()
    later = NOW + timedelta(days=7)
    with time_machine.travel(later, tick=False), database.session() as session:
        assert activity_clock.tick(session).not_mailed
        assert activity_clock.tick(session).not_mailed == []
        session.commit()
        refusals = session.scalar(
            select(func.count(AuditLog.id)).where(
                AuditLog.action == "activity.invitation_not_mailed"
            )
        )
        assert refusals == 1
        assert session.scalar(select(func.count(Campaign.id))) == 1
        # The identity is fixed: six hours after the refusal, the invitation goes.
        session.get_one(Community, community_id).postal_address = "1 rue"
        session.commit()
    with time_machine.travel(later + timedelta(hours=6, minutes=5), tick=False):
        with database.session() as session:
            assert activity_clock.tick(session).invited == 1
            session.commit()
            assert session.scalar(select(func.count(Campaign.id))) == 2


def test_a_first_start_the_clocks_skip_is_refused() -> None:
    # 8 March 2026, 2:30 in Toronto: the clocks go from 2:00 to 3:00.
    rule = "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30;BYSECOND=0"
    with pytest.raises(DomainError, match="2026-03-08 02:30"):
        activity_series.first_start(rule, ZONE, date(2026, 3, 2))
    assert activity_series.first_start(rule, ZONE, date(2026, 3, 9)).isoformat() == (
        "2026-03-15T02:30:00-04:00"
    )


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_two_turns_of_the_clock_at_once_invite_once(database: Database) -> None:
    with time_machine.travel(NOW, tick=False):
        with database.session() as session:
            community_id = members(session)
            weekly(session, community_id, invite_days=7)
            session.commit()
        found: dict[str, activity_clock.Tick] = {}

        def second_turn() -> None:
            with database.session() as other:
                found["tick"] = activity_clock.tick(other)
                other.commit()

        with database.session() as first:
            assert activity_clock.tick(first).invited == 1
            racing = threading.Thread(target=second_turn)
            racing.start()
            racing.join(timeout=1)
            assert racing.is_alive()  # it waits for the first turn
            first.commit()
        racing.join(timeout=10)
    assert found["tick"].invited == 0
    with database.session() as session:
        assert session.scalar(select(func.count(Campaign.id))) == 1


def test_a_series_confirmed_in_the_afternoon_does_not_start_that_morning() -> None:
    rule = "FREQ=WEEKLY;BYDAY=TU;BYHOUR=12;BYMINUTE=0;BYSECOND=0"
    tuesday_afternoon = datetime(2030, 1, 15, 20, 0, tzinfo=UTC)  # 15:00 in Toronto
    first = activity_series.first_start(rule, ZONE, date(2030, 1, 15), not_before=tuesday_afternoon)
    assert first.isoformat() == "2030-01-22T12:00:00-05:00"
    morning = datetime(2030, 1, 15, 14, 0, tzinfo=UTC)  # 9:00 in Toronto
    assert activity_series.first_start(rule, ZONE, date(2030, 1, 15), not_before=morning).day == 15


def test_only_activities_to_come_move_and_a_skipped_day_spares_one_moved_away(
    database: Database,
) -> None:
    with time_machine.travel(NOW, tick=False), database.session() as session:
        community_id = members(session)
        series_id = weekly(session, community_id)
        first, second, third = activity_series.occurrences(session, series_id)[:3]
        # The second (22 January) moves to Thursday the 24th; skipping the 22nd spares it,
        # skipping the 29th cancels the third.
        activity_series.move(session, second.id, second.starts_at + timedelta(days=2), actor="t")
        assert activity_series.skip(session, series_id, date(2030, 1, 22), actor="t") is None
        assert second.state == MeetingState.SCHEDULED
        assert activity_series.skip(session, series_id, date(2030, 1, 29), actor="t") == third.id
        with pytest.raises(DomainError):
            activity_series.skip(session, series_id, date(2030, 1, 10), actor="t")
        with pytest.raises(DomainError):
            activity_series.move(session, first.id, NOW - timedelta(hours=1), actor="t")
        session.commit()
        first_id = first.id
    with time_machine.travel(NOW + timedelta(days=6), tick=False), database.session() as session:
        # The first took place on the 15th: it can no longer be moved or cancelled.
        with pytest.raises(DomainError):
            activity_series.cancel(session, first_id, actor="t")
        with pytest.raises(DomainError):
            activity_series.move(session, first_id, NOW + timedelta(days=8), actor="t")
        # Ended: calendars read that the rule stops at the last occurrence generated.
        activity_series.end_series(session, series_id, actor="t")
        session.commit()
        last = activity_series.occurrences(session, series_id)[-1].recurrence_at
        calendar = Calendar.from_ical(
            activity_series.series_ics(session, series_id, organizer_email="cop@example.org")
        )
        master = next(e for e in calendar.walk("VEVENT") if "RRULE" in e)
        assert master["RRULE"]["UNTIL"] == [last]
        assert int(master["SEQUENCE"]) >= 1


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_move_during_a_turn_of_the_clock_waits_and_moves_its_reminders(
    database: Database,
) -> None:
    with time_machine.travel(NOW, tick=False):
        with database.session() as session:
            community_id = members(session)
            series_id = weekly(session, community_id, invite_days=7, reminder_minutes=(1440,))
            first = activity_series.occurrences(session, series_id)[0]
            first_id, later = first.id, first.starts_at + timedelta(days=2)
            session.commit()

        def coordinator_moves() -> None:
            with database.session() as other:
                activity_series.move(other, first_id, later, actor="t")
                other.commit()

        with database.session() as clock:
            assert activity_clock.tick(clock).invited == 1
            moving = threading.Thread(target=coordinator_moves)
            moving.start()
            moving.join(timeout=1)
            assert moving.is_alive()  # it waits for the clock's turn
            clock.commit()
        moving.join(timeout=10)
    with database.session() as session:
        reminders = session.scalars(
            select(Delivery.due_at).where(Delivery.step == 1, Delivery.state == "pending")
        ).all()
        assert reminders and set(reminders) == {later - timedelta(days=1)}


def test_a_turn_of_one_series_leaves_the_others_alone(database: Database) -> None:
    with time_machine.travel(NOW, tick=False), database.session() as session:
        community_id = members(session)
        ids = [
            weekly(session, community_id, title=title, invite_days=7) for title in ("Midi", "Soir")
        ]
        session.commit()
        assert activity_clock.series_to_tick(session) == ids
        assert activity_clock.tick(session, series_id=ids[1]).invited == 1
        session.commit()
        invited = session.scalars(select(Campaign.meeting_id)).all()
        assert [activity_series.occurrences(session, ids[1])[0].id] == invited
        assert activity_clock.tick(session).invited == 1  # the other one's turn
