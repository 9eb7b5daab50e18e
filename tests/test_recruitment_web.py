"""The recruitment flow through the web pages: a coordinator launches, a prospect answers."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select, update
from web_helpers import Seeded, csrf_token, seed, sign_in

from webapp import create_app
from webapp.config import Config
from webapp.db import Database
from webapp.models import Campaign, Delivery, Membership, Person, Token, utcnow
from webapp.services import suppressions
from workers.campaigns import drain_with

LINK = re.compile(r"http://127\.0\.0\.1:5000/r/([A-Za-z0-9_-]+)")


@pytest.fixture
def app(config: Config, smtp_sink: Sink) -> Iterator[Flask]:
    application = create_app(
        config.with_overrides(
            smtp_url=smtp_sink.url, broker_url="memory://", reply_domain="reply.example.org"
        )
    )
    yield application
    application.extensions["amorce"].database.dispose()


@pytest.fixture
def seeded(database: Database) -> Seeded:
    return seed(database)


def launch(client: FlaskClient, seeded: Seeded) -> int:
    """Create and launch the default recruitment campaign through the pages."""
    sign_in(client, seeded.user_email)
    token = csrf_token(client, f"/communities/{seeded.slug}")
    created = client.post(f"/communities/{seeded.slug}/campaigns/new", data={"csrf_token": token})
    campaign_id = int(created.headers["Location"].split("/")[-2])
    page = f"/communities/{seeded.slug}/campaigns/{campaign_id}"
    launched = client.post(f"{page}/launch", data={"csrf_token": csrf_token(client, page)})
    assert launched.status_code == 302
    return campaign_id


def send_all(app: Flask, campaign_id: int) -> None:
    state = app.extensions["amorce"]
    while drain_with(state.config, state.database, campaign_id, state.renderer):
        pass


def token_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = LINK.search(body.get_content())
    assert match, "no personal link in the text part"
    return match.group(1)


def test_campaign_reaches_each_prospect_once_in_their_language(
    app: Flask, seeded: Seeded, smtp_sink: Sink, database: Database
) -> None:
    client = app.test_client()
    campaign_id = launch(client, seeded)
    send_all(app, campaign_id)

    assert sorted(r for e in smtp_sink.envelopes for r in e.rcpt_tos) == [
        "anne@example.org",
        "bob@example.org",
        "chloe@example.org",
    ]
    for message in smtp_sink.messages:
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = str(message["List-Unsubscribe"])
        assert "http://127.0.0.1:5000/u/" in unsubscribe and "mailto:unsubscribe+" in unsubscribe
        assert str(message["Reply-To"]).startswith("reply+")
        for part in ("plain", "html"):
            content = html.unescape(message.get_body((part,)).get_content())  # type: ignore[union-attr]
            assert "Université Test" in content and "1 rue de l'Université" in content
            assert "Partager vos pratiques" in content
    bob = smtp_sink.to("bob@example.org")[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    anne = smtp_sink.to("anne@example.org")[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert str(smtp_sink.to("anne@example.org")[0]["Subject"]) == (
        "Rejoignez la communauté « CoP Pédagogie »"
    )
    assert (
        str(smtp_sink.to("bob@example.org")[0]["Subject"]) == "Join the community “CoP Pédagogie”"
    )
    assert "Hello Bob" in bob and "Unsubscribe" in bob
    assert "Bonjour Anne" in anne and "désabonner" in anne.lower()
    with database.session() as session:
        states = set(session.scalars(select(Membership.state)))
    assert states == {"invited"}
    status = client.get(f"/communities/{seeded.slug}/campaigns/{campaign_id}/status.json").json
    assert status is not None and status["counts"]["sent"] == 3


def test_launching_twice_is_one_run(app: Flask, seeded: Seeded, database: Database) -> None:
    client = app.test_client()
    campaign_id = launch(client, seeded)
    page = f"/communities/{seeded.slug}/campaigns/{campaign_id}"
    client.post(f"{page}/launch", data={"csrf_token": csrf_token(client, page)})
    with database.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id)).all()
    assert len(rows) == 3


def test_prospect_answers_through_the_link(
    app: Flask, seeded: Seeded, smtp_sink: Sink, database: Database
) -> None:
    send_all(app, launch(app.test_client(), seeded))
    token = token_of(smtp_sink.to("anne@example.org")[0])
    prospect = app.test_client()

    first = prospect.get(f"/r/{token}")
    assert first.status_code == 303 and first.headers["Location"] == "/respond"
    page = prospect.get("/respond").get_data(as_text=True)
    assert token not in page
    assert "Partager vos pratiques" in page and 'name="question_interest_level"' in page

    # A missing required answer keeps what was typed.
    form_token = csrf_token(prospect, "/respond")
    kept = prospect.post(
        "/respond",
        data={
            "csrf_token": form_token,
            "question_expertise": "Classes inversées",
        },
    )
    assert kept.status_code == 400
    assert "Classes inversées" in kept.get_data(as_text=True)

    done = prospect.post(
        "/respond",
        data={
            "csrf_token": form_token,
            "question_interest_level": "high",
            "question_participation_level": "core",
            "question_expertise": "Classes inversées",
            "question_consent_contact": "y",
        },
    )
    assert done.status_code == 303
    assert prospect.get(done.headers["Location"]).status_code == 200
    with database.session() as session:
        membership = session.scalar(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "anne@example.org")
        )
        assert membership is not None
        assert (membership.state, membership.participation_level) == ("interested", "core")
    again = prospect.get("/respond").get_data(as_text=True)
    assert "Classes inversées" in again


def test_answer_kept_when_the_session_token_expired(
    app: Flask, seeded: Seeded, smtp_sink: Sink
) -> None:
    send_all(app, launch(app.test_client(), seeded))
    prospect = app.test_client()
    prospect.get(f"/r/{token_of(smtp_sink.to('bob@example.org')[0])}")
    answer = prospect.post(
        "/respond",
        data={
            "csrf_token": "stale",
            "question_interest_level": "medium",
            "question_participation_level": "active",
            "question_comment": "Combien d'heures ?",
        },
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Combien d&#39;heures ?" in page or "Combien d'heures ?" in page
    assert re.search(r'<input checked[^>]*value="medium"', page)


def test_one_click_unsubscribe_without_cookie(
    app: Flask, seeded: Seeded, smtp_sink: Sink, database: Database
) -> None:
    send_all(app, launch(app.test_client(), seeded))
    message = smtp_sink.to("chloe@example.org")[0]
    url = re.search(r"<(http[^>]+)>", str(message["List-Unsubscribe"])).group(1)  # type: ignore[union-attr]
    path = url.replace("http://127.0.0.1:5000", "")
    anonymous = app.test_client(use_cookies=False)
    for body in ({"List-Unsubscribe": "One-Click"},):
        response = anonymous.post(path, data=body)
        assert response.status_code == 200
        assert "Location" not in response.headers
    multipart = anonymous.post(
        path, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
    )
    assert multipart.status_code == 200
    with database.session() as session:
        assert suppressions.is_suppressed(session, seeded.community_id, "chloe@example.org")


def test_get_on_every_link_changes_nothing(
    app: Flask, seeded: Seeded, smtp_sink: Sink, database: Database
) -> None:
    send_all(app, launch(app.test_client(), seeded))

    def snapshot() -> list[tuple[str, str]]:
        with database.session() as session:
            return sorted(
                session.execute(
                    select(Person.email, Membership.state).join(
                        Membership, Membership.person_id == Person.id
                    )
                )
            )

    before = snapshot()
    links = set()
    for message in smtp_sink.messages:
        for part in ("plain", "html"):
            content = message.get_body((part,)).get_content()  # type: ignore[union-attr]
            links.update(re.findall(r"http://127\.0\.0\.1:5000/[^\s\"<>]+", content))
    assert links
    for _ in range(3):
        for link in links:
            scanner = app.test_client()
            response = scanner.get(link.replace("http://127.0.0.1:5000", ""))
            if response.status_code == 303:
                scanner.get(response.headers["Location"])
    assert snapshot() == before
    with database.session() as session:
        assert not any(
            suppressions.is_suppressed(session, seeded.community_id, email) for email, _ in before
        )


def test_bad_links_get_identical_answers(
    app: Flask, seeded: Seeded, smtp_sink: Sink, database: Database
) -> None:
    send_all(app, launch(app.test_client(), seeded))
    expired = token_of(smtp_sink.to("anne@example.org")[0])
    revoked = token_of(smtp_sink.to("bob@example.org")[0])
    with database.session() as session:
        person_ids = dict(session.execute(select(Person.email, Person.id)).all())
        session.execute(
            update(Token)
            .where(Token.person_id == person_ids["anne@example.org"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.execute(
            update(Token)
            .where(Token.person_id == person_ids["bob@example.org"])
            .values(revoked_at=utcnow())
        )
    answers = []
    for token in ("A" * 32, expired, revoked):
        response = app.test_client().get(f"/r/{token}", headers={"Accept-Language": "fr"})
        answers.append(
            (response.status_code, response.get_data(), response.headers.get("Set-Cookie"))
        )
    assert answers[0][0] == 404
    assert answers[0] == answers[1] == answers[2]


def test_coordinators_see_only_their_communities(
    app: Flask, seeded: Seeded, database: Database
) -> None:
    other = seed(database, email="other@example.org", slug="other-cop")
    client = app.test_client()
    campaign_id = launch(client, seeded)
    intruder = app.test_client()
    sign_in(intruder, other.user_email)
    for path in (
        f"/communities/{seeded.slug}",
        f"/communities/{seeded.slug}/edit",
        f"/communities/{seeded.slug}/people/",
        f"/communities/{seeded.slug}/people/export.csv",
        f"/communities/{seeded.slug}/campaigns/{campaign_id}",
        f"/communities/{seeded.slug}/campaigns/{campaign_id}/status.json",
        f"/communities/{other.slug}/campaigns/{campaign_id}",
    ):
        assert intruder.get(path).status_code == 404, path
    assert "CoP" in intruder.get("/").get_data(as_text=True)
    assert seeded.slug not in intruder.get("/").get_data(as_text=True)


def test_post_without_csrf_is_refused_and_headers_are_safe(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    assert client.post("/login", data={"email": "x", "password": "y"}).status_code == 400
    sign_in(client, seeded.user_email)
    refused = client.post(f"/communities/{seeded.slug}/campaigns/new")
    assert refused.status_code == 400
    page = client.get(f"/communities/{seeded.slug}")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    cookie = client.get_cookie("amorce_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_people_export_lists_states_and_sources(
    app: Flask, seeded: Seeded, database: Database
) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    csv_text = client.get(f"/communities/{seeded.slug}/people/export.csv").get_data(as_text=True)
    header, *rows = csv_text.lstrip("\ufeff").strip().splitlines()
    assert header.split(",")[:3] == ["email", "first_name", "last_name"]
    for column in ("source", "state", "suppressed", "consent"):
        assert column in header.split(",")
    assert len(rows) == 3 and all(",network,prospect," in row for row in rows)
    with database.session() as session:
        assert session.scalar(select(Campaign.id)) is None


def test_preview_for_any_recipient_and_test_send_to_self(
    app: Flask, seeded: Seeded, smtp_sink: Sink, database: Database
) -> None:
    client = app.test_client()
    sign_in(client, seeded.user_email)
    token = csrf_token(client, f"/communities/{seeded.slug}")
    created = client.post(f"/communities/{seeded.slug}/campaigns/new", data={"csrf_token": token})
    page = created.headers["Location"].removesuffix("/edit")
    with database.session() as session:
        bob = session.scalar(select(Person.id).where(Person.email == "bob@example.org"))
    english = client.get(f"{page}/preview.txt?person={bob}").get_data(as_text=True)
    assert "Hello Bob" in english and "Join the community" in english
    french = client.get(f"{page}/preview.txt?person={bob}&lang=fr").get_data(as_text=True)
    assert "Bonjour Bob" in french and "Rejoignez la communauté" in french
    frame = client.get(f"{page}/preview.html")
    assert "script-src" not in frame.headers["Content-Security-Policy"]
    assert client.get(f"{page}/preview.txt?person=999999").status_code == 404
    assert smtp_sink.envelopes == []

    state = app.extensions["amorce"]
    from webapp.mail import SmtpConnection
    from webapp.services.messages import send_test

    campaign_id = int(page.rsplit("/", 1)[1])
    with database.session() as session, SmtpConnection(state.config.smtp_url) as connection:
        send_test(
            session,
            state.config,
            state.renderer,
            connection,
            campaign_id,
            email=seeded.user_email,
            name="Coord",
            locale="fr",
        )
    sent = smtp_sink.to(seeded.user_email)
    assert len(sent) == 1 and str(sent[0]["Subject"]).startswith("[TEST] Rejoignez")


def test_campaign_counts_who_answered(app: Flask, seeded: Seeded, smtp_sink: Sink) -> None:
    coordinator = app.test_client()
    campaign_id = launch(coordinator, seeded)
    send_all(app, campaign_id)
    prospect = app.test_client()
    prospect.get(f"/r/{token_of(smtp_sink.to('bob@example.org')[0])}")
    prospect.post("/respond/not-now", data={"csrf_token": csrf_token(prospect, "/respond")})
    status = coordinator.get(f"/communities/{seeded.slug}/campaigns/{campaign_id}/status.json")
    assert status.json is not None
    assert status.json["counts"]["answered"] == 1 and status.json["counts"]["sent"] == 3
    page = coordinator.get(f"/communities/{seeded.slug}/campaigns/{campaign_id}")
    assert 'data-count="answered">1<' in page.get_data(as_text=True)
