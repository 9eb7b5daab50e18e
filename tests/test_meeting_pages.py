"""The coordinator's founding-meeting pages (issue 6): a poll of three slots built in the page,
a refused slot that keeps what was typed, the heat map of three members' answers with the
recommended slot and its reasons, the meeting set from it, moved, cancelled and its emails
prepared, the agenda and reminders, the check-in; CSRF on every change, and another coordinator
finds nothing (W5, W9)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from web_helpers import csrf_token, other_coordinator, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    Campaign,
    Meeting,
    Membership,
    Person,
    Poll,
    PollRole,
    PollSlot,
    Rsvp,
)
from webapp.services import meetings, poll_answers, poll_slots, poll_zones

ZONE = "America/Toronto"
TODAY = date.today()
DAYS = [TODAY + timedelta(days=n) for n in (40, 41, 42)]


@dataclass
class Pages:
    """A community whose three people form the founding group, its coordinator signed in."""

    client: FlaskClient
    database: Database
    slug: str
    community_id: int
    ids: dict[str, int]

    @property
    def base(self) -> str:
        return f"/communities/{self.slug}/meetings"

    def get(self, path: str = "", client: FlaskClient | None = None) -> str:
        response = (client or self.client).get(self.base + path)
        assert response.status_code == 200, path
        return html.unescape(response.get_data(as_text=True))

    def post(self, path: str, client: FlaskClient | None = None, **data: Any) -> Any:
        who = client or self.client
        token = csrf_token(who, self.base)
        return who.post(self.base + path, data={"csrf_token": token, **data})

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
        states = {"anne@example.org": "member", "bob@example.org": "selected"}
        for membership in session.scalars(select(Membership)):
            person = session.get_one(Person, membership.person_id)
            membership.state = states.get(person.email, "member")
    with running_app(config) as app:
        client = app.test_client()
        sign_in(client, seeded.user_email)
        client.get("/?lang=en")
        yield Pages(client, database, seeded.slug, seeded.community_id, ids)


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def part(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def new_poll(pages: Pages) -> int:
    created = pages.post(
        "/polls/new",
        title="Quand nous rencontrer ?",
        timezone=ZONE,
        deadline=f"{DAYS[0] - timedelta(days=10)}T17:00",
        note="Trois créneaux au pavillon Desjardins.",
    )
    assert created.status_code == 303, created.get_data(as_text=True)
    return int(created.headers["Location"].split("/polls/")[1].split("#")[0])


SLOTS = [
    {"day": str(DAYS[0]), "start": "09:30", "duration": "120", "place": "Salle 1234"},
    {"day": str(DAYS[1]), "start": "14:00", "duration": "90", "place": "Salle 1234"},
    {"day": str(DAYS[2]), "start": "", "duration": "180", "place": "Pavillon", "capacity": "2"},
]


def poll_with_slots(pages: Pages) -> tuple[int, list[int]]:
    poll_id = new_poll(pages)
    for slot in SLOTS:
        pages.follow(pages.post(f"/polls/{poll_id}/slots", **slot))
    with pages.database.session() as session:
        slot_ids = [s.id for s in poll_slots.slots_of(session, poll_id)]
    return poll_id, slot_ids


def answer(pages: Pages, poll_id: int, slot_ids: list[int]) -> None:
    """Anne (the facilitator) and Bob can come to the first slot, Chloé if need be."""
    anne, bob, chloe = (pages.ids[f"{n}@example.org"] for n in ("anne", "bob", "chloe"))
    first, second, third = slot_ids
    with pages.database.session() as session:
        poll_answers.answer(
            session,
            poll_id,
            anne,
            {first: "yes", second: "if_need_be", third: "no"},
            comment="Le matin me convient mieux.",
        )
        poll_answers.answer(session, poll_id, bob, {first: "yes", second: "no"})
        poll_answers.answer(
            session, poll_id, chloe, {first: "if_need_be", second: "yes", third: "yes"}
        )


def test_a_poll_of_three_slots_is_built_in_the_page(pages: Pages) -> None:
    assert "No poll yet." in pages.get()
    poll_id, slot_ids = poll_with_slots(pages)
    page = pages.get(f"/polls/{poll_id}")
    rows = [text_of(part(page, f'<tr id="slot-{sid}"', "</tr>")) for sid in slot_ids]
    assert "9:30 AM to 11:30 AM" in rows[0] and f"({ZONE})" in rows[0]
    assert "Salle 1234" in rows[0]
    assert "2:00 PM to 3:30 PM" in rows[1]
    assert "whole day" in rows[2] and "Pavillon" in rows[2] and " 2 " in f" {rows[2]} "
    with pages.database.session() as session:
        stored = session.scalars(select(PollSlot).order_by(PollSlot.position)).all()
        first = poll_zones.local_to_utc(datetime.combine(DAYS[0], time(9, 30)), ZONE)
        assert stored[0].starts_at == first
        assert stored[2].starts_at is None and stored[2].day == DAYS[2]
        assert stored[2].capacity == 2
        assert session.get_one(Poll, poll_id).timezone == ZONE
    index = pages.get()
    assert "Quand nous rencontrer ?" in index and "0 of 3 answered" in index


def test_a_refused_slot_keeps_what_was_typed(pages: Pages) -> None:
    poll_id = new_poll(pages)
    refused = pages.post(
        f"/polls/{poll_id}/slots",
        day=str(DAYS[0]),
        start="10:15",
        duration="5",
        place="Salle tapée",
        capacity="12",
    )
    assert refused.status_code == 400
    page = html.unescape(refused.get_data(as_text=True))
    assert 'value="Salle tapée"' in page and 'value="10:15"' in page and 'value="12"' in page
    assert 'id="duration-error"' in page and "From 15 minutes to 12 hours" in page
    past = pages.post(
        f"/polls/{poll_id}/slots", day=str(TODAY - timedelta(days=3)), start="", duration="60"
    )
    assert past.status_code == 400
    error = part(html.unescape(past.get_data(as_text=True)), 'id="day-error">', "</p>")
    assert "is already past" in error
    bad_poll = pages.post("/polls/new", title="", timezone="Mars/Olympus", note="gardée")
    assert bad_poll.status_code == 400
    shown = html.unescape(bad_poll.get_data(as_text=True))
    assert 'id="timezone-error"' in shown and 'value="Mars/Olympus"' in shown
    assert "gardée" in shown
    with pages.database.session() as session:
        assert session.scalars(select(PollSlot)).all() == []


def test_the_heat_map_shows_who_can_come_and_recommends_a_slot(pages: Pages) -> None:
    poll_id, slot_ids = poll_with_slots(pages)
    anne = pages.ids["anne@example.org"]
    pages.follow(
        pages.post(f"/polls/{poll_id}/roles", person=str(anne), role="facilitator", weight="3")
    )
    with pages.database.session() as session:
        assert session.scalars(select(PollRole.role)).all() == ["facilitator"]
    assert "Facilitator" in text_of(part(pages.get(f"/polls/{poll_id}"), 'id="roles"', "</table>"))
    answer(pages, poll_id, slot_ids)
    page = pages.get(f"/polls/{poll_id}/answers")
    first = part(page, f'<tr id="heat-{slot_ids[0]}" class="recommended"', "</tr>")
    cells = dict(re.findall(r'data-column="(\w+)">(.*?)</td>', first, re.S))
    assert text_of(cells["yes"]) == "2 Anne Tremblay Bob Smith"
    assert text_of(cells["if_need_be"]) == "1 Chloé Roy"
    assert text_of(cells["no"]) == "0" and text_of(cells["unanswered"]) == "0"
    assert "heat-yes level-3" in first and "level-0" in first
    assert "Recommended" in text_of(part(first, "<th", "</th>"))
    assert "4.5" in text_of(part(first, 'class="score"', "</td>"))
    second = part(page, f'<tr id="heat-{slot_ids[1]}"', "</tr>")
    assert "Recommended" not in second and "2.5" in second
    third = part(page, f'<tr id="heat-{slot_ids[2]}"', "</tr>")
    assert text_of(dict(re.findall(r'data-column="(\w+)">(.*?)</td>', third, re.S))["unanswered"])
    reasons = text_of(part(page, 'id="reasons">', "</ul>"))
    assert "2 can come, 1 if need be, 0 cannot." in reasons
    assert "Anne Tremblay, the facilitator, can come." in reasons
    assert "Le matin me convient mieux." in text_of(part(page, 'id="comments"', "</ul>"))
    choice = part(page, 'id="choose-title"', "</form>")
    assert re.search(
        rf'value="{slot_ids[0]}"[^>]*checked|checked[^>]*value="{slot_ids[0]}"', choice
    )


def test_confirming_a_slot_sets_the_meeting_and_closes_the_poll(pages: Pages) -> None:
    poll_id, slot_ids = poll_with_slots(pages)
    answer(pages, poll_id, slot_ids)
    whole_day = pages.post(
        f"/polls/{poll_id}/confirm", slot=str(slot_ids[2]), title="Fondation", start=""
    )
    assert whole_day.status_code == 400
    refused = html.unescape(whole_day.get_data(as_text=True))
    assert 'id="start-error"' in refused and 'value="Fondation"' in refused
    shown = pages.follow(
        pages.post(
            f"/polls/{poll_id}/confirm", slot=str(slot_ids[0]), title="Rencontre de fondation"
        )
    )
    with pages.database.session() as session:
        meeting = session.scalars(select(Meeting)).one()
        slot = session.get_one(PollSlot, slot_ids[0])
        assert (meeting.starts_at, meeting.duration_minutes) == (slot.starts_at, 120)
        assert (meeting.place, meeting.poll_id, meeting.sequence) == ("Salle 1234", poll_id, 0)
        assert session.get_one(Poll, poll_id).state == "closed"
    when = text_of(part(shown, 'id="meeting-when">', "</dd>"))
    assert "9:30 AM" in when and f"({ZONE})" in when
    assert text_of(part(shown, 'id="send"', "</button>")).endswith("Send the invitation")
    assert "Closed" in pages.get(f"/polls/{poll_id}")


def schedule(pages: Pages) -> int:
    created = pages.post(
        "/new",
        title="Rencontre de fondation",
        day=str(DAYS[0]),
        start="09:00",
        timezone=ZONE,
        duration="150",
        place="Salle 1234",
        capacity="",
    )
    assert created.status_code == 303, created.get_data(as_text=True)
    return int(created.headers["Location"].rsplit("/", 1)[1].split("#")[0])


def test_a_meeting_moves_is_cancelled_and_its_emails_are_prepared(pages: Pages) -> None:
    meeting_id = schedule(pages)
    page = f"/{meeting_id}"
    moved = {
        "title": "Rencontre de fondation",
        "day": str(DAYS[1]),
        "start": "13:30",
        "timezone": ZONE,
        "duration": "150",
        "place": "Salle 1234",
        "capacity": "20",
    }
    refused = pages.post(f"{page}/change", **{**moved, "start": "", "place": "Salle 99"})
    assert refused.status_code == 400
    kept = html.unescape(refused.get_data(as_text=True))
    assert 'id="start-error"' in kept and 'value="Salle 99"' in kept
    shown = pages.follow(pages.post(f"{page}/change", **moved))
    assert "Send the update" in shown and "must hear of it" in shown
    with pages.database.session() as session:
        meeting = session.get_one(Meeting, meeting_id)
        assert meeting.sequence == 1 and meeting.capacity == 20
        assert meeting.starts_at == poll_zones.local_to_utc(
            datetime.combine(DAYS[1], time(13, 30)), ZONE
        )
    sent = pages.post(f"{page}/send")
    assert sent.status_code == 303
    campaign_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    assert pages.post(f"{page}/send").headers["Location"] == sent.headers["Location"]
    assert "Send the update · Rencontre de fondation" in pages.follow(sent)
    with pages.database.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.kind, campaign.meeting_id, campaign.state) == (
            "invitation",
            meeting_id,
            "draft",
        )
    assert "Cancel the meeting" in pages.get(f"{page}/cancel")
    with pages.database.session() as session:
        assert session.get_one(Meeting, meeting_id).state == "scheduled"
    cancelled = pages.follow(pages.post(f"{page}/cancel"))
    assert "This meeting is cancelled." in cancelled
    assert text_of(part(cancelled, 'id="send"', "</button>")).endswith("Send the cancellation")
    with pages.database.session() as session:
        meeting = session.get_one(Meeting, meeting_id)
        assert (meeting.state, meeting.sequence) == ("cancelled", 2)


def test_the_agenda_and_the_reminders_are_edited(pages: Pages) -> None:
    meeting_id = schedule(pages)
    page = pages.get(f"/{meeting_id}")
    assert "Introductions" in part(page, 'id="agenda_en"', "</textarea>")
    agenda = pages.post(
        f"/{meeting_id}/agenda",
        agenda_fr="Tour de table\nNos engagements\n\nProchains sujets",
        agenda_en="Round of introductions\n\n\nNext topics",
    )
    pages.follow(agenda)
    reminders = pages.post(f"/{meeting_id}/reminders", reminders=["1440"], other="30, 4320")
    pages.follow(reminders)
    with pages.database.session() as session:
        meeting = session.get_one(Meeting, meeting_id)
        assert meeting.agenda == [
            {"fr": "Tour de table", "en": "Round of introductions"},
            {"fr": "Nos engagements", "en": "Nos engagements"},
            {"fr": "Prochains sujets", "en": "Next topics"},
        ]
        assert meeting.reminder_minutes == [4320, 1440, 30]
        assert meeting.sequence == 0
    refused = pages.post(f"/{meeting_id}/reminders", reminders=["120"], other="trente")
    assert refused.status_code == 400
    assert 'value="trente"' in html.unescape(refused.get_data(as_text=True))
    too_many = pages.post(f"/{meeting_id}/reminders", reminders=["120"], other="1,2,3,4,5")
    assert too_many.status_code == 400
    assert "At most 5 reminders" in html.unescape(too_many.get_data(as_text=True))


def test_the_facilitator_checks_people_in(pages: Pages) -> None:
    meeting_id = schedule(pages)
    anne, bob = pages.ids["anne@example.org"], pages.ids["bob@example.org"]
    with pages.database.session() as session:
        meetings.answer(session, meeting_id, bob, "accepted", source="email")
    page = pages.get(f"/{meeting_id}/check-in")
    assert "0 present out of 3" in page
    marked = pages.follow(pages.post(f"/{meeting_id}/check-in", person=str(anne), present="yes"))
    assert "1 present out of 3" in marked
    assert 'class="present"' in part(marked, f'id="person-{anne}"', "</li>")
    with pages.database.session() as session:
        rsvp = session.scalars(select(Rsvp).where(Rsvp.person_id == anne)).one()
        assert rsvp.checked_in_at is not None
    shown = pages.get(f"/{meeting_id}")
    row = text_of(part(shown, f'id="invitee-{bob}"', "</tr>"))
    assert "Coming (via an email reply)" in row
    assert "yes" in text_of(part(shown, f'id="invitee-{anne}"', "</tr>"))
    assert "Coming: 1" in text_of(part(shown, 'id="rsvp-counts"', "</ul>"))
    listed = text_of(part(pages.get(), f'id="meeting-{meeting_id}"', "</tr>"))
    assert f"9:00 AM ({ZONE})" in listed and "Coming: 1" in listed and "Not answered: 2" in listed
    unmarked = pages.follow(pages.post(f"/{meeting_id}/check-in", person=str(anne), present="no"))
    assert "0 present out of 3" in unmarked
    assert pages.post(f"/{meeting_id}/check-in", person="999999", present="yes").status_code == 404


def test_asking_the_founding_group_prepares_one_availability_campaign(pages: Pages) -> None:
    poll_id, _slots = poll_with_slots(pages)
    asked = pages.post(f"/polls/{poll_id}/ask")
    assert asked.status_code == 303
    assert f"/communities/{pages.slug}/campaigns/" in asked.headers["Location"]
    assert pages.post(f"/polls/{poll_id}/ask").headers["Location"] == asked.headers["Location"]
    assert "Quand nous rencontrer ?" in pages.follow(asked)
    with pages.database.session() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (campaign.kind, campaign.poll_id, campaign.state) == (
            "availability",
            poll_id,
            "draft",
        )
    closed = pages.follow(pages.post(f"/polls/{poll_id}/close"))
    assert text_of(part(closed, 'id="poll-state">', "</dd>")) == "Closed"
    reopened = pages.follow(pages.post(f"/polls/{poll_id}/reopen"))
    assert text_of(part(reopened, 'id="poll-state">', "</dd>")) == "Open"


def test_changes_need_csrf_and_another_coordinator_finds_nothing(
    pages: Pages, database: Database
) -> None:
    poll_id, slot_ids = poll_with_slots(pages)
    meeting_id = schedule(pages)
    posts = {
        "/polls/new": {"title": "x", "timezone": ZONE},
        f"/polls/{poll_id}/slots": SLOTS[0],
        f"/polls/{poll_id}/slots/{slot_ids[0]}/remove": {},
        f"/polls/{poll_id}/roles": {"person": "1", "role": "sponsor", "weight": "2"},
        f"/polls/{poll_id}/deadline": {"deadline": ""},
        f"/polls/{poll_id}/close": {},
        f"/polls/{poll_id}/ask": {},
        f"/polls/{poll_id}/confirm": {"slot": str(slot_ids[0]), "title": "x"},
        "/new": {"title": "x"},
        f"/{meeting_id}/change": {"title": "x"},
        f"/{meeting_id}/agenda": {"agenda_fr": "x"},
        f"/{meeting_id}/reminders": {"reminders": "120"},
        f"/{meeting_id}/cancel": {},
        f"/{meeting_id}/send": {},
        f"/{meeting_id}/check-in": {"person": "1", "present": "yes"},
    }
    for path, data in posts.items():
        assert pages.client.post(pages.base + path, data=data).status_code == 400, path
    with database.session() as session:
        assert session.scalars(select(Campaign)).all() == []
        assert session.get_one(Poll, poll_id).state == "open"
        assert session.get_one(Meeting, meeting_id).state == "scheduled"
    email = other_coordinator(database)
    other = pages.client.application.test_client()
    sign_in(other, email)
    if True:
        gets = ["", "/polls/new", f"/polls/{poll_id}", f"/polls/{poll_id}/answers", "/new"]
        gets += [f"/{meeting_id}", f"/{meeting_id}/cancel", f"/{meeting_id}/check-in"]
        for path in gets:
            assert other.get(pages.base + path).status_code == 404, path
        token = csrf_token(other, "/communities/other")
        for path, data in posts.items():
            response = other.post(pages.base + path, data={"csrf_token": token, **data})
            assert response.status_code == 404, path
        # Their own community does not reach this one's poll or meeting either.
        mine = "/communities/other/meetings"
        assert other.get(mine).status_code == 200
        assert other.get(f"{mine}/polls/{poll_id}").status_code == 404
        assert other.get(f"{mine}/{meeting_id}").status_code == 404
        response = other.post(f"{mine}/{meeting_id}/send", data={"csrf_token": token})
        assert response.status_code == 404
    with database.session() as session:
        assert session.scalars(select(Campaign)).all() == []
        assert session.get_one(Meeting, meeting_id).state == "scheduled"
