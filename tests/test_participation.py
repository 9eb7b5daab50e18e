"""The participation health of recurring activities (issue 8): per past occurrence who answered,
came and found it useful (cancelled and unfinished ones left out), the members going quiet after
the series' three silent occurrences, the observed levels next to the declared ones; the page
draws both charts with their tables, the re-engagement button prepares a campaign to exactly the
quiet members and the re-poll one asking everyone the needs survey again; CSRF on both, and
another coordinator finds nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from builders import community_with_people
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select
from web_helpers import csrf_token, other_coordinator, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import ActivityFeedback, Campaign, Meeting, Membership, Person
from webapp.services import activity_clock, activity_series, imports, meetings, participation
from workers.campaigns import drain_with

RULE = "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;BYHOUR=18;BYMINUTE=30;BYSECOND=0"
ZONE = "America/Toronto"
# Ten weeks ago: the five first Tuesdays are well past whatever day the tests run.
FIRST_DAY = date.today() - timedelta(days=70)
CREATED = datetime.combine(FIRST_DAY - timedelta(days=3), time(12), UTC)
MORE = "email,first_name,last_name\ndan@example.org,Dan,Lee\neve@example.org,Eve,Noor\n"
LATE_PEOPLE = """email,first_name,timezone
ann@example.org,Ann,America/Toronto
ben@example.org,Ben,America/Toronto
late@example.org,Léa,America/Toronto
"""
DECLARED = {"anne": "core", "bob": "peripheral", "chloe": "active", "dan": ""}


@dataclass
class History:
    """Four past occurrences (the fourth of five was cancelled, the later ones too)."""

    community_id: int
    slug: str
    email: str
    ids: dict[str, int]
    past: list[int]
    cancelled: int


def build_history(database: Database) -> History:
    """Anne, Bob, Chloé and Dan are members (Eve is only a prospect), a weekly series: Anne
    answers and comes every time, Bob comes twice and declines once, Chloé says maybe once,
    Dan never answers."""
    seeded = seed(database)
    with database.session() as session:
        imports.import_people(session, seeded.community_id, MORE, source="list", consent="express")
        ids = {p.email.split("@")[0]: p.id for p in session.scalars(select(Person))}
        for membership in session.scalars(select(Membership)):
            name = next(n for n, i in ids.items() if i == membership.person_id)
            membership.state = "prospect" if name == "eve" else "member"
            membership.participation_level = DECLARED.get(name, "")
        session.commit()
    with time_machine.travel(CREATED, tick=False), database.session() as session:
        series_id = activity_series.create_series(
            session,
            seeded.community_id,
            activity_series.SeriesData(
                title="Midi-causerie",
                rrule=RULE,
                timezone=ZONE,
                first_start=activity_series.first_start(RULE, ZONE, FIRST_DAY),
                activity_types=("reading_club",),
            ),
            actor="t",
        )
        found = activity_series.occurrences(session, series_id)
        for later in found[3:4] + found[5:]:
            meetings.cancel(session, later.id, actor="t")
        session.commit()
        first, second, third, fourth, fifth = (m.id for m in found[:5])
    plan = {
        first: {
            "anne": ("accepted", True),
            "bob": ("accepted", True),
            "chloe": ("tentative", False),
        },
        second: {"anne": ("accepted", False), "bob": ("accepted", False)},
        third: {"anne": ("accepted", True), "bob": ("declined", False)},
        fifth: {"anne": ("", True)},
    }
    for meeting_id, answers in plan.items():
        with database.session() as session:
            starts = session.get_one(Meeting, meeting_id).starts_at
        with time_machine.travel(starts - timedelta(hours=1), tick=False):
            with database.session() as session:
                for name, (status, came) in answers.items():
                    if status:
                        meetings.answer(session, meeting_id, ids[name], status)
                    if came:
                        meetings.check_in(session, meeting_id, ids[name], True)
                session.commit()
    with database.session() as session:
        for name, usefulness in (("anne", 5), ("bob", 4)):
            session.add(
                ActivityFeedback(meeting_id=first, person_id=ids[name], usefulness=usefulness)
            )
        session.add(ActivityFeedback(meeting_id=first, person_id=ids["chloe"], usefulness=None))
        session.commit()
    return History(
        seeded.community_id,
        seeded.slug,
        seeded.user_email,
        ids,
        [first, second, third, fifth],
        fourth,
    )


# -- the service ---------------------------------------------------------------------------------


def test_each_past_occurrence_is_tallied(database: Database) -> None:
    history = build_history(database)
    with database.session() as session:
        health = participation.health_of(session, history.community_id)
    assert [t.meeting_id for t in health.occurrences] == history.past
    assert [
        (t.invited, t.yes, t.maybe, t.no, t.came, t.came_or_yes) for t in health.occurrences
    ] == [
        (4, 2, 1, 0, 2, 2),
        (4, 2, 0, 0, None, 2),  # nobody checked in: those who said yes
        (4, 1, 0, 1, 1, 1),
        (4, 0, 0, 0, 1, 1),  # checked in without answering
    ]
    first = health.occurrences[0]
    assert (first.feedback_average, first.feedback_count) == (4.5, 2)
    assert [t.feedback_average for t in health.occurrences[1:]] == [None] * 3
    assert {t.series_title for t in health.occurrences} == {"Midi-causerie"}
    assert {t.activity_type for t in health.occurrences} == {"reading_club"}


def test_an_occurrence_counts_once_it_has_ended(database: Database) -> None:
    history = build_history(database)
    with database.session() as session:
        last = session.get_one(Meeting, history.past[-1])
        during = participation.health_of(
            session, history.community_id, now=last.starts_at + timedelta(minutes=30)
        )
        after = participation.health_of(
            session, history.community_id, now=meetings.meeting_end(last)
        )
    assert [t.meeting_id for t in during.occurrences] == history.past[:-1]
    assert [t.meeting_id for t in after.occurrences] == history.past


def test_members_going_quiet_and_their_levels(database: Database) -> None:
    history = build_history(database)
    with database.session() as session:
        health = participation.health_of(session, history.community_id)
        first_start = session.get_one(Meeting, history.past[0]).starts_at
    ids = history.ids
    assert health.window == 3  # the series' quiet_after
    by_name = {m.email.split("@")[0]: m for m in health.members}
    assert set(by_name) == {"anne", "bob", "chloe", "dan"}  # Eve is not a member
    assert {n: (m.came, m.answered) for n, m in by_name.items()} == {
        "anne": (4, 3),
        "bob": (2, 3),
        "chloe": (0, 1),
        "dan": (0, 0),
    }
    assert {n: (m.recent_came, m.recent_answered) for n, m in by_name.items()} == {
        "anne": (3, 2),
        "bob": (1, 2),
        "chloe": (0, 0),
        "dan": (0, 0),
    }
    assert {n: m.observed for n, m in by_name.items()} == {
        "anne": "core",
        "bob": "active",
        "chloe": "peripheral",
        "dan": "quiet",
    }
    assert {n: m.declared for n, m in by_name.items()} == DECLARED
    # Dan, never seen, comes before Chloé, last seen at the first occurrence.
    assert [m.person_id for m in health.quiet] == [ids["dan"], ids["chloe"]]
    assert by_name["chloe"].last_seen == first_start
    assert by_name["dan"].last_seen is None
    assert health.observed_levels() == {"core": 1, "active": 1, "peripheral": 1, "quiet": 1}
    assert health.declared_levels() == {"core": 1, "active": 1, "peripheral": 1, "": 1}


def test_the_window_decides_who_is_quiet(database: Database) -> None:
    history = build_history(database)
    with database.session() as session:
        wider = participation.health_of(session, history.community_id, window=4)
        narrow = participation.health_of(session, history.community_id, window=1)
        too_wide = participation.health_of(session, history.community_id, window=5)
    ids = history.ids
    assert [m.person_id for m in wider.quiet] == [ids["dan"]]  # Chloé answered the first
    assert {m.person_id for m in narrow.quiet} == {ids["bob"], ids["chloe"], ids["dan"]}
    assert too_wide.quiet == []  # not that many occurrences yet


@pytest.mark.parametrize(
    ("came", "answered", "level"),
    [(4, 4, "core"), (2, 2, "active"), (1, 0, "peripheral"), (0, 1, "peripheral"), (0, 0, "quiet")],
)
def test_observed_levels_follow_the_thirds(came: int, answered: int, level: str) -> None:
    assert participation.observed_level(came, answered, 6) == level


def test_no_series_means_no_occurrence(database: Database) -> None:
    seeded = seed(database)
    with database.session() as session:
        health = participation.health_of(session, seeded.community_id)
    assert (health.series_count, health.occurrences, health.quiet) == (0, [], [])


# -- the page ------------------------------------------------------------------------------------


@dataclass
class Client:
    client: FlaskClient
    history: History

    @property
    def base(self) -> str:
        return f"/communities/{self.history.slug}/activities/health"

    def page(self, client: FlaskClient | None = None) -> str:
        response = (client or self.client).get(self.base)
        assert response.status_code == 200
        return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def pages(database: Database, config: Config) -> Iterator[Client]:
    history = build_history(database)
    with running_app(config) as app:
        client = app.test_client()
        sign_in(client, history.email)
        client.get("/?lang=en")
        yield Client(client, history)


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def table(page: str, table_id: str) -> list[str]:
    """The rows of a table as text, the header row first."""
    body = page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    return [text_of(row) for row in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)]


def test_the_page_draws_the_charts_and_their_tables(pages: Client) -> None:
    page = pages.page()
    charts = re.findall(r'<svg id="([a-z-]+)"[^>]*role="img" aria-label="([^"]+)"', page)
    assert [name for name, _label in charts] == ["attendance-chart", "levels-chart"]
    attendance, levels = (label for _name, label in charts)
    assert "4 past activities" in attendance
    assert "between 1 and 2 came or said yes; 1 at the last one, out of 4 members" in attendance
    assert "Core group: 1 observed, 1 declared" in levels
    assert "Quiet: 1 observed" in levels
    assert page.count("<rect") >= 4 * 3 + 5
    rows = table(page, "attendance")
    assert rows[0] == "Date Activity Members Yes Maybe No Came Usefulness"
    assert [r.split("Midi-causerie · Reading club ", 1)[1] for r in rows[1:]] == [
        "4 2 1 0 2 4.5 / 5 (2)",
        "4 2 0 0 nobody checked in —",
        "4 1 0 1 1 —",
        "4 0 0 0 1 —",
    ]
    assert table(page, "levels")[1:] == [
        "Core group 1 1",
        "Active group 1 1",
        "Periphery 1 1",
        "Quiet 1 —",
        "Not declared — 1",
    ]
    quiet = table(page, "quiet")
    assert quiet[1] == "Dan Lee dan@example.org Never"
    assert quiet[2].startswith("Chloé Roy chloe@example.org ")
    assert "Write to the 2 members going quiet" in page
    assert "Poll the rhythm again" in page


def test_reengage_writes_to_exactly_the_quiet_members(pages: Client, database: Database) -> None:
    token = csrf_token(pages.client, pages.base)
    refused = pages.client.post(pages.base + "/reengage")
    assert refused.status_code == 400
    response = pages.client.post(pages.base + "/reengage", data={"csrf_token": token})
    assert response.status_code == 303
    location = response.headers["Location"]
    match = re.search(rf"/communities/{pages.history.slug}/campaigns/(\d+)$", location)
    assert match, location
    with database.session() as session:
        campaign = session.get_one(Campaign, int(match.group(1)))
        assert (campaign.kind, campaign.activity_step, campaign.state) == (
            "activity",
            "reengage",
            "draft",
        )
        ids = pages.history.ids
        assert campaign.audience_filter == {"people": sorted([ids["dan"], ids["chloe"]])}
        assert campaign.audience_state == "member"
    assert pages.client.get(location).status_code == 200
    # A second click finds the same draft.
    again = pages.client.post(pages.base + "/reengage", data={"csrf_token": token})
    assert again.headers["Location"] == location


def test_repoll_asks_every_member_the_needs_survey(pages: Client, database: Database) -> None:
    token = csrf_token(pages.client, pages.base)
    assert pages.client.post(pages.base + "/repoll").status_code == 400
    response = pages.client.post(pages.base + "/repoll", data={"csrf_token": token})
    assert response.status_code == 303
    campaign_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with database.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.kind, campaign.activity_step, campaign.audience_state) == (
            "activity",
            "needs",
            "member",
        )
        assert not (campaign.audience_filter or {}).get("people")


def test_nobody_quiet_means_nothing_to_write(pages: Client, database: Database) -> None:
    with database.session() as session:
        for membership in session.scalars(select(Membership)):
            if membership.person_id in (pages.history.ids["chloe"], pages.history.ids["dan"]):
                membership.state = "alumnus"
        session.commit()
    page = pages.page()
    assert "Nobody is going quiet" in page
    assert 'id="reengage"' not in page
    token = csrf_token(pages.client, pages.base)
    response = pages.client.post(pages.base + "/reengage", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(pages.base + "#quiet-title")
    shown = html.unescape(pages.client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Nobody is going quiet: there is nobody to write to." in shown
    with database.session() as session:
        assert session.scalars(select(Campaign)).all() == []


def test_the_empty_page_explains_and_links_to_the_activities(
    database: Database, config: Config
) -> None:
    seeded = seed(database)
    with running_app(config) as app:
        client = app.test_client()
        sign_in(client, seeded.user_email)
        client.get("/?lang=en")
        page = html.unescape(
            client.get(f"/communities/{seeded.slug}/activities/health").get_data(as_text=True)
        )
    assert 'id="health-empty"' in page
    assert "no series of activities yet" in page
    assert f'href="/communities/{seeded.slug}/activities"' in page
    assert "<svg" not in page


def test_another_coordinator_finds_nothing(pages: Client, database: Database) -> None:
    email = other_coordinator(database)
    other = pages.client.application.test_client()
    sign_in(other, email)
    assert other.get(pages.base).status_code == 404
    token = csrf_token(other, "/communities/other/activities/health")
    response = other.post(pages.base + "/reengage", data={"csrf_token": token})
    assert response.status_code == 404


def test_a_member_is_measured_on_the_activities_they_were_invited_to(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    start = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False), database.session() as session:
        community_id = community_with_people(session, LATE_PEOPLE, timezone=ZONE)
        for membership in session.scalars(select(Membership)):
            membership.state = (
                "member" if membership.person.email != "late@example.org" else "waitlisted"
            )
        activity_series.create_series(
            session,
            community_id,
            activity_series.SeriesData(
                title="Midi",
                rrule=RULE,
                timezone=ZONE,
                first_start=activity_series.first_start(RULE, ZONE, date(2030, 1, 13)),
                invite_days=3,
            ),
            actor="t",
        )
        session.commit()
    # Three weekly activities, each announced three days ahead to the two first members.
    for week in range(3):
        with time_machine.travel(start + timedelta(days=7 * week + 3), tick=False):
            with database.session() as session:
                activity_clock.tick(session)
                session.commit()
                ids = session.scalars(select(Campaign.id)).all()
            for campaign_id in ids:
                while drain_with(settings, database, campaign_id):
                    pass
    # The latecomer joins afterwards: three silent activities make the others quiet, not them.
    with database.session() as session:
        late = session.scalars(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "late@example.org")
        ).one()
        late.state = "member"
        session.commit()
        health = participation.health_of(session, community_id, now=start + timedelta(days=24))
    assert len(health.occurrences) == 3
    assert sorted(r.email for r in health.quiet) == ["ann@example.org", "ben@example.org"]
    record = next(r for r in health.members if r.email == "late@example.org")
    assert not record.quiet and record.came == 0
