"""The availability poll from the member's side (issue 6): the emailed link opens the slots in the
member's own time zone, written out; answers are saved and changed until the deadline; a refused
send keeps every choice."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from builders import community_with_people
from flask import Flask
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select
from web_helpers import csrf_token, running_app

from webapp.config import Config
from webapp.db import Database
from webapp.models import Membership, Person
from webapp.services import campaigns, poll_answers, poll_slots, polls
from workers.campaigns import drain_with

PEOPLE = """email,first_name,language,timezone
marie@example.org,Marie,fr,America/Toronto
bob@example.org,Bob,en,America/Vancouver
chloe@example.org,Chloé,fr,Europe/Paris
"""
LINK = re.compile(r"http://127\.0\.0\.1:5000(/r/[A-Za-z0-9_-]+)")
NOW = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(config: Config, smtp_sink: Sink) -> Iterator[Flask]:
    with (
        time_machine.travel(NOW, tick=True),
        running_app(config.with_overrides(smtp_url=smtp_sink.url)) as running,
    ):
        yield running


def open_poll(database: Database, config: Config) -> tuple[int, dict[str, int]]:
    """Three members in three zones, a poll written in Toronto with a timed and a whole-day
    slot, and the availability campaign sent."""
    with database.session() as session:
        community_id = community_with_people(session, PEOPLE)
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        poll_id = polls.create_poll(
            session,
            community_id,
            title="Rencontre de fondation",
            timezone="America/Toronto",
            deadline_at=datetime(2030, 2, 1, 17, 0, tzinfo=UTC),
            actor="t",
        )
        timed = poll_slots.add_slot(
            session,
            poll_id,
            start_local=datetime(2030, 2, 5, 9, 0),
            duration_minutes=120,
            actor="t",
        )
        whole = poll_slots.add_slot(
            session, poll_id, day=date(2030, 2, 7), duration_minutes=480, actor="t"
        )
        campaign_id = campaigns.create_campaign(
            session, community_id, kind="availability", poll_id=poll_id
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(config, database, campaign_id):
        pass
    return poll_id, {"timed": timed, "whole": whole}


def opened(app: Flask, sink: Sink, email: str) -> FlaskClient:
    client = app.test_client()
    (message,) = sink.to(email)
    link = LINK.search(message.get_body(("plain",)).get_content())
    assert link
    assert client.get(link.group(1)).status_code == 303
    return client


def page_of(client: FlaskClient) -> str:
    return html.unescape(client.get("/respond", follow_redirects=True).get_data(as_text=True))


def test_each_member_reads_the_slots_in_their_own_zone_and_answers(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    config = app.extensions["amorce"].config
    poll_id, slots = open_poll(database, config)
    bob = opened(app, smtp_sink, "bob@example.org")
    page = page_of(bob)
    assert "America/Vancouver" in page and "6:00" in page  # 9:00 in Toronto
    assert "Thursday, February 7, 2030" in page  # a whole day never shifts
    chloe = opened(app, smtp_sink, "chloe@example.org")
    assert "15:00" in page_of(chloe) and "Europe/Paris" in page_of(chloe)
    token = csrf_token(bob, "/respond/poll")
    saved = bob.post(
        "/respond/poll",
        data={
            "csrf_token": token,
            f"slot_{slots['timed']}": "yes",
            f"slot_{slots['whole']}": "if_need_be",
            "comment": "Vancouver, so early!",
        },
    )
    assert saved.status_code == 303
    with database.session() as session:
        bob_id = session.scalars(select(Person.id).where(Person.email == "bob@example.org")).one()
        assert {
            k: str(v) for k, v in poll_answers.answers_of(session, poll_id, bob_id).items()
        } == {
            slots["timed"]: "yes",
            slots["whole"]: "if_need_be",
        }
    again = page_of(bob)
    assert (
        f'id="slot-{slots["timed"]}-yes" name="slot_{slots["timed"]}" value="yes" checked' in again
    )
    assert "Vancouver, so early!" in again


def test_after_the_deadline_the_answers_are_kept_and_shown_read_only(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    config = app.extensions["amorce"].config
    _, slots = open_poll(database, config)
    marie = opened(app, smtp_sink, "marie@example.org")
    token = csrf_token(marie, "/respond/poll")
    with time_machine.travel(datetime(2030, 2, 2, tzinfo=UTC)):
        late = marie.post(
            "/respond/poll", data={"csrf_token": token, f"slot_{slots['timed']}": "no"}
        )
        page = html.unescape(late.get_data(as_text=True))
        assert late.status_code == 400
        assert 'value="no" checked' in page  # the choice is kept on the page
        assert "clos" in html.unescape(marie.get("/respond/poll").get_data(as_text=True))


def test_the_availability_reminder_goes_only_to_who_has_not_answered(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    config = app.extensions["amorce"].config
    with database.session() as session:
        community_id = community_with_people(session, PEOPLE)
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        poll_id = polls.create_poll(
            session, community_id, title="Fondation", timezone="America/Toronto", actor="t"
        )
        slot = poll_slots.add_slot(
            session, poll_id, start_local=datetime(2030, 2, 5, 9, 0), duration_minutes=60, actor="t"
        )
        campaign_id = campaigns.create_campaign(
            session,
            community_id,
            kind="availability",
            poll_id=poll_id,
            policy=campaigns.SendingPolicy(reminder_count=1, reminder_gap_days=2),
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(config, database, campaign_id):
        pass
    marie = opened(app, smtp_sink, "marie@example.org")
    token = csrf_token(marie, "/respond/poll")
    marie.post("/respond/poll", data={"csrf_token": token, f"slot_{slot}": "yes"})
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        while drain_with(config, database, campaign_id):
            pass
    counts = {e: len(smtp_sink.to(e)) for e in ("marie@example.org", "bob@example.org")}
    assert counts == {"marie@example.org": 1, "bob@example.org": 2}
