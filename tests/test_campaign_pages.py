"""The coordinator's campaign pages: kind and audience, sending policy, scheduled launch, cancel,
resend, live counts and the pause notice, in French and English."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from web_helpers import Seeded, csrf_token, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import Campaign, Delivery, DeliveryState, Membership, Person
from webapp.services import suppressions

TORONTO = ZoneInfo("America/Toronto")


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    with running_app(config) as application:
        yield application


@pytest.fixture
def seeded(database: Database) -> Seeded:
    """Three people, all members: an announcement reaches them by default."""
    result = seed(database)
    with database.session() as session:
        session.execute(update(Membership).values(state="member"))
    return result


@pytest.fixture
def client(app: Flask, seeded: Seeded) -> FlaskClient:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    return client


def text_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def in_english(client: FlaskClient, seeded: Seeded) -> None:
    """Choose English with the language switch; it sticks for the session."""
    assert "Campaigns" in text_of(client, f"/communities/{seeded.slug}?lang=en")


def local(moment: datetime) -> str:
    """What a datetime-local input sends for this moment in the community's zone."""
    return moment.astimezone(TORONTO).strftime("%Y-%m-%dT%H:%M")


def create_announcement(client: FlaskClient, seeded: Seeded, **fields: str) -> str:
    """Create an announcement through the "New campaign" page; its page's path."""
    new = f"/communities/{seeded.slug}/campaigns/new"
    data = {"csrf_token": csrf_token(client, new), "kind": "announcement", **fields}
    created = client.post(new, data=data)
    assert created.status_code == 302, created.get_data(as_text=True)
    assert created.headers["Location"].endswith("/edit")
    return created.headers["Location"].removesuffix("/edit")


def policy(page: str, client: FlaskClient, **fields: str) -> dict[str, str]:
    """A full sending form: no reminder, start at launch, unless told otherwise."""
    data = {
        "csrf_token": csrf_token(client, page),
        "start": "now",
        "scheduled_at": "",
        "reminder_count": "0",
        "reminder_gap_days": "3",
        "deadline_at": "",
        "quiet_start": "",
        "quiet_end": "",
        "unknown_policy": "resend",
    }
    return {**data, **fields}


def campaign_of(database: Database, page: str) -> Campaign:
    with database.session() as session:
        campaign = session.get(Campaign, int(page.rsplit("/", 1)[1]))
        assert campaign is not None
        session.expunge(campaign)
        return campaign


def deliveries(database: Database, page: str) -> list[Delivery]:
    with database.session() as session:
        rows = session.scalars(
            select(Delivery).where(Delivery.campaign_id == int(page.rsplit("/", 1)[1]))
        ).all()
        session.expunge_all()
        return list(rows)


def test_new_campaign_page_offers_the_supported_kinds_and_an_audience(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    in_english(client, seeded)
    page = text_of(client, f"/communities/{seeded.slug}/campaigns/new")
    assert 'value="recruitment"' in page and 'value="announcement"' in page
    assert 'value="charter"' not in page and 'value="invitation"' not in page
    assert "<legend>Kind of campaign" in page and "<legend>Audience" in page
    assert '<label for="audience">Who receives it</label>' in page

    members = create_announcement(client, seeded)
    campaign = campaign_of(database, members)
    assert (campaign.kind, campaign.audience_state, campaign.audience_filter) == (
        "announcement",
        "member",
        {},
    )
    assert "3 people will receive this message." in text_of(client, members)

    narrower = create_announcement(
        client, seeded, audience="member", responded="no", name="Not yet answered"
    )
    campaign = campaign_of(database, narrower)
    assert campaign.audience_filter == {"responded": {"interest": False}}
    assert campaign.name == "Not yet answered"
    assert "only those who have not answered the interest questionnaire" in text_of(
        client, narrower
    )

    new = f"/communities/{seeded.slug}/campaigns/new"
    refused = client.post(new, data={"csrf_token": csrf_token(client, new), "kind": "charter"})
    assert refused.status_code == 200
    assert "Kind of campaign" in refused.get_data(as_text=True)
    with database.session() as session:
        assert len(session.scalars(select(Campaign.id)).all()) == 2


def test_recruitment_stays_the_default_and_the_plan_names_who_is_left_out(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    with database.session() as session:
        session.execute(
            update(Membership).values(state="prospect")
        )  # the default recruitment audience
        suppressions.suppress(
            session,
            "chloe@example.org",
            community_id=seeded.community_id,
            reason="test",
            actor="test",
        )
    token = csrf_token(client, f"/communities/{seeded.slug}")
    created = client.post(f"/communities/{seeded.slug}/campaigns/new", data={"csrf_token": token})
    page = created.headers["Location"].removesuffix("/edit")
    assert campaign_of(database, page).audience_state == "prospect"
    french = text_of(client, page)
    assert "2 personnes recevront ce message." in french
    assert "chloe@example.org" in french and "liste d’exclusion" in french
    in_english(client, seeded)
    english = text_of(client, page)
    assert "Left out, on the suppression list (1)" in english
    assert "Starts as soon as you launch it. No reminder." in " ".join(english.split())


def test_a_bad_policy_names_the_fields_and_keeps_what_was_typed(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    in_english(client, seeded)
    page = create_announcement(client, seeded)
    past = local(datetime.now(UTC) - timedelta(days=1))
    response = client.post(
        f"{page}/sending",
        data=policy(
            page,
            client,
            reminder_count="2",
            deadline_at=past,
            quiet_start="21",
            unknown_policy="hold",
        ),
    )
    assert response.status_code == 200
    body = html.unescape(response.get_data(as_text=True))
    assert "Please correct the following:" in body
    assert '<a href="#deadline_at">Deadline (optional)</a>: must be in the future' in body
    assert '<a href="#quiet_end">Quiet until (hour)</a>: give both the start' in body
    assert f'value="{past}"' in body and 'name="quiet_start" type="number" value="21"' in body
    assert 'checked id="unknown_policy-1"' in body and 'name="reminder_count"' in body

    later_without_date = client.post(f"{page}/sending", data=policy(page, client, start="later"))
    assert later_without_date.status_code == 200
    assert "give the date and time of the start" in later_without_date.get_data(as_text=True)

    not_a_number = client.post(f"{page}/sending", data=policy(page, client, reminder_count="9"))
    assert not_a_number.status_code == 200
    assert "between 0 and 5" in not_a_number.get_data(as_text=True)

    campaign = campaign_of(database, page)
    assert (campaign.reminder_count, campaign.deadline_at, campaign.quiet_start) == (0, None, None)
    assert campaign.unknown_policy == "resend"


def test_a_good_policy_is_saved_and_summarised_in_both_languages(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    page = create_announcement(client, seeded)
    saved = client.post(
        f"{page}/sending",
        data=policy(
            page,
            client,
            start="later",
            scheduled_at="2030-03-01T09:00",
            reminder_count="2",
            reminder_gap_days="3",
            deadline_at="2030-03-20T17:00",
            quiet_start="21",
            quiet_end="8",
            unknown_policy="hold",
        ),
    )
    assert saved.status_code == 302
    campaign = campaign_of(database, page)
    assert campaign.scheduled_at == datetime(2030, 3, 1, 14, 0, tzinfo=UTC)  # 9:00 in Toronto
    assert campaign.deadline_at == datetime(2030, 3, 20, 21, 0, tzinfo=UTC)  # summer time
    assert (campaign.reminder_count, campaign.reminder_gap_days) == (2, 3)
    assert (campaign.quiet_start, campaign.quiet_end, campaign.unknown_policy) == (21, 8, "hold")

    french = " ".join(text_of(client, page).split())
    assert "Réglages d’envoi enregistrés." in french
    assert "Commence le vendredi 1 mars 2030 à 09:00." in french
    assert "Jusqu’à 2 rappels, à 3 jours d’intervalle" in french
    assert "48 heures avant" in french and "America/Toronto" in french
    assert 'value="2030-03-01T09:00"' in french  # the form shows the local time again

    in_english(client, seeded)
    english = " ".join(text_of(client, page).split())
    assert "Starts on Friday, March 1, 2030 at 9:00 AM." in english
    assert "Up to 2 reminders, 3 days apart, to those who have not answered yet." in english
    assert "None between 9:00 PM and 8:00 AM" in english
    assert "the last reminder goes 48 hours before it." in english
    assert "A message whose outcome is lost is held until you decide." in english
    assert "Schedule for 3 people" in english


def test_scheduled_launch_then_cancel_by_post_only(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    in_english(client, seeded)
    page = create_announcement(client, seeded)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    client.post(
        f"{page}/sending",
        data=policy(page, client, start="later", scheduled_at=local(start)),
    )
    # Following a link changes nothing: launching and cancelling are POST only.
    assert client.get(f"{page}/launch").status_code == 405
    assert client.get(f"{page}/cancel").status_code == 405
    assert client.get(f"{page}/sending").status_code == 405
    assert campaign_of(database, page).state == "draft"

    launched = client.post(f"{page}/launch", data={"csrf_token": csrf_token(client, page)})
    assert launched.status_code == 302
    rows = deliveries(database, page)
    assert len(rows) == 3 and {row.due_at for row in rows} == {start}
    body = " ".join(text_of(client, page).split())
    assert "Campaign scheduled: 3 messages will leave on" in body
    assert "Scheduled:</strong> sending starts on" in body
    status = client.get(f"{page}/status.json").json
    assert status is not None
    assert status["counts"]["waiting"] == 3 and status["counts"]["pending"] == 3

    unconfirmed = client.post(f"{page}/cancel", data={"csrf_token": csrf_token(client, page)})
    assert unconfirmed.status_code == 302
    assert campaign_of(database, page).state == "running"
    assert "Tick the box to confirm" in text_of(client, page)

    cancelled = client.post(
        f"{page}/cancel", data={"csrf_token": csrf_token(client, page), "confirm": "y"}
    )
    assert cancelled.status_code == 302
    assert {row.state for row in deliveries(database, page)} == {"cancelled"}
    body = text_of(client, page)
    assert "Campaign cancelled: 3 messages will not be sent." in body
    assert "This campaign was cancelled: nothing more will be sent." in body
    assert 'action="' + page + '/cancel"' not in body
    status = client.get(f"{page}/status.json").json
    assert status is not None and status["state"] == "cancelled"
    assert status["counts"]["cancelled"] == 3 and status["state_label"] == "Cancelled"


def test_status_json_counts_every_state_and_the_page_shows_them(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    page = create_announcement(client, seeded)
    client.post(f"{page}/launch", data={"csrf_token": csrf_token(client, page)})
    status = client.get(f"{page}/status.json").json
    assert status is not None
    expected = {state.value for state in DeliveryState} | {
        "total",
        "recipients",
        "waiting",
        "resent",
        "answered",
    }
    assert expected <= set(status["counts"])
    assert status["done"] == 0 and status["notice"] == "" and status["state"] == "running"
    body = text_of(client, page)
    for key in expected:
        assert f'data-count="{key}"' in body, key
    assert 'id="progress-bar"' in body and "progress.js" in body
    assert "Commencée le" in body  # the summary now speaks of the start in the past


def test_paused_after_errors_says_why_and_held_messages_can_be_sent_again(
    client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    page = create_announcement(client, seeded)
    client.post(f"{page}/launch", data={"csrf_token": csrf_token(client, page)})
    campaign_id = int(page.rsplit("/", 1)[1])
    with database.session() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(state="paused", paused_reason="errors", consecutive_errors=5)
        )
        anne = session.scalar(select(Person.id).where(Person.email == "anne@example.org"))
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id, Delivery.person_id == anne)
            .values(state="unknown", unknown_count=1)
        )

    french = text_of(client, page)
    assert "Mise en pause après 5 envois échoués d’affilée" in french
    in_english(client, seeded)
    english = text_of(client, page)
    notice = "Paused after 5 failed sends in a row: check the SMTP settings, then resume."
    assert notice in english
    assert "Resume sending" in english
    status = client.get(f"{page}/status.json").json
    assert status is not None and status["notice"] == notice
    assert status["paused_reason"] == "errors" and status["counts"]["unknown"] == 1
    assert "Send again the 1 message whose outcome was lost" in english

    again = client.post(f"{page}/resend", data={"csrf_token": csrf_token(client, page)})
    assert again.status_code == 302
    assert [row.state for row in deliveries(database, page)].count("unknown") == 0
    assert "1 message will be sent again." in text_of(client, page)


def test_another_coordinators_campaign_is_not_found(
    app: Flask, client: FlaskClient, seeded: Seeded, database: Database
) -> None:
    page = create_announcement(client, seeded)
    other = seed(database, email="other@example.org", slug="cop-other")
    intruder = app.test_client()
    sign_in(intruder, other.user_email)
    token = csrf_token(intruder, f"/communities/{other.slug}")
    campaign_id = page.rsplit("/", 1)[1]
    for path in (page, f"{page}/status.json", f"/communities/{seeded.slug}/campaigns/new"):
        assert intruder.get(path).status_code == 404, path
    assert intruder.get(f"/communities/{other.slug}/campaigns/{campaign_id}").status_code == 404
    for action in ("sending", "launch", "cancel", "resend", "pause"):
        response = intruder.post(f"{page}/{action}", data={"csrf_token": token, "confirm": "y"})
        assert response.status_code == 404, action
    assert campaign_of(database, page).state == "draft"
