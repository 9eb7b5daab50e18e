"""A member's side of the recurring activities (issue 8), through the personal link of an
activity email: a member who came gives feedback and proposes the next topic, someone who did not
come is refused politely; the facilitator posts the summary; the needs survey saves, and a bad
answer comes back with everything typed; the re-engagement page lists the coming activities in
the reader's time zone and records a yes; the whole series downloads as one .ics with its rule."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import time_machine
from builders import community_with_people
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select
from web_helpers import running_app
from werkzeug.test import TestResponse

from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    ActivityFeedback,
    Delivery,
    Meeting,
    Membership,
    Person,
    Response,
    Rsvp,
)
from webapp.services import activities, activity_series, campaigns, meetings, tokens

ZONE = "America/Toronto"
RULE = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=18;BYMINUTE=30;BYSECOND=0"
NOW = datetime(2030, 1, 10, 15, 0, tzinfo=UTC)  # a Thursday; the first activity is Tuesday 15
AFTER_FIRST = datetime(2030, 1, 16, 15, 0, tzinfo=UTC)
PEOPLE = """email,first_name,language,timezone
marie@example.org,Marie,en,America/Toronto
bob@example.org,Bob,en,America/Vancouver
chloe@example.org,Chloé,en,Europe/Paris
"""
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RESUME = re.compile(r'name="resume" value="([^"]+)"')


@dataclass
class World:
    """A community of three members with a series every other Tuesday at 18:30 in Toronto; the
    first occurrence is a reading club on Wenger 1998 that Marie facilitates."""

    app: Flask
    database: Database
    traveller: time_machine.Traveller
    community_id: int
    series_id: int
    occurrences: list[int]
    ids: dict[str, int]

    def browser(self, who: str, step: str, meeting_id: int | None = None) -> FlaskClient:
        """``who``'s browser, opened by the link of an activity email asking ``step``."""
        person_id = self.ids[who]
        with self.database.session() as session:
            campaign_id = campaigns.create_campaign(
                session,
                self.community_id,
                kind="activity",
                activity_step=step,
                meeting_id=meeting_id,
                audience_filter={"people": [person_id]},
            )
            campaigns.launch_campaign(session, campaign_id, actor="t")
            delivery_id = session.scalars(
                select(Delivery.id).where(
                    Delivery.campaign_id == campaign_id, Delivery.person_id == person_id
                )
            ).first()
            token = tokens.issue_token(
                session,
                person_id=person_id,
                community_id=self.community_id,
                purpose="respond",
                lifetime_days=30,
                delivery_id=delivery_id,
            )
            session.commit()
        client = self.app.test_client()
        assert client.get(f"/r/{token}").status_code == 303
        assert client.get("/respond").headers["Location"].endswith("/respond/activity")
        return client


@pytest.fixture
def world(database: Database, config: Config) -> Iterator[World]:
    with time_machine.travel(NOW, tick=True) as traveller:
        with database.session() as session:
            community_id = community_with_people(session, PEOPLE, timezone=ZONE)
            for membership in session.scalars(select(Membership)):
                membership.state = "member"
            ids = {
                email.split("@")[0]: id_
                for email, id_ in session.execute(select(Person.email, Person.id))
            }
            first = activity_series.first_start(RULE, ZONE, date(2030, 1, 14))
            series_id = activity_series.create_series(
                session,
                community_id,
                activity_series.SeriesData(
                    title="Midi-causerie", rrule=RULE, timezone=ZONE, first_start=first
                ),
                actor="t",
            )
            occurrences = [m.id for m in activity_series.occurrences(session, series_id)]
            activity_series.set_occurrence(
                session,
                occurrences[0],
                topic="Wenger 1998",
                facilitator_id=ids["marie"],
                activity_type="reading_club",
                actor="t",
            )
            session.commit()
        with running_app(config) as app:
            yield World(app, database, traveller, community_id, series_id, occurrences, ids)


def shown(response: TestResponse) -> str:
    """The page as a person reads it: entities decoded, tags and extra spaces gone."""
    text = html.unescape(response.get_data(as_text=True))
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def token_of(client: FlaskClient) -> str:
    match = CSRF.search(client.get("/respond/activity").get_data(as_text=True))
    assert match
    return match.group(1)


def follow(client: FlaskClient, response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return shown(client.get(response.headers["Location"]))


def test_a_member_who_came_gives_feedback_and_proposes_the_next_topic(world: World) -> None:
    first = world.occurrences[0]
    with world.database.session() as session:
        meetings.check_in(session, first, world.ids["bob"], present=True)
        session.commit()
    world.traveller.move_to(AFTER_FIRST)
    bob = world.browser("bob", "feedback", first)
    page = bob.get("/respond/activity")
    assert page.status_code == 200
    raw = html.unescape(page.get_data(as_text=True))
    text = shown(page)
    assert "Your feedback on the activity" in text
    assert "Midi-causerie · Reading club: Wenger 1998" in text
    # Tuesday 18:30 in Toronto is 15:30 for Bob, in Vancouver.
    assert "Tuesday, January 15, 2030 at 3:30" in text and "(America/Vancouver)" in text
    # One question, five radio buttons in a fieldset with its legend: arrows move between them.
    assert re.search(r'<fieldset class="slot" id="usefulness">\s*<legend>Was it useful\?', raw)
    assert len(re.findall(r'<input[^>]*name="usefulness"', raw)) == 5
    assert "/respond/activity/series.ics?series=" in raw

    # Without saying how useful it was: refused, the comment and the topic kept.
    missing = bob.post(
        "/respond/activity/feedback",
        data={
            "csrf_token": token_of(bob),
            "comment": "Great discussion on legitimate peripheral participation.",
            "next_topic": "Communities of practice in hybrid work",
        },
    )
    assert missing.status_code == 400
    text = shown(missing)
    assert "Choose from 1 (not useful) to 5 (very useful)." in text
    assert "Great discussion on legitimate peripheral participation." in text
    assert "Communities of practice in hybrid work" in text

    # Without the CSRF token: refused, nothing recorded.
    forged = bob.post("/respond/activity/feedback", data={"usefulness": "4", "comment": "x y"})
    assert forged.status_code == 400
    with world.database.session() as session:
        assert session.scalars(select(ActivityFeedback)).all() == []

    sent = bob.post(
        "/respond/activity/feedback",
        data={
            "csrf_token": token_of(bob),
            "usefulness": "4",
            "comment": "Great discussion on legitimate peripheral participation.",
            "next_topic": "Communities of practice in hybrid work",
        },
    )
    after = follow(bob, sent)
    assert "Thank you for your feedback" in after
    assert "You gave your feedback on" in after
    with world.database.session() as session:
        topics = [t.text for t in activity_series.open_topics(session, world.series_id)]
        assert topics == ["Communities of practice in hybrid work"]
        given = session.scalars(select(ActivityFeedback)).all()
        assert [(f.person_id, f.meeting_id, f.usefulness) for f in given] == [
            (world.ids["bob"], first, 4)
        ]

    # Given again: it replaces the first, one row per member and activity.
    again = bob.post(
        "/respond/activity/feedback",
        data={
            "csrf_token": token_of(bob),
            "usefulness": "5",
            "comment": "Even better on reflection.",
        },
    )
    assert again.status_code == 303
    raw = html.unescape(bob.get("/respond/activity").get_data(as_text=True))
    assert re.search(r'<input checked[^>]*value="5"|<input[^>]*value="5"[^>]*checked', raw)
    assert "Even better on reflection." in raw
    with world.database.session() as session:
        given = session.scalars(select(ActivityFeedback)).all()
        assert [(f.usefulness, f.comment) for f in given] == [(5, "Even better on reflection.")]


def test_someone_who_did_not_come_is_refused_politely(world: World) -> None:
    first = world.occurrences[0]
    with world.database.session() as session:
        meetings.check_in(session, first, world.ids["bob"], present=True)
        session.commit()
    world.traveller.move_to(AFTER_FIRST)
    chloe = world.browser("chloe", "feedback", first)
    page = shown(chloe.get("/respond/activity"))
    assert "Only the members who came to this activity give feedback on it." in page
    assert "Was it useful?" not in page
    assert "Propose a topic" in page  # what she can do instead
    refused = chloe.post(
        "/respond/activity/feedback",
        data={"csrf_token": token_of(chloe), "usefulness": "2", "comment": "I was not there."},
    )
    assert refused.status_code == 400
    assert "Only the members who came to this activity give feedback on it." in shown(refused)
    with world.database.session() as session:
        assert session.scalars(select(ActivityFeedback)).all() == []


def test_the_facilitator_posts_the_summary_and_only_they_can(world: World) -> None:
    first = world.occurrences[0]
    world.traveller.move_to(AFTER_FIRST)
    marie = world.browser("marie", "summary", first)
    page = shown(marie.get("/respond/activity"))
    assert "The summary of the activity" in page and "Post the summary" in page
    empty = marie.post("/respond/activity/summary", data={"csrf_token": token_of(marie)})
    assert empty.status_code == 400
    assert "Write the summary before posting it." in shown(empty)
    summary = "We read chapter 1.\r\n\r\nNext time: chapter 2, and <b>bring a case</b>."
    posted = marie.post(
        "/respond/activity/summary", data={"csrf_token": token_of(marie), "summary": summary}
    )
    after = follow(marie, posted)
    assert "Thank you: the summary is posted." in after
    assert "You posted the summary on" in after and "Correct the summary" in after
    raw = marie.get("/respond/activity").get_data(as_text=True)
    assert "&lt;b&gt;bring a case&lt;/b&gt;" in raw and "<b>bring" not in raw
    with world.database.session() as session:
        meeting = session.get_one(Meeting, first)
        assert (
            meeting.summary
            == "We read chapter 1.\n\nNext time: chapter 2, and <b>bring a case</b>."
        )
        assert meeting.summary_at is not None

    # Bob, asked by mistake, reads it but cannot change it.
    bob = world.browser("bob", "summary", first)
    page = shown(bob.get("/respond/activity"))
    assert "Only the facilitator of this activity posts its summary." in page
    assert "We read chapter 1." in page
    refused = bob.post(
        "/respond/activity/summary", data={"csrf_token": token_of(bob), "summary": "Mine"}
    )
    assert refused.status_code == 400
    with world.database.session() as session:
        assert session.get_one(Meeting, first).summary.startswith("We read chapter 1.")


def needs_post(client: FlaskClient, **answers: object) -> TestResponse:
    resume = RESUME.search(client.get("/respond/activity?step=needs").get_data(as_text=True))
    assert resume
    return client.post(
        "/respond/activity/needs", data={"resume": resume.group(1), "action": "send", **answers}
    )


def test_the_needs_survey_saves_and_a_bad_answer_keeps_what_was_typed(world: World) -> None:
    bob = world.browser("bob", "needs")
    page = shown(bob.get("/respond/activity"))
    assert "Your needs and availability" in page and "When are you available?" in page
    bad = needs_post(
        bob,
        question_activity_types=["reading_club", "workshop"],
        question_frequency="biweekly",
    )
    assert bad.status_code == 400
    raw = html.unescape(bad.get_data(as_text=True))
    assert "Please correct the following:" in raw and "When are you available?" in raw
    for value in ("reading_club", "workshop", "biweekly"):
        assert re.search(rf'<input checked[^>]*value="{value}"', raw), value
    with world.database.session() as session:  # kept as a draft, not sent
        (draft,) = session.scalars(select(Response)).all()
        assert not draft.complete
        assert draft.answers["activity_types"] == ["reading_club", "workshop"]
        assert activities.needs_of(session, world.community_id) == []

    sent = needs_post(
        bob,
        question_activity_types=["reading_club", "workshop"],
        question_frequency="biweekly",
        question_availability=["tue-afternoon", "thu-morning"],
    )
    after = follow(bob, sent)
    assert "Thank you: your needs and availability are sent." in after
    assert "Your answers are sent. You can change them at any time" in after
    with world.database.session() as session:
        (need,) = activities.needs_of(session, world.community_id)
        assert need.slots == {"tue-afternoon", "thu-morning"}
        assert need.timezone == "America/Vancouver"

    # They come back and change their answers.
    changed = needs_post(
        bob,
        question_activity_types=["webinar"],
        question_frequency="monthly",
        question_availability=["tue-afternoon"],
    )
    assert changed.status_code == 303
    with world.database.session() as session:
        (need,) = activities.needs_of(session, world.community_id)
        assert (need.types, need.frequency) == (("webinar",), "monthly")


def test_the_reengagement_page_lists_the_coming_activities_and_takes_an_answer(
    world: World,
) -> None:
    _first, second, third = world.occurrences[:3]
    with world.database.session() as session:
        activity_series.cancel(session, second, actor="t")
        session.commit()
    bob = world.browser("bob", "reengage")
    page = bob.get("/respond/activity")
    text = shown(page)
    assert "The coming activities" in text
    assert "Times are shown in the time zone America/Vancouver." in text
    # The next three, the cancelled one left out, at 15:30 for Bob in Vancouver.
    for day in ("January 15, 2030", "February 12, 2030", "February 26, 2030"):
        assert f"Tuesday, {day} at 3:30" in text, day
    assert "January 29, 2030" not in text and "March 12, 2030" not in text
    assert "Reading club: Wenger 1998" in text
    assert "You have not answered yet." in text

    answered = bob.post(
        "/respond/activity/rsvp",
        data={"csrf_token": token_of(bob), "meeting": str(third), "answer": "yes"},
    )
    assert answered.headers["Location"].endswith(f"#occurrence-{third}")
    after = follow(bob, answered)
    assert "Thank you: you are expected." in after
    assert "Your answer: yes, you are expected." in after
    with world.database.session() as session:
        rsvp = session.scalars(select(Rsvp).where(Rsvp.meeting_id == third)).one()
        assert (rsvp.person_id, rsvp.status, rsvp.source) == (world.ids["bob"], "accepted", "web")

    # The cancelled one cannot be answered.
    refused = bob.post(
        "/respond/activity/rsvp",
        data={"csrf_token": token_of(bob), "meeting": str(second), "answer": "yes"},
    )
    assert "This meeting is cancelled." in follow(bob, refused)

    # A topic, and the needs survey from the same page.
    proposed = bob.post(
        "/respond/activity/topics",
        data={
            "csrf_token": token_of(bob),
            "series": str(world.series_id),
            "topic": "Peer review of course designs",
        },
    )
    after = follow(bob, proposed)
    assert "Thank you: your topic is proposed" in after
    assert "Peer review of course designs (yours)" in after
    assert 'href="/respond/activity?step=needs"' in bob.get("/respond/activity").get_data(
        as_text=True
    )
    assert "When are you available?" in shown(bob.get("/respond/activity?step=needs"))


def test_the_whole_series_downloads_as_one_calendar_with_its_rule(
    world: World, database: Database
) -> None:
    bob = world.browser("bob", "topics", world.occurrences[0])
    page = bob.get("/respond/activity").get_data(as_text=True)
    link = f"/respond/activity/series.ics?series={world.series_id}"
    assert f'href="{link}"' in page
    download = bob.get(link)
    assert download.status_code == 200
    assert download.mimetype == "text/calendar"
    assert "attachment" in download.headers["Content-Disposition"]
    (event, *overrides) = Calendar.from_ical(download.data).walk("VEVENT")
    (line,) = [x for x in download.get_data(as_text=True).splitlines() if x.startswith("RRULE:")]
    assert sorted(line.removeprefix("RRULE:").split(";")) == sorted(RULE.split(";"))
    assert str(event["ORGANIZER"]) == "mailto:cop@example.org"
    assert event.decoded("DTSTART") == datetime(2030, 1, 15, 23, 30, tzinfo=UTC)
    # The occurrence with its own topic, under the series' UID.
    assert [str(o["SUMMARY"]).endswith(": Wenger 1998") for o in overrides] == [True]
    assert {str(o["UID"]) for o in overrides} == {str(event["UID"])}

    # Another community's series is not theirs to download.
    with database.session() as session:
        other = community_with_people(session, "email\nzoe@example.org\n", slug="other")
        other_series = activity_series.create_series(
            session,
            other,
            activity_series.SeriesData(
                title="Other",
                rrule=RULE,
                timezone=ZONE,
                first_start=activity_series.first_start(RULE, ZONE, date(2030, 1, 14)),
            ),
            actor="t",
        )
        session.commit()
    assert bob.get(f"/respond/activity/series.ics?series={other_series}").status_code == 404
    assert bob.get("/respond/activity/series.ics").status_code == 404
    # Nor are its activities theirs to answer.
    with database.session() as session:
        elsewhere = activity_series.occurrences(session, other_series)[0].id
    refused = bob.post(
        "/respond/activity/rsvp",
        data={"csrf_token": token_of(bob), "meeting": str(elsewhere), "answer": "yes"},
    )
    assert "No such activity." in follow(bob, refused)
    with database.session() as session:
        assert session.scalars(select(Rsvp)).all() == []
