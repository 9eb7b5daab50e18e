"""After the founding meeting (issue 6): the coordinator writes the commitments agreed there and
sends the follow-up; each member gets thanks (or the news, if they missed it), the commitments to
confirm and the link to the charter questionnaire, which they answer as they go; reminders stop
for those who answered."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select
from web_helpers import csrf_token, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import Campaign, Community, Membership, Person, Response
from webapp.services import campaigns, meetings
from workers.campaigns import drain_with

LINK = re.compile(r"http://127\.0\.0\.1:5000(/r/[A-Za-z0-9_-]+)")
RESUME = re.compile(r'name="resume" value="([^"]+)"')
COMMITMENTS = "Venir à quatre rencontres par an\n- Partager une pratique par trimestre"


@pytest.fixture
def app(config: Config, smtp_sink: Sink, database: Database) -> Iterator[Flask]:
    seeded = seed(database)
    with database.session() as session:
        states = {"anne@example.org": "member", "bob@example.org": "member"}
        for membership in session.scalars(select(Membership)):
            person = session.get_one(Person, membership.person_id)
            membership.state = states.get(person.email, "selected")
        meeting_id = meetings.schedule(
            session,
            seeded.community_id,
            meetings.MeetingData(
                title="Rencontre de fondation",
                starts_at=datetime.now(UTC) - timedelta(days=1),
                duration_minutes=120,
                timezone="America/Toronto",
                place="Salle 1234",
            ),
            actor="t",
        )
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
        for email in ("anne@example.org", "bob@example.org"):
            meetings.check_in(session, meeting_id, ids[email], present=True)
        session.commit()
    with running_app(config.with_overrides(smtp_url=smtp_sink.url)) as running:
        running.config["MEETING_ID"] = meeting_id
        running.config["SLUG"] = seeded.slug
        client = running.test_client()
        sign_in(client, seeded.user_email)
        client.get("/?lang=en")
        running.config["COORDINATOR"] = client
        yield running


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def send_all(app: Flask, database: Database, campaign_id: int) -> None:
    config = app.extensions["amorce"].config
    while drain_with(config, database, campaign_id):
        pass


def follow_up(app: Flask, database: Database) -> int:
    """The coordinator writes the commitments and prepares the follow-up; its campaign id."""
    coordinator: FlaskClient = app.config["COORDINATOR"]
    path = f"/communities/{app.config['SLUG']}/charter/follow-up/{app.config['MEETING_ID']}"
    shown = page(coordinator, path)
    assert "2 people were checked in" in shown
    empty = coordinator.post(path, data={"csrf_token": csrf_token(coordinator, path)})
    assert empty.status_code == 400
    prepared = coordinator.post(
        path, data={"csrf_token": csrf_token(coordinator, path), "commitments": COMMITMENTS}
    )
    assert prepared.status_code == 303
    campaign_id = int(prepared.headers["Location"].rsplit("/", 1)[1])
    with database.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.kind, campaign.meeting_id) == ("charter", app.config["MEETING_ID"])
        assert session.get_one(Community, campaign.community_id).commitment == COMMITMENTS
        campaigns.set_policy(
            session, campaign_id, campaigns.SendingPolicy(reminder_count=1, reminder_gap_days=3)
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    send_all(app, database, campaign_id)
    return campaign_id


def respondent(app: Flask, sink: Sink, email: str) -> FlaskClient:
    """A member's browser, opened on the link of their follow-up email."""
    client = app.test_client()
    match = LINK.search(sink.to(email)[-1].get_body(("plain",)).get_content())
    assert match
    opened = client.get(match.group(1))
    assert opened.status_code in (302, 303)
    assert client.get("/respond").headers["Location"].endswith("/respond/charter")
    return client


def test_the_follow_up_thanks_asks_to_confirm_and_opens_the_charter_questionnaire(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    campaign_id = follow_up(app, database)
    bob = smtp_sink.to("bob@example.org")[-1]  # English, came
    chloe = smtp_sink.to("chloe@example.org")[-1]  # French by the community, missed it
    bob_text = bob.get_body(("plain",)).get_content()
    assert bob["Subject"] == "Thank you for the founding meeting of “CoP Pédagogie”"
    assert "Thank you for coming to the meeting of" in bob_text
    assert "  - Venir à quatre rencontres par an" in bob_text
    assert "  - Partager une pratique par trimestre" in bob_text
    assert "<li>Partager une pratique par trimestre</li>" in bob.get_body(("html",)).get_content()
    chloe_text = chloe.get_body(("plain",)).get_content()
    assert "Vous nous avez manqué à la rencontre du" in chloe_text
    assert "Merci d’être venu" not in chloe_text and "  - Venir à quatre" in chloe_text

    # Chloé, selected but not yet confirmed, accepts the commitments: she is a member now.
    client = respondent(app, smtp_sink, "chloe@example.org")
    client.get("/respond/charter?lang=en")
    shown = page(client, "/respond/charter")
    assert "Venir à quatre rencontres par an" in shown and "Nature" not in shown.split("<h2")[0]
    confirmed = client.post(
        "/respond/charter/commitments",
        data={"csrf_token": csrf_token(client, "/respond/charter")},
    )
    assert confirmed.status_code == 303
    assert "You confirmed these commitments on" in page(client, "/respond/charter")
    with database.session() as session:
        membership = session.scalars(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "chloe@example.org")
        ).one()
        assert membership.state == "member" and membership.commitments_confirmed_at

    # Her answers are kept as she types, and sent once she is done.
    resume = RESUME.search(page(client, "/respond/charter"))
    assert resume
    saved = client.post(
        "/respond/charter/autosave",
        data={"resume": resume.group(1), "question_purpose": "Partager nos pratiques"},
    )
    assert saved.get_json()["saved"] is True
    assert "Partager nos pratiques" in page(client, "/respond/charter")
    blank = {f"question_{key}": " " for key in ("nature", "purpose", "members", "objectives")}
    nothing = client.post(
        "/respond/charter", data={"resume": resume.group(1), "action": "send", **blank}
    )
    assert nothing.status_code == 400
    assert "Answer at least one question" in nothing.get_data(as_text=True)
    sent = client.post(
        "/respond/charter",
        data={
            "resume": resume.group(1),
            "action": "send",
            "question_purpose": "Partager nos pratiques\nApprendre des collègues",
            "question_governance": "Les décisions se prennent par consensus",
        },
    )
    assert sent.status_code == 303
    with database.session() as session:
        answers = session.scalars(select(Response).where(Response.complete.is_(True))).one()
        assert answers.answers["governance"] == "Les décisions se prennent par consensus"

    # The reminder three days later reaches Anne and Bob, who have not answered; not Chloé.
    before = {e: len(smtp_sink.to(e)) for e in ("anne@example.org", "bob@example.org")}
    with time_machine.travel(datetime.now(UTC) + timedelta(days=4), tick=False):
        send_all(app, database, campaign_id)
    assert len(smtp_sink.to("chloe@example.org")) == 1
    for email, count in before.items():
        assert len(smtp_sink.to(email)) == count + 1
        assert smtp_sink.to(email)[-1]["Subject"].startswith(("Reminder:", "Rappel"))


def test_the_follow_up_waits_for_the_meeting_and_keeps_what_was_typed(
    app: Flask, database: Database
) -> None:
    coordinator: FlaskClient = app.config["COORDINATOR"]
    slug = app.config["SLUG"]
    with database.session() as session:
        community_id = session.scalars(select(Community.id)).one()
        later = meetings.schedule(
            session,
            community_id,
            meetings.MeetingData(
                title="Plus tard",
                starts_at=datetime.now(UTC) + timedelta(days=5),
                duration_minutes=60,
                timezone="America/Toronto",
            ),
            actor="t",
        )
        session.commit()
    path = f"/communities/{slug}/charter/follow-up/{later}"
    assert "The follow-up goes once the meeting has taken place." in page(coordinator, path)
    refused = coordinator.post(
        path, data={"csrf_token": csrf_token(coordinator, path), "commitments": "Être là"}
    )
    assert refused.status_code == 400 and "Être là" in refused.get_data(as_text=True)
    with database.session() as session:
        assert session.scalars(select(Campaign)).all() == []
    assert coordinator.get(f"/communities/{slug}/charter/follow-up/999999").status_code == 404
