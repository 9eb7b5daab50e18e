"""The applicant's side (issue 5): arriving by a colleague's link, confirming, the application
saved as one goes and resumed from the emailed link, sent, and the answer to a selection."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from builders import tell_decision
from flask import Flask
from flask.testing import FlaskClient
from sink import Sink
from sqlalchemy import select
from web_helpers import csrf_token, running_app, seed

from webapp.config import Config
from webapp.db import Database
from webapp.models import Community, Membership, Person, Response
from webapp.services import applications, people, referrals

CONFIRM = re.compile(r"http://127\.0\.0\.1:5000(/c/confirm/[A-Za-z0-9_-]+)")
PERSONAL = re.compile(r"http://127\.0\.0\.1:5000(/r/[A-Za-z0-9_-]+)")
RESUME = re.compile(r'name="resume" value="([^"]+)"')
HALF = {
    "question_motivation": "Partager nos pratiques d’évaluation",
    "question_expertise": "Évaluation des apprentissages (expert)",
    "question_skills": ["facilitation", "writing"],
}
REST = {
    "question_expertise_level": "expert",
    "question_hours_per_month": "6",
    "question_participation_level": "core",
    "question_organization": "UQAR",
}


@pytest.fixture
def app(config: Config, smtp_sink: Sink, database: Database) -> Iterator[Flask]:
    seed(database)
    with running_app(config.with_overrides(smtp_url=smtp_sink.url)) as running:
        yield running


def decide_and_tell(app: Flask, database: Database, email: str, decision: str) -> None:
    member = state_of(database, email)
    with database.session() as session:
        applications.decide(session, member.community_id, member.person_id, decision, actor="t")
        session.commit()
    config = app.extensions["amorce"].config
    tell_decision(database, config, member.community_id, decision)


def state_of(database: Database, email: str) -> Membership:
    with database.session() as session:
        return session.scalars(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == email)
        ).one()


def referral_code_of(database: Database, email: str) -> str:
    with database.session() as session:
        member = state_of(database, email)
        code = referrals.referral_code(session, member.community_id, member.person_id)
        session.commit()
        return code


def sign_up(client: FlaskClient, sink: Sink, email: str, ref: str = "") -> str:
    """Say "I'm interested" (by ``ref``), confirm from the email; the application link mailed."""
    page = client.get(f"/c/cop-test?ref={ref}" if ref else "/c/cop-test")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(client, "/c/cop-test"),
        "email": email,
        "first_name": "Nora",
        "language": "fr",
        "consent": "y",
        "ref": ref,
    }
    assert client.post("/c/cop-test", data=data).status_code == 303
    (confirmation,) = sink.to(email)
    link = CONFIRM.search(confirmation.get_body(("plain",)).get_content())
    assert link
    confirmed = client.post(link.group(1), data={"csrf_token": csrf_token(client, link.group(1))})
    assert confirmed.status_code == 200
    assert "Remplir ma candidature" in html.unescape(confirmed.get_data(as_text=True))
    mails = sink.to(email)
    assert len(mails) == 2
    personal = PERSONAL.search(mails[1].get_body(("plain",)).get_content())
    assert personal, mails[1].get_body(("plain",)).get_content()
    return personal.group(1)


def resume_of(client: FlaskClient) -> str:
    page = client.get("/respond/application")
    assert page.status_code == 200
    found = RESUME.search(page.get_data(as_text=True))
    assert found
    return found.group(1)


def apply_fully(client: FlaskClient, sink: Sink) -> str:
    """Nora signs up and sends a complete application; the page's ``resume`` proof."""
    sign_up(client, sink, "nora@example.org")
    resume = resume_of(client)
    sent = {"resume": resume, "action": "send", **HALF, **REST}
    assert client.post("/respond/application", data=sent).status_code == 303
    return resume


def test_a_colleague_brought_by_a_referral_link_is_attributed(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    """anne (seeded, made interested) shares her link; nora comes through it."""
    with database.session() as session:
        anne = state_of(database, "anne@example.org")
        session.get(Membership, anne.id).state = "interested"  # type: ignore[union-attr]
        session.commit()
    code = referral_code_of(database, "anne@example.org")
    client = app.test_client()
    page = client.get(f"/c/cop-test?ref={code}").get_data(as_text=True)
    assert "Anne vous invite" in html.unescape(page)
    sign_up(client, smtp_sink, "nora@example.org", ref=code)
    nora = state_of(database, "nora@example.org")
    assert (nora.source, nora.referred_by_id, nora.state) == (
        "referral",
        anne.person_id,
        "interested",
    )
    # The people list says who brought whom.
    with database.session() as session:
        rows = {r.email: r for r in people.list_people(session, nora.community_id)}
    assert rows["nora@example.org"].referred_by == "anne@example.org"
    assert rows["anne@example.org"].referrals == 1
    # A code of another community, or made up, counts for nothing.
    other = app.test_client()
    assert "vous invite" not in other.get("/c/cop-test?ref=made-up").get_data(as_text=True)
    sign_up(other, smtp_sink, "lea@example.org", ref="made-up")
    assert state_of(database, "lea@example.org").source == "self"


def test_the_application_is_saved_as_one_goes_and_resumed_from_the_email(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    client = app.test_client()
    link = sign_up(client, smtp_sink, "nora@example.org")
    resume = resume_of(client)
    saved = client.post("/respond/application/autosave", data={"resume": resume, **HALF})
    assert saved.status_code == 200 and saved.json["saved"]  # type: ignore[index]
    assert state_of(database, "nora@example.org").state == "interested"  # a draft is not sent
    # The next day, on another device: the emailed link opens the draft.
    other = app.test_client()
    opened = other.get(link)
    assert opened.status_code == 303
    page = html.unescape(other.get("/respond", follow_redirects=True).get_data(as_text=True))
    assert "Bon retour" in page and "Partager nos pratiques d’évaluation" in page
    assert '<input checked id="question_skills-0"' in page
    # Sending with a required answer missing: refused, everything kept, and still saved.
    resume = resume_of(other)
    refused = other.post("/respond/application", data={"resume": resume, "action": "send", **HALF})
    assert refused.status_code == 400
    assert "Partager nos pratiques" in html.unescape(refused.get_data(as_text=True))
    assert state_of(database, "nora@example.org").state == "interested"
    sent = other.post(
        "/respond/application", data={"resume": resume, "action": "send", **HALF, **REST}
    )
    assert sent.status_code == 303
    assert state_of(database, "nora@example.org").state == "applicant"
    assert "Merci, votre candidature est envoyée" in html.unescape(
        other.get(sent.headers["Location"]).get_data(as_text=True)
    )
    with database.session() as session:
        (response,) = session.scalars(select(Response).where(Response.complete.is_(True)))
        assert response.answers["hours_per_month"] == 6
        assert response.answers["skills"] == ["facilitation", "writing"]
        community_id = state_of(database, "nora@example.org").community_id
        ranked = applications.applicants(session, community_id)
        assert [a.email for a in ranked] == ["nora@example.org"]
    # Once sent, autosave no longer changes it behind the person's back.
    late = other.post("/respond/application/autosave", data={"resume": resume, **HALF})
    assert late.status_code == 409


def test_nothing_typed_is_lost_when_the_session_expires(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    client = app.test_client()
    sign_up(client, smtp_sink, "nora@example.org")
    resume = resume_of(client)
    # The session cookie is gone (expired, cleared): the page's own proof still saves.
    fresh = app.test_client()
    saved = fresh.post("/respond/application", data={"resume": resume, "action": "save", **HALF})
    assert saved.status_code == 303
    page = html.unescape(fresh.get("/respond/application").get_data(as_text=True))
    assert "Partager nos pratiques d’évaluation" in page
    # Without that proof, another site cannot write into someone's application.
    forged = app.test_client().post(
        "/respond/application/autosave", data={"resume": resume + "x", **HALF}
    )
    assert forged.status_code == 403


def test_a_selected_person_confirms_and_becomes_a_member(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    client = app.test_client()
    apply_fully(client, smtp_sink)
    nora = state_of(database, "nora@example.org")
    with database.session() as session:
        applications.decide(session, nora.community_id, nora.person_id, "selected", actor="t")
        session.commit()
    # Until the decision is told, it is the coordinators' own: the application is under review.
    review = html.unescape(client.get("/respond", follow_redirects=True).get_data(as_text=True))
    assert "en cours d’examen" in review and "Vous êtes retenu" not in review
    token = csrf_token(client, "/respond/withdraw")
    assert client.post("/respond/status/confirm", data={"csrf_token": token}).status_code == 303
    assert state_of(database, "nora@example.org").state == "selected"  # not confirmed: not told
    tell_decision(database, app.extensions["amorce"].config, nora.community_id, "selected")
    status = html.unescape(client.get("/respond", follow_redirects=True).get_data(as_text=True))
    assert "Vous êtes retenu" in status
    token = csrf_token(client, "/respond/status")
    joined = client.post("/respond/status/confirm", data={"csrf_token": token})
    assert joined.status_code == 303
    assert state_of(database, "nora@example.org").state == "member"
    page = html.unescape(client.get("/respond/status").get_data(as_text=True))
    assert "Vous êtes membre" in page and "?ref=" in page  # and a link to bring colleagues


def test_a_waitlisted_person_can_step_aside(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    client = app.test_client()
    apply_fully(client, smtp_sink)
    decide_and_tell(app, database, "nora@example.org", "waitlisted")
    assert "liste d’attente" in html.unescape(client.get("/respond/status").get_data(as_text=True))
    token = csrf_token(client, "/respond/withdraw")
    done = client.post("/respond/withdraw", data={"csrf_token": token})
    assert done.status_code == 200
    assert state_of(database, "nora@example.org").state == "not_interested"


def test_a_stale_tab_a_foreign_site_and_closed_applications_are_refused_with_nothing_lost(
    app: Flask, database: Database, smtp_sink: Sink
) -> None:
    client = app.test_client()
    resume = apply_fully(client, smtp_sink)
    sent = {"resume": resume, "action": "send", **HALF, **REST}
    # A tab left open before sending: its "save for later" saves nothing, and says so.
    stale = client.post("/respond/application", data={"resume": resume, "action": "save", **HALF})
    page = html.unescape(stale.get_data(as_text=True))
    assert stale.status_code == 409 and "déjà envoyée" in page
    assert "Partager nos pratiques d’évaluation" in page  # what was typed stays on the page
    # A page of another site cannot post into it, even with the proof.
    foreign = app.test_client().post(
        "/respond/application/autosave",
        data={"resume": resume, **HALF},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert foreign.status_code == 403
    # Applications closed: the application is shown, not editable, and a send is refused.
    nora = state_of(database, "nora@example.org")
    with database.session() as session:
        session.get(Community, nora.community_id).stage = "founding"  # type: ignore[union-attr]
        session.commit()
    closed = html.unescape(client.get("/respond/application").get_data(as_text=True))
    assert "en cours d’examen" in closed and "disabled" in closed
    assert client.post("/respond/application", data=sent).status_code == 409
    # Withdrawn: out of the ranking.
    token = csrf_token(client, "/respond/withdraw")
    assert client.post("/respond/withdraw", data={"csrf_token": token}).status_code == 200
    with database.session() as session:
        assert applications.applicants(session, nora.community_id) == []
    assert state_of(database, "nora@example.org").state == "not_interested"
