"""The charter's statements (issue 7): twelve members answer the charter questionnaire in
French; their answers become statements (duplicates merged and counted once), they vote, and the
draft has the six sections built from the statements that reached the threshold. The
coordinators reword, merge, split, add and remove statements; member text never becomes markup."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from web_helpers import csrf_token, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import Community, Membership, Person, Statement, StatementSupport
from webapp.services import charter_draft, charters, imports, statements, tokens

# What each of twelve members wrote, per section (some leave a section blank).
ANSWERS = [
    {
        "nature": "Une communauté de pratique ouverte.\nUn réseau d’entraide entre collègues.",
        "purpose": "Partager nos pratiques. Rompre l’isolement des conseillers.",
        "members": "Des conseillers pédagogiques des universités.",
        "objectives": "Documenter les pratiques efficaces.",
        "domain": "La pédagogie numérique.",
        "governance": "Les décisions se prennent par consensus.",
    },
    {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager les bonnes pratiques",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus\nL’animation tourne chaque année",
    },
    {
        "nature": "Communauté de pratique ouverte",
        "purpose": "Le partage de pratiques entre membres",
        "members": "Des conseillers pédagogiques des universités et des cégeps",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "L’animation tourne chaque année",
    },
    {
        "nature": "Un réseau d’entraide entre collègues",
        "purpose": "Rompre l’isolement des conseillers",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Organiser une journée d’étude par an",
        "domain": "L’évaluation des apprentissages",
        "governance": "Les décisions se prennent par consensus",
    },
    {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager nos pratiques",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par vote à la majorité",
    },
    {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager nos pratiques",
        "objectives": "Organiser une journée d’étude par an",
        "domain": "L’évaluation des apprentissages",
        "governance": "Les décisions se prennent par consensus",
    },
    {
        "nature": "Un réseau d’entraide entre collègues",
        "purpose": "Rompre l’isolement des conseillers",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "L’animation tourne chaque année",
    },
    {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager nos pratiques",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus",
    },
    {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Rompre l’isolement des conseillers",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Organiser une journée d’étude par an",
        "domain": "L’évaluation des apprentissages",
        "governance": "Les décisions se prennent par consensus",
    },
    {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager nos pratiques",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "L’animation tourne chaque année",
    },
    {
        "nature": "Un réseau d’entraide entre collègues",
        "purpose": "Partager nos pratiques",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus",
    },
    {
        "nature": "<script>alert('x')</script> Une **communauté** [libre](javascript:alert(1))",
        "purpose": "Partager nos pratiques",
        "members": "Des conseillers pédagogiques des universités",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus",
    },
]
SECTIONS = ("nature", "purpose", "members", "objectives", "domain", "governance")
HEADINGS = (
    "## Nature",
    "## Raison d’être",
    "## Qui nous sommes",
    "## Objectifs",
    "## Domaine d’intérêt et de pratique",
    "## Gouvernance",
)


@pytest.fixture
def app(config: Config, database: Database) -> Iterator[Flask]:
    seeded = seed(database)
    rows = "\n".join(f"m{n}@example.org,Membre{n},fr" for n in range(len(ANSWERS)))
    with database.session() as session:
        imports.import_people(
            session,
            seeded.community_id,
            f"email,first_name,language\n{rows}\n",
            source="network",
            consent="express",
        )
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        session.commit()
    with running_app(config) as running:
        client = running.test_client()
        sign_in(client, seeded.user_email)
        client.get("/?lang=en")
        running.config["COORDINATOR"] = client
        running.config["SLUG"] = seeded.slug
        running.config["COMMUNITY"] = seeded.community_id
        yield running


def member_ids(database: Database) -> list[int]:
    with database.session() as session:
        return [
            session.scalars(select(Person.id).where(Person.email == f"m{n}@example.org")).one()
            for n in range(len(ANSWERS))
        ]


def answer_all(database: Database, community_id: int) -> list[int]:
    ids = member_ids(database)
    with database.session() as session:
        for person_id, answers in zip(ids, ANSWERS, strict=True):
            charters.save_answers(session, community_id, person_id, answers, complete=True)
        session.commit()
    return ids


def member_browser(app: Flask, database: Database, person_id: int) -> FlaskClient:
    """A member's browser on the charter page, opened by their personal link."""
    with database.session() as session:
        token = tokens.issue_token(
            session,
            person_id=person_id,
            community_id=app.config["COMMUNITY"],
            purpose="respond",
            lifetime_days=30,
        )
        session.commit()
    client = app.test_client()
    assert client.get(f"/r/{token}").status_code in (302, 303)
    return client


def test_twelve_members_answers_become_the_six_sections_of_the_draft(
    app: Flask, database: Database
) -> None:
    community_id = app.config["COMMUNITY"]
    ids = answer_all(database, community_id)
    with database.session() as session:
        drawn = statements.draw(session, community_id, actor="t")
        session.commit()
    assert drawn >= len(SECTIONS)
    with database.session() as session:
        found = statements.statements_of(session, community_id)
        by_text = {s.text: s for s in found}
        tallies = statements.tallies(session, community_id)
        # Duplicates merged: written by many, one statement, each writer counted once.
        ouverte = next(s for s in found if s.section == "nature" and "ouverte" in s.text)
        assert ouverte.text == "Une communauté de pratique ouverte"
        assert len(tallies[ouverte.id].supporters) == 8
        partager = next(s for s in found if s.section == "purpose" and "artag" in s.text)
        assert partager.text == "Partager nos pratiques"
        assert len(tallies[partager.id].supporters) == 9
        assert sum(1 for s in found if s.section == "purpose" and "artag" in s.text) == 1
        consensus = by_text["Les décisions se prennent par consensus"]
        majority = by_text["Les décisions se prennent par vote à la majorité"]
        assert consensus.id != majority.id
        # Every statement's wording is what members wrote.
        written = {wording for (wording,) in session.execute(select(StatementSupport.wording))}
        assert {s.text for s in found} <= written | {s.text for s in found if s.origin != "answers"}

    # Everyone agrees with the widely written statements, most disagree with the vote by
    # majority, and the isolated script passes.
    with database.session() as session:
        for voter in ids:
            choices = {}
            for statement in statements.statements_of(session, community_id):
                supported = len(tallies[statement.id].supporters)
                if statement.id == majority.id:
                    choices[statement.id] = "agree" if voter == ids[4] else "disagree"
                elif supported >= 2:
                    choices[statement.id] = "agree"
                else:
                    choices[statement.id] = "pass"
            statements.vote(session, community_id, voter, choices)
        session.commit()
    with database.session() as session:
        assert statements.close_vote(session, community_id, actor="t") > 0
        session.commit()
    with database.session() as session:
        community = session.get_one(Community, community_id)
        draft = charter_draft.draft(session, community_id)
        text = charter_draft.markdown(community, draft)
        charter = charters.charter_of(session, community_id)
        assert [s.key for s in draft][:6] == list(SECTIONS)
        positions = [text.index(heading + "\n") for heading in HEADINGS]
        assert positions == sorted(positions)
        for section in draft[:6]:
            assert section.statements, section.key
            for statement, tally in section.statements:
                assert tally.reached(charter)
                assert f"- {charter_draft.md(statement.text)}" in section.text
        assert text.count("Partager nos pratiques") == 1
        assert "majorité" not in text and "alert" not in text
        assert "Nous nous gouvernons ainsi :" in text


def test_members_vote_on_their_page_and_markup_stays_text(app: Flask, database: Database) -> None:
    community_id = app.config["COMMUNITY"]
    ids = answer_all(database, community_id)
    coordinator: FlaskClient = app.config["COORDINATOR"]
    base = f"/communities/{app.config['SLUG']}/charter"
    drawn = coordinator.post(
        f"{base}/draw", data={"csrf_token": csrf_token(coordinator, f"{base}/statements")}
    )
    assert drawn.status_code == 303
    shown = coordinator.get(f"{base}/statements").get_data(as_text=True)
    assert "<script>alert" not in shown and "&lt;script&gt;" in shown
    assert "8 members wrote it" in html.unescape(shown)

    member = member_browser(app, database, ids[11])
    member.get("/respond/charter?lang=en")
    page = member.get("/respond/charter").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    with database.session() as session:
        injected = session.scalars(select(Statement).where(Statement.text.contains("script"))).one()
        ouverte = session.scalars(
            select(Statement).where(Statement.text == "Une communauté de pratique ouverte")
        ).one()
    token = csrf_token(member, "/respond/charter")
    voted = member.post(
        "/respond/charter/votes",
        data={"csrf_token": token, f"vote-{ouverte.id}": "agree", f"vote-{injected.id}": "pass"},
    )
    assert voted.status_code == 303
    again = member.get("/respond/charter").get_data(as_text=True)
    assert re.search(rf'id="vote-{ouverte.id}-agree" value="agree" checked', again)
    member.post(
        "/respond/charter/votes",
        data={"csrf_token": token, f"vote-{ouverte.id}": "disagree"},
    )
    with database.session() as session:
        assert statements.votes_of(session, community_id, ids[11]) == {
            ouverte.id: "disagree",
            injected.id: "pass",
        }

    # The coordinator rewords the injected statement, merges, splits and adds: the draft
    # follows, markup stays text.
    token = csrf_token(coordinator, f"{base}/statements")
    reworded = coordinator.post(
        f"{base}/statements/{injected.id}/edit",
        data={"csrf_token": token, "text": "<b>Libre</b> et [ouverte](javascript:x)"},
    )
    assert reworded.status_code == 303
    added = coordinator.post(
        f"{base}/statements/add",
        data={"csrf_token": token, "section": "nature", "text": "Une communauté bilingue"},
    )
    assert added.status_code == 303
    empty = coordinator.post(
        f"{base}/statements/add", data={"csrf_token": token, "section": "nature", "text": " "}
    )
    assert "Write the statement." in html.unescape(
        coordinator.get(empty.headers["Location"]).get_data(as_text=True)
    )
    with database.session() as session:
        bilingue = session.scalars(
            select(Statement).where(Statement.text == "Une communauté bilingue")
        ).one()
    merged = coordinator.post(
        f"{base}/statements/merge",
        data={"csrf_token": token, "statement": [str(ouverte.id), str(bilingue.id)], "text": ""},
    )
    assert merged.status_code == 303
    with database.session() as session:
        assert session.get_one(Statement, bilingue.id).state == "merged"
        tallies = statements.tallies(session, community_id)
        assert len(tallies[ouverte.id].supporters) == 8
    split = coordinator.post(
        f"{base}/statements/{ouverte.id}/split",
        data={"csrf_token": token, "parts": "Une communauté de pratique\nUne communauté ouverte"},
    )
    assert split.status_code == 303
    with database.session() as session:
        parts = session.scalars(
            select(Statement).where(
                Statement.text.in_(("Une communauté de pratique", "Une communauté ouverte"))
            )
        ).all()
        assert len(parts) == 2
        tallies = statements.tallies(session, community_id)
        assert all(len(tallies[p.id].supporters) == 8 for p in parts)
        # Everyone agrees with the reworded statement: it joins the draft, as text.
        for voter in ids:
            statements.vote(session, community_id, voter, {injected.id: "agree"})
        session.commit()
    page = coordinator.get(f"{base}/statements").get_data(as_text=True)
    draft_part = page.split('id="draft-title"', 1)[1]
    assert "&lt;b&gt;Libre&lt;/b&gt;" in draft_part and "<b>Libre" not in draft_part
    assert 'href="javascript' not in page

    # A section written by hand: Markdown allowed, scripts and handlers not.
    token = csrf_token(coordinator, f"{base}/statements")
    coordinator.post(
        f"{base}/sections/nature/text",
        data={
            "csrf_token": token,
            "text": "Nous sommes **ouverts**.\n\n<img src=x onerror=alert(1)>",
            "action": "save",
        },
    )
    page = coordinator.get(f"{base}/statements").get_data(as_text=True)
    assert "<strong>ouverts</strong>" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
