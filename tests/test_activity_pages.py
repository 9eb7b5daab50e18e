"""The coordinator's pages for recurring activities (issue 8): the empty state before any answer
to the needs survey, the rhythm proposed from three members' answers, the adjusted rhythm
confirmed as a series whose occurrences are the RRULE's dates, a bad field refused with what was
typed kept, one occurrence's topic, facilitator and type, one moved and one cancelled leaving the
others alone, a date skipped, the series ended, and the whole series as an .ics; CSRF on every
change, and another coordinator finds nothing."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from flask.testing import FlaskClient
from icalendar import Calendar
from sqlalchemy import select
from web_helpers import csrf_token, other_coordinator, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    ActivityFeedback,
    ActivitySeries,
    Meeting,
    Membership,
    Person,
    Rsvp,
    TopicProposal,
)
from webapp.services import activity_series
from webapp.services.questionnaires import store_answers

ZONE = "America/Toronto"
TODAY = date.today()


@dataclass
class Pages:
    """A community of three members, its coordinator signed in, reading English."""

    client: FlaskClient
    database: Database
    slug: str
    community_id: int
    ids: dict[str, int]

    @property
    def base(self) -> str:
        return f"/communities/{self.slug}/activities"

    def get(self, path: str = "", client: FlaskClient | None = None) -> str:
        response = (client or self.client).get(self.base + path)
        assert response.status_code == 200, path
        return html.unescape(response.get_data(as_text=True))

    def post(self, path: str, data: dict[str, Any] | None = None, **fields: Any) -> Any:
        token = csrf_token(self.client, self.base)
        return self.client.post(self.base + path, data={"csrf_token": token, **(data or fields)})

    def follow(self, response: Any) -> str:
        assert response.status_code == 303, response.get_data(as_text=True)
        shown = self.client.get(response.headers["Location"])
        assert shown.status_code == 200
        return html.unescape(shown.get_data(as_text=True))


@pytest.fixture
def pages(database: Database, config: Config) -> Iterator[Pages]:
    seeded = seed(database)
    with database.session() as session:
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
    with running_app(config) as app:
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        sign_in(client, seeded.user_email)
        client.get("/?lang=en")
        yield Pages(client, database, seeded.slug, seeded.community_id, ids)


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def part(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def type_boxes(page: str) -> list[tuple[str, bool]]:
    """The activity types' checkboxes, in order: (code, ticked)."""
    boxes = re.findall(r'<input([^>]*)name="activity_types"[^>]*value="(\w+)"', page)
    return [(code, "checked" in before) for before, code in boxes]


def answer_needs(pages: Pages) -> None:
    """Anne and Bob are free on Tuesday evenings and want to meet every two weeks; Chloé is
    only free on Friday mornings."""
    answers = {
        "anne@example.org": (["reading_club", "case_study"], "biweekly", ["tue-evening"]),
        "bob@example.org": (["case_study"], "biweekly", ["tue-evening", "wed-morning"]),
        "chloe@example.org": (["workshop"], "monthly", ["fri-morning"]),
    }
    with pages.database.session() as session:
        for email, (types, frequency, slots) in answers.items():
            store_answers(
                session,
                pages.community_id,
                "needs",
                pages.ids[email],
                {
                    "answers": {
                        "activity_types": types,
                        "frequency": frequency,
                        "availability": slots,
                    }
                },
                complete=True,
                already_sent="already sent",
            )


FIRST_DAY = TODAY + timedelta(days=20)
SERIES = {
    "title": "Midis pédagogiques",
    "weekday": "wed",
    "start": "19:00",
    "period": "biweekly",
    "first_day": str(FIRST_DAY),
    "duration": "60",
    "place": "Salle 1234",
    "format": "hybrid",
    "activity_types": ["case_study", "reading_club"],
    "invite_days": "10",
    "reminders": "48, 3",
}


def create(pages: Pages, **changed: Any) -> tuple[int, str]:
    """Confirm the series form; the new series' id and its page."""
    response = pages.post("/new", {**SERIES, **changed})
    assert response.status_code == 303, response.get_data(as_text=True)
    series_id = int(response.headers["Location"].split("/activities/")[1].split("#")[0])
    return series_id, pages.follow(response)


def stored(pages: Pages, series_id: int) -> tuple[ActivitySeries, list[Meeting]]:
    with pages.database.session() as session:
        series = session.get_one(ActivitySeries, series_id)
        found = activity_series.occurrences(session, series_id)
        session.expunge_all()
    return series, found


def test_before_any_answer_the_page_says_to_send_the_needs_survey(pages: Pages) -> None:
    page = pages.get()
    empty = text_of(part(page, 'id="no-answers"', "</div>"))
    assert "No member has answered the needs survey yet" in empty
    assert "Send the needs survey to the members" in empty
    assert 'id="proposal"' not in page
    assert "No series yet" in page
    assert f'href="{pages.base}/new"' in page
    assert f'action="{pages.base}/health/repoll"' in page and 'id="send-needs"' in page
    assert f'href="{pages.base}/health" id="health-link"' in page
    form = pages.get("/new")
    assert 'id="no-proposal"' in form


def test_the_rhythm_is_proposed_from_the_members_needs(pages: Pages) -> None:
    answer_needs(pages)
    page = pages.get()
    assert text_of(part(page, 'id="proposal">', "</p>")) == (
        "Proposed: every two weeks on Tuesday at 6:30 PM (America/Toronto)."
    )
    assert text_of(part(page, 'id="answered">', "</dd>")) == "3 members answered"
    assert text_of(part(page, 'id="expected">', "</dd>")) == "2 on average at each activity"
    assert text_of(part(page, 'id="rotation">', "</ol>")) == "Case study Reading club"
    assert text_of(part(page, 'id="left-out">', "</ul>")) == "Chloé Roy (chloe@example.org)"
    # The form is filled in from the proposal: Tuesday, 18:30, every two weeks, both types.
    form = pages.get("/new")
    assert re.search(r'<option selected value="tue">|<option value="tue" selected', form)
    assert 'value="18:30"' in form
    assert re.search(r'value="biweekly"[^>]*checked|checked[^>]*value="biweekly"', form)
    assert str(TODAY + timedelta(days=14)) in form
    boxes = type_boxes(form)
    assert boxes[:2] == [("case_study", True), ("reading_club", True)]
    assert len(boxes) == 8 and not any(ticked for _code, ticked in boxes[2:])
    assert 'value="24, 2"' in form and 'value="90"' in form and 'value="14"' in form
    # In French, the weekday and the time are the reader's.
    pages.client.get("/?lang=fr")
    proposal = text_of(part(pages.get(), 'id="proposal">', "</p>"))
    assert "mardi" in proposal and "18:30" in proposal and "(America/Toronto)" in proposal


@pytest.mark.parametrize(
    ("period", "rule", "words"),
    [
        (
            "biweekly",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=19;BYMINUTE=0;BYSECOND=0",
            "every two weeks on Wednesday at 7:00 PM (America/Toronto)",
        ),
        (
            "monthly",
            "FREQ=MONTHLY;INTERVAL=1;BYDAY=1WE;BYHOUR=19;BYMINUTE=0;BYSECOND=0",
            "the first Wednesday of every month at 7:00 PM (America/Toronto)",
        ),
    ],
)
def test_the_confirmed_rhythm_becomes_the_rules_occurrences(
    pages: Pages, period: str, rule: str, words: str
) -> None:
    answer_needs(pages)
    series_id, page = create(pages, period=period)
    assert "The series is set" in page
    assert f'href="{pages.base}/health" id="health-link"' in page
    assert text_of(part(page, 'id="series-rule">', "</dd>")) == words
    assert text_of(part(page, 'id="series-place">', "</dd>")) == "Salle 1234"
    assert text_of(part(page, 'id="series-format">', "</dd>")) == "Hybrid"
    assert text_of(part(page, 'id="series-rotation">', "</ol>")) == "Case study Reading club"
    series, found = stored(pages, series_id)
    assert series.rrule == rule and series.timezone == ZONE
    assert (series.duration_minutes, series.invite_days) == (60, 10)
    assert series.reminder_minutes == [2880, 180] and series.format == "hybrid"
    # The occurrences are the dates dateutil gives for the rule, from the first Wednesday on or
    # after the chosen day, up to the horizon; 19:00 stays 19:00 across clock changes.
    zone = ZoneInfo(ZONE)
    first = next(
        day
        for day in (FIRST_DAY + timedelta(days=n) for n in range(40))
        if day.weekday() == 2 and (period != "monthly" or day.day <= 7)
    )
    dates = rrulestr(rule, dtstart=datetime.combine(first, time(19, 0)))
    starts = [m.starts_at for m in found]
    last = starts[-1].astimezone(zone).replace(tzinfo=None)
    expected = [
        local.replace(tzinfo=zone).astimezone(UTC)
        for local in dates.between(datetime.combine(first, time(0)), last, inc=True)
    ]
    assert starts == expected and len(starts) >= 3
    after = dates.after(last)
    assert after is not None
    assert after.replace(tzinfo=zone) > datetime.now(UTC) + activity_series.HORIZON
    assert all(s.astimezone(zone).time() == time(19, 0) for s in starts)
    assert [m.activity_type for m in found[:3]] == ["case_study", "reading_club", "case_study"]
    assert all(m.recurrence_at == m.starts_at and m.place == "Salle 1234" for m in found)
    # The index lists it, with its next activity.
    row = text_of(part(pages.get(), f'<tr id="series-{series_id}"', "</tr>"))
    assert "Midis pédagogiques" in row and words in row and "Active" in row
    table = part(page, 'id="occurrences"', "</table>")
    assert table.count('data-state="scheduled"') == len(found)


def test_a_bad_field_is_named_and_what_was_typed_is_kept(pages: Pages) -> None:
    refused = pages.post(
        "/new", {**SERIES, "invite_days": "99", "reminders": "24, soon", "title": "Nos ateliers"}
    )
    assert refused.status_code == 400
    page = html.unescape(refused.get_data(as_text=True))
    summary = text_of(part(page, 'class="error-summary"', "</div>"))
    assert "Invitation, days before each activity : From 0 to 60 days." in summary
    assert "Reminders, in hours before the start : At most 5 whole numbers of hours" in summary
    assert 'id="invite_days-error"' in page and 'id="reminders-error"' in page
    assert 'value="Nos ateliers"' in page and 'value="Salle 1234"' in page
    assert 'value="99"' in page and 'value="24, soon"' in page and 'value="19:00"' in page
    assert re.search(r'value="hybrid"[^>]*checked|checked[^>]*value="hybrid"', page)
    assert {code for code, ticked in type_boxes(page) if ticked} == {"case_study", "reading_club"}
    past = pages.post("/new", {**SERIES, "first_day": str(TODAY - timedelta(days=1))})
    assert past.status_code == 400
    assert "The first date is today or later." in html.unescape(past.get_data(as_text=True))
    with pages.database.session() as session:
        assert session.scalars(select(ActivitySeries)).all() == []
    no_token = pages.client.post(pages.base + "/new", data=SERIES)
    assert no_token.status_code == 400


def test_an_occurrence_gets_its_topic_facilitator_and_type(pages: Pages) -> None:
    series_id, _page = create(pages)
    _series, found = stored(pages, series_id)
    first, second = found[0], found[1]
    page = pages.follow(pages.post(f"/{series_id}/topics", text="  Wenger   1998 "))
    assert text_of(part(page, 'id="open-topics">', "</ul>")) == "Wenger 1998"
    assert '<option value="Wenger 1998">' in part(page, 'id="topic-choices">', "</datalist>")
    anne = pages.ids["anne@example.org"]
    page = pages.follow(
        pages.post(
            f"/{series_id}/occurrences/{first.id}",
            topic="Wenger 1998",
            facilitator=str(anne),
            activity_type="workshop",
        )
    )
    assert "Saved: the activity of" in page
    row = text_of(part(page, f'<tr id="row-{first.id}"', "</tr>"))
    assert "Workshop" in row and "Wenger 1998" in row and "Anne Tremblay" in row
    assert 'id="open-topics"' not in page  # the topic was given to that activity
    _series, after = stored(pages, series_id)
    assert (after[0].topic, after[0].facilitator_id, after[0].activity_type) == (
        "Wenger 1998",
        anne,
        "workshop",
    )
    assert (after[1].topic, after[1].facilitator_id, after[1].activity_type) == (
        "",
        None,
        second.activity_type,
    )
    with pages.database.session() as session:
        assert session.scalars(select(TopicProposal.meeting_id)).all() == [first.id]
    # Someone who is not a member cannot facilitate; what was typed stays.
    with pages.database.session() as session:
        membership = session.scalars(
            select(Membership).where(Membership.person_id == pages.ids["bob@example.org"])
        ).one()
        membership.state = "declined"
    refused = pages.post(
        f"/{series_id}/occurrences/{second.id}",
        topic="Communautés de pratique",
        facilitator=str(pages.ids["bob@example.org"]),
        activity_type="",
    )
    assert refused.status_code == 400
    shown = html.unescape(refused.get_data(as_text=True))
    assert (
        'value="Communautés de pratique"' in shown
        and f'id="facilitator-{second.id}-error"' in shown
    )


def test_a_past_activity_shows_its_answers_attendance_and_feedback(pages: Pages) -> None:
    series_id, _page = create(pages)
    _series, found = stored(pages, series_id)
    past = found[0]
    anne, bob, chloe = (pages.ids[f"{n}@example.org"] for n in ("anne", "bob", "chloe"))
    with pages.database.session() as session:
        meeting = session.get_one(Meeting, past.id)
        meeting.starts_at = meeting.recurrence_at = datetime.now(UTC) - timedelta(days=3)
        meeting.summary = "Nous avons lu Wenger."
        session.add_all(
            [
                Rsvp(
                    meeting_id=past.id,
                    person_id=anne,
                    status="accepted",
                    checked_in_at=datetime.now(UTC),
                ),
                Rsvp(meeting_id=past.id, person_id=bob, status="tentative"),
                Rsvp(meeting_id=past.id, person_id=chloe, status="declined"),
                ActivityFeedback(meeting_id=past.id, person_id=anne, usefulness=4),
                ActivityFeedback(meeting_id=past.id, person_id=bob, usefulness=5),
            ]
        )
    page = pages.get(f"/{series_id}")
    row = part(page, f'<tr id="row-{past.id}"', "</tr>")
    cells = [text_of(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
    assert cells[4:7] == [
        "1 yes, 1 maybe, 1 no",
        "1",
        "4.5 (2 answers) Summary Nous avons lu Wenger.",
    ]
    assert f'href="/communities/{pages.slug}/meetings/{past.id}/check-in"' in row
    # A past activity is no longer prepared; the coming ones are.
    assert f'id="occurrence-{past.id}"' not in page and f'id="occurrence-{found[1].id}"' in page
    assert text_of(part(page, f'<tr id="row-{found[1].id}"', "</tr>")).count("—") >= 3


def test_moving_and_cancelling_one_occurrence_leaves_the_others(pages: Pages) -> None:
    series_id, _page = create(pages)
    _series, before = stored(pages, series_id)
    moved, cancelled = before[1], before[2]
    new_day = moved.starts_at.astimezone(ZoneInfo(ZONE)).date() + timedelta(days=1)
    page = pages.follow(
        pages.post(f"/{series_id}/occurrences/{moved.id}/move", starts_at=f"{new_day}T17:30")
    )
    assert "The activity is moved to" in page
    assert "5:30 PM" in text_of(part(page, f'<tr id="row-{moved.id}"', "</tr>"))
    unconfirmed = pages.post(f"/{series_id}/occurrences/{cancelled.id}/cancel")
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in html.unescape(unconfirmed.get_data(as_text=True))
    page = pages.follow(pages.post(f"/{series_id}/occurrences/{cancelled.id}/cancel", confirm="y"))
    assert "is cancelled" in page
    assert "Cancelled" in text_of(part(page, f'<tr id="row-{cancelled.id}"', "</tr>"))
    assert 'data-state="moved"' in part(page, f'<tr id="row-{moved.id}"', ">")
    _series, after = stored(pages, series_id)
    local = datetime.combine(new_day, time(17, 30), ZoneInfo(ZONE)).astimezone(UTC)
    assert after[1].starts_at == local and after[1].recurrence_at == moved.starts_at
    assert after[2].state == "cancelled"
    others = [(m.id, m.starts_at, m.state) for m in after if m.id not in (moved.id, cancelled.id)]
    assert others == [
        (m.id, m.starts_at, "scheduled") for m in before if m.id not in (moved.id, cancelled.id)
    ]
    # A time the clocks skip is refused, naming it, and the typed time stays in the form.
    gap = pages.post(f"/{series_id}/occurrences/{before[3].id}/move", starts_at="2031-03-09T02:30")
    assert gap.status_code == 400
    refused = html.unescape(gap.get_data(as_text=True))
    assert "does not exist in America/Toronto" in refused
    assert 'value="2031-03-09T02:30"' in refused


def test_the_series_ics_holds_the_rule_and_its_exceptions(pages: Pages) -> None:
    series_id, _page = create(pages)
    _series, found = stored(pages, series_id)
    pages.follow(pages.post(f"/{series_id}/occurrences/{found[1].id}/cancel", confirm="y"))
    skipped_day = found[3].starts_at.astimezone(ZoneInfo(ZONE)).date()
    page = pages.follow(pages.post(f"/{series_id}/skip", day=str(skipped_day)))
    assert "the one planned is cancelled" in page
    assert str(skipped_day) in text_of(part(page, 'id="series-skipped">', "</dd>"))
    response = pages.client.get(f"{pages.base}/{series_id}/series.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    calendar = Calendar.from_ical(response.data)
    master = next(e for e in calendar.walk("VEVENT") if "RRULE" in e)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["INTERVAL"] == [2]
    assert master["RRULE"]["BYDAY"] == ["WE"]
    exdates = master.get("EXDATE")
    exdates = exdates if isinstance(exdates, list) else [exdates]
    excluded = {d.dt.astimezone(UTC) for x in exdates for d in x.dts}
    assert excluded == {found[1].starts_at, found[3].starts_at}
    assert "cop@example.org" in str(master["ORGANIZER"])
    # Ending the series: no more skipping or ending, the activities planned stay.
    page = pages.follow(pages.post(f"/{series_id}/end", confirm="y"))
    assert "This series is ended" in page and 'id="skip-title"' not in page
    assert text_of(part(page, 'id="series-state">', "</dd>")) == "Ended"


def test_another_coordinator_finds_nothing(pages: Pages, database: Database) -> None:
    series_id, _page = create(pages)
    _series, found = stored(pages, series_id)
    other = other_coordinator(database)
    pages.client.post("/logout", data={"csrf_token": csrf_token(pages.client, pages.base)})
    sign_in(pages.client, other)
    assert pages.client.get(f"{pages.base}/{series_id}").status_code == 404
    assert pages.client.get(f"{pages.base}/{series_id}/series.ics").status_code == 404
    theirs = f"/communities/other/activities/{series_id}"
    assert pages.client.get(theirs).status_code == 404
    token = csrf_token(pages.client, "/communities/other/activities")
    moved = pages.client.post(
        f"{theirs}/occurrences/{found[0].id}/cancel", data={"csrf_token": token, "confirm": "y"}
    )
    assert moved.status_code == 404
    _series, after = stored(pages, series_id)
    assert after[0].state == "scheduled"
