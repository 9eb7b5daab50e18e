"""Reminders to those who have not answered: the policy, then the outbox under a moving clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from builders import community_with_people
from sink import Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import Delivery, Person
from webapp.services import campaigns, people
from webapp.services.deliveries import sweep
from webapp.services.reminders import ReminderPolicy, next_reminder_at
from workers.campaigns import drain_with

MONTREAL = ZoneInfo("America/Montreal")
PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # 10:00 in Montréal, 16:00 in Paris


def at(days: float, hours: float = 0) -> datetime:
    return MONDAY + timedelta(days=days, hours=hours)


# -- the policy -----------------------------------------------------------------------------


def test_reminders_follow_the_gap_and_stop_at_the_count() -> None:
    policy = ReminderPolicy(count=2, gap=timedelta(days=3))
    first = next_reminder_at(policy, step_sent=0, sent_at=MONDAY, tz=MONTREAL)
    assert first == at(3)
    assert next_reminder_at(policy, step_sent=1, sent_at=at(3), tz=MONTREAL) == at(6)
    assert next_reminder_at(policy, step_sent=2, sent_at=at(6), tz=MONTREAL) is None


@pytest.mark.parametrize(
    ("deadline_in_days", "expected_hours_before"),
    [(10, 48), (6, 48), (5, 36), (3, 36), (1.9, None)],
)
def test_the_last_reminder_is_timed_against_the_deadline(
    deadline_in_days: float, expected_hours_before: int | None
) -> None:
    deadline = at(deadline_in_days)
    policy = ReminderPolicy(count=1, gap=timedelta(days=1), deadline=deadline)
    due = next_reminder_at(policy, step_sent=0, sent_at=MONDAY, tz=MONTREAL)
    if expected_hours_before is None:
        assert due is None, "no reminder when the deadline is under two days away"
    else:
        assert due == deadline - timedelta(hours=expected_hours_before)


def test_earlier_reminders_keep_the_gap_and_the_last_one_meets_the_deadline() -> None:
    policy = ReminderPolicy(count=3, gap=timedelta(days=2), deadline=at(14))
    first = next_reminder_at(policy, step_sent=0, sent_at=MONDAY, tz=MONTREAL)
    assert first == at(2)
    assert first is not None
    second = next_reminder_at(policy, step_sent=1, sent_at=first, tz=MONTREAL)
    assert second == at(4)
    assert second is not None
    last = next_reminder_at(policy, step_sent=2, sent_at=second, tz=MONTREAL)
    assert last == at(12), "48 hours before a deadline more than five days away"


def test_a_reminder_never_lands_in_the_recipients_quiet_hours() -> None:
    policy = ReminderPolicy(count=1, gap=timedelta(days=1), quiet_start=21, quiet_end=8)
    evening = datetime(2027, 3, 1, 2, 30, tzinfo=UTC)  # 21:30 in Montréal, 03:30 in Paris
    in_montreal = next_reminder_at(policy, step_sent=0, sent_at=evening, tz=MONTREAL)
    in_paris = next_reminder_at(policy, step_sent=0, sent_at=evening, tz=PARIS)
    assert in_montreal is not None and in_paris is not None
    assert in_montreal.astimezone(MONTREAL).hour == 8
    assert in_montreal.astimezone(MONTREAL).day == 2
    assert in_paris.astimezone(PARIS).hour == 8
    assert in_paris.astimezone(PARIS).day == 2
    noon = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
    assert next_reminder_at(policy, step_sent=0, sent_at=noon, tz=MONTREAL) == noon + timedelta(1)


# -- the outbox under a moving clock --------------------------------------------------------

CSV = """email,first_name,language,timezone
ana@example.org,Ana,fr,America/Montreal
ben@example.org,Ben,en,Europe/Paris
chloe@example.org,Chloé,fr,
"""


def _launch(database: Database) -> tuple[int, int, dict[str, int]]:
    with database.session() as session:
        community_id = community_with_people(session, CSV, timezone="America/Montreal")
        campaign_id = campaigns.create_campaign(
            session,
            community_id,
            policy=campaigns.SendingPolicy(
                reminder_count=2,
                reminder_gap_days=3,
                deadline_at=at(10),
                quiet_start=21,
                quiet_end=8,
            ),
        )
        campaigns.launch_campaign(session, campaign_id)
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
    return community_id, campaign_id, ids


def _run_at(moment: datetime, config: Config, database: Database, campaign_id: int) -> None:
    """What beat and the workers do at ``moment``: sweep, then send every due batch."""
    with time_machine.travel(moment, tick=False):
        with database.session() as session:
            sweep(session, batch_size=100, requeue_after=timedelta(seconds=0))
        while drain_with(config, database, campaign_id, EmailRenderer()):
            pass


def _received(sink: Sink) -> list[tuple[str, str]]:
    return [(str(m["To"]).rpartition("<")[2].rstrip(">"), str(m["Subject"])) for m in sink.messages]


def test_reminders_reach_only_those_who_have_not_answered_at_the_right_times(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    with time_machine.travel(MONDAY, tick=False):
        community_id, campaign_id, ids = _launch(database)
    _run_at(MONDAY, settings, database, campaign_id)
    assert len(smtp_sink.messages) == 3, "the invitation goes to all three"

    # Ana answers the next day: she gets no reminder.
    with time_machine.travel(at(1), tick=False), database.session() as session:
        people.record_not_now(session, community_id, ids["ana@example.org"])

    with database.session() as session:
        due = {
            email: moment
            for email, moment in session.execute(
                select(Person.email, Delivery.due_at)
                .join(Delivery, Delivery.person_id == Person.id)
                .where(Delivery.step == 1)
            )
        }
    assert set(due) == {"ana@example.org", "ben@example.org", "chloe@example.org"}
    for email, moment in due.items():
        zone = PARIS if email.startswith("ben") else MONTREAL
        local = moment.astimezone(zone)
        assert not (local.hour >= 21 or local.hour < 8), f"{email}: reminder in quiet hours"
        assert moment >= at(3), "at least the gap after the invitation"

    # Nothing is early: a minute before each row is due, nobody gets a reminder.
    _run_at(min(due.values()) - timedelta(minutes=1), settings, database, campaign_id)
    assert len(smtp_sink.messages) == 3

    _run_at(max(due.values()), settings, database, campaign_id)
    reminders = {
        to: subject
        for to, subject in _received(smtp_sink)
        if subject.startswith(("Rappel :", "Reminder:"))
    }
    assert sorted(reminders) == ["ben@example.org", "chloe@example.org"]
    assert reminders["ben@example.org"].startswith("Reminder:"), "in Ben's language"

    # Ben answers after the first reminder; the second (and last) goes to Chloé only, timed
    # 48 hours before the deadline (ten days out, so more than five).
    with time_machine.travel(at(5), tick=False), database.session() as session:
        people.record_not_now(session, community_id, ids["ben@example.org"])
    _run_at(at(8) - timedelta(minutes=1), settings, database, campaign_id)
    assert len(smtp_sink.messages) == 5
    _run_at(at(8), settings, database, campaign_id)
    assert len(smtp_sink.messages) == 6
    assert len(smtp_sink.to("chloe@example.org")) == 3
    assert len(smtp_sink.to("ben@example.org")) == 2
    assert len(smtp_sink.to("ana@example.org")) == 1

    # Nothing more, ever: the campaign completes.
    _run_at(at(20), settings, database, campaign_id)
    assert len(smtp_sink.messages) == 6
    with database.session() as session:
        counts = campaigns.campaign_counts(session, campaign_id)
        assert session.get_one(campaigns.Campaign, campaign_id).state == "completed"
    assert counts["skipped"] == 2 and counts["recipients"] == 3 and counts["answered"] == 2
