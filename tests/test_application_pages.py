"""The coordinator's applications pages (issue 5): a rubric of three criteria defined in the
page, reviewers' ratings, a ranking whose scores are exactly the rubric's, a suggestion under a
cap of one per organisation, decisions and a promotion; CSRF on every change, and another
coordinator finds nothing (W5, W9)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from statistics import mean
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from web_helpers import PASSWORD, csrf_token, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    AuditLog,
    CommunityCoordinator,
    Membership,
    Person,
    QuestionnaireKind,
    Response,
)
from webapp.services import applications, communities, users
from webapp.services.questionnaires import ensure_questionnaire

REVIEWER = "reviewer@example.org"
# The rubric the test defines in the page, and the answers of three applicants from two
# organisations (Anne and Bob at Université Laval, Chloé at UQAM).
POINTS = {"beginner": 1, "intermediate": 2, "expert": 4}
WEIGHTS = {"level": 2, "hours": 1, "expertise": 3}
HOURS = (0, 20)
ANSWERS = {
    "anne@example.org": {"expertise_level": "expert", "hours_per_month": 10},
    "bob@example.org": {"expertise_level": "intermediate", "hours_per_month": 30},
    "chloe@example.org": {"expertise_level": "beginner", "hours_per_month": 5},
}


def expected(email: str, ratings: list[int]) -> dict[str, Any]:
    """What the rubric makes of an applicant, from the formula of the scoring module."""
    answers = ANSWERS[email]
    values: dict[str, float | None] = {
        "level": POINTS[answers["expertise_level"]] / max(POINTS.values()),
        "hours": min(max((answers["hours_per_month"] - HOURS[0]) / (HOURS[1] - HOURS[0]), 0), 1),
        "expertise": mean(ratings) / 5 if ratings else None,
    }
    earned = sum(WEIGHTS[key] * (value or 0) for key, value in values.items())
    return {"score": round(100 * earned / sum(WEIGHTS.values()), 1), **values}


@dataclass
class Pages:
    """A community of three people, its coordinator and a second reviewer signed in."""

    client: FlaskClient
    reviewer: FlaskClient
    slug: str
    community_id: int
    ids: dict[str, int]

    def get(self, path: str = "", client: FlaskClient | None = None) -> str:
        response = (client or self.client).get(f"/communities/{self.slug}/applications{path}")
        assert response.status_code == 200, path
        return html.unescape(response.get_data(as_text=True))

    def post(self, path: str, client: FlaskClient | None = None, **data: Any) -> Any:
        who = client or self.client
        token = csrf_token(who, f"/communities/{self.slug}/applications")
        return who.post(
            f"/communities/{self.slug}/applications{path}", data={"csrf_token": token, **data}
        )

    def follow(self, response: Any, client: FlaskClient | None = None) -> str:
        assert response.status_code == 302, response.get_data(as_text=True)
        shown = (client or self.client).get(response.headers["Location"])
        return html.unescape(shown.get_data(as_text=True))


def signed_in(app: Any, email: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, email)
    client.get("/?lang=en")
    return client


@pytest.fixture
def pages(database: Database, config: Config) -> Iterator[Pages]:
    seeded = seed(database)
    with database.session() as session:
        reviewer_id = users.create_user(session, REVIEWER, PASSWORD)
        session.add(CommunityCoordinator(community_id=seeded.community_id, user_id=reviewer_id))
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
        session.get_one(Person, ids["bob@example.org"]).organization = "Université Laval"
    with running_app(config) as app:
        yield Pages(
            signed_in(app, seeded.user_email),
            signed_in(app, REVIEWER),
            seeded.slug,
            seeded.community_id,
            ids,
        )


def apply(database: Database, pages: Pages) -> None:
    """The three applications, stored as the questionnaire would store them."""
    with database.session() as session:
        questionnaire = ensure_questionnaire(
            session, pages.community_id, QuestionnaireKind.APPLICATION
        )
        for email, answers in ANSWERS.items():
            session.add(
                Response(
                    questionnaire_id=questionnaire.id,
                    person_id=pages.ids[email],
                    answers={"motivation": f"Motivation of {email}", **answers},
                    complete=True,
                )
            )
        session.query(Membership).filter(Membership.community_id == pages.community_id).update(
            {"state": "applicant"}
        )


def points_fields(rubric_page: str, question: str) -> dict[str, str]:
    """The name of the points box of each answer (by its English wording) of a question."""
    fieldset = rubric_page.split(f'id="points-{question}"')[1].split("</fieldset>")[0]
    return {
        label: name for name, label in re.findall(r'<label for="(\w+)">([^<]+)</label>', fieldset)
    }


def row(page: str, person_id: int) -> str:
    return page.split(f'<tr id="applicant-{person_id}"')[1].split("</tr>")[0]


def cell(row_html: str, key: str) -> str:
    found = row_html.split(f'data-criterion="{key}">')[1].split("</td>")[0]
    return " ".join(re.sub(r"<[^>]+>", " ", found).split())


def state_of(database: Database, person_id: int) -> str:
    with database.session() as session:
        return session.scalars(
            select(Membership.state).where(Membership.person_id == person_id)
        ).one()


def test_the_empty_states_lead_to_the_rubric(pages: Pages, database: Database) -> None:
    page = pages.get()
    assert "No rubric yet" in page and 'id="no-applicant"' in page
    assert f'href="/communities/{pages.slug}/applications/rubric"' in page
    community = pages.client.get(f"/communities/{pages.slug}").get_data(as_text=True)
    assert f'href="/communities/{pages.slug}/applications"' in community
    assert "Applications (0)" in community

    apply(database, pages)
    page = pages.get()
    assert "No rubric yet" in page and "3 applications waiting for a rubric" in page
    assert 'id="ranking"' not in page
    assert "Applications (3)" in pages.client.get(f"/communities/{pages.slug}").get_data(True)


def test_a_criterion_that_cannot_be_scored_is_refused_keeping_what_was_typed(
    pages: Pages, database: Database
) -> None:
    rubric = pages.get("/rubric")
    assert 'id="no-criterion"' in rubric
    assert set(points_fields(rubric, "expertise_level")) == {"Beginner", "Intermediate", "Expert"}
    assert 'id="points-skills"' in rubric  # a multiple choice can be scored too
    refused = pages.post(
        "/rubric",
        key="hours",
        label_fr="Heures par mois",
        label_en="Hours a month",
        weight="1",
        source="answer",
        question="hours_per_month",
        minimum="20",
        maximum="10",
    )
    assert refused.status_code == 200
    page = html.unescape(refused.get_data(as_text=True))
    assert 'id="criterion-refused"' in page and "a minimum and a greater maximum" in page
    for typed in ('value="hours"', 'value="Heures par mois"', 'value="20"', 'value="10"'):
        assert typed in page, typed
    assert '<option selected value="hours_per_month">' in page
    assert re.search(r'<input checked id="source-\d" name="source" [^>]*value="answer">', page)
    # So is a criterion from a choice whose points are all left empty, and a bad short name.
    empty = pages.post(
        "/rubric",
        key="level",
        label_fr="Niveau",
        weight="2",
        source="answer",
        question="expertise_level",
    )
    assert "Give the points of at least one answer." in html.unescape(empty.get_data(True))
    bad_key = html.unescape(
        pages.post(
            "/rubric", key="Niveau 2", label_en="Level", weight="1", source="rating"
        ).get_data(True)
    )
    assert "short name 'Niveau 2' must be lowercase" in bad_key and 'value="Level"' in bad_key
    with database.session() as session:
        assert applications.rubric(session, pages.community_id) == []


def test_a_rubric_ratings_a_ranking_a_suggestion_and_decisions(
    pages: Pages, database: Database
) -> None:
    apply(database, pages)
    level_boxes = points_fields(pages.get("/rubric"), "expertise_level")
    # The three criteria of the rubric.
    saved = pages.post(
        "/rubric",
        key="level",
        label_fr="Niveau d’expertise",
        label_en="Expertise level",
        weight=str(WEIGHTS["level"]),
        source="answer",
        question="expertise_level",
        **{level_boxes[name.title()]: str(points) for name, points in POINTS.items()},
    )
    assert "Criterion “level” saved." in pages.follow(saved)
    pages.post(
        "/rubric",
        key="hours",
        label_fr="Heures",
        label_en="Hours",
        weight=str(WEIGHTS["hours"]),
        source="answer",
        question="hours_per_month",
        minimum=str(HOURS[0]),
        maximum=str(HOURS[1]),
    )
    pages.post(
        "/rubric",
        key="expertise",
        label_fr="Expertise",
        label_en="Expertise",
        weight=str(WEIGHTS["expertise"]),
        source="rating",
        required="y",
    )
    with database.session() as session:
        criteria = {c.key: c for c in applications.rubric(session, pages.community_id)}
        assert [(c.key, c.weight, c.source, c.required) for c in criteria.values()] == [
            ("level", 2.0, "answer", False),
            ("hours", 1.0, "answer", False),
            ("expertise", 3.0, "rating", True),
        ]
        assert criteria["level"].scoring == {"points": {k: float(v) for k, v in POINTS.items()}}
        assert criteria["hours"].scoring == {"min": 0.0, "max": 20.0}
        expertise = criteria["expertise"].id
    rubric = pages.get("/rubric")
    assert "Expert: 4" in rubric and "0 or less is worth 0%, 20 or more is worth 100%" in rubric
    changing = pages.get("/rubric?key=level")
    assert "Change the criterion “level”" in changing
    assert f'name="{level_boxes["Expert"]}" step="any" type="number" value="4.0"' in changing

    # Two reviewers rate Anne and Bob through the applicant page; Chloé is not rated yet.
    anne, bob, chloe = (pages.ids[f"{n}@example.org"] for n in ("anne", "bob", "chloe"))
    ratings = {anne: [5, 2], bob: [4, 4], chloe: [3]}
    for person_id in (anne, bob):
        for client, score in zip((pages.client, pages.reviewer), ratings[person_id], strict=True):
            response = pages.post(
                f"/{person_id}/rating", client=client, **{f"rating_{expertise}": str(score)}
            )
            assert "Your ratings of" in pages.follow(response, client)
    page = pages.get("?per_organization=1")
    # Anne first; Bob, of the same organisation, is left out; Chloé misses a required rating.
    assert "1 suggested: Anne Tremblay." in page
    assert 'data-suggested="yes"' in row(page, anne) and "Suggested" in row(page, anne)
    assert 'data-suggested="no"' in row(page, bob) and "Suggested" not in row(page, bob)
    assert "Missing a required criterion" in row(page, chloe)
    assert "Missing a required criterion" not in row(page, anne)
    assert cell(row(page, chloe), "expertise") == "— no value 0 ratings"

    pages.post(f"/{chloe}/rating", **{f"rating_{expertise}": "3"})
    page = pages.get("?per_organization=1&size=")
    order = [int(found) for found in re.findall(r'<tr id="applicant-(\d+)"', page)]
    assert order == [anne, bob, chloe]
    for email, person_id in (("anne@example.org", anne), ("bob@example.org", bob)):
        want, shown = expected(email, ratings[person_id]), row(page, person_id)
        assert f'<td class="score">{want["score"]:.1f}</td>' in shown
        assert cell(shown, "level") == f"{round(100 * want['level'])}%"
        assert cell(shown, "hours") == f"{round(100 * want['hours'])}%"
        assert cell(shown, "expertise").startswith(f"{round(100 * want['expertise'])}% 2 ratings")
    assert expected("anne@example.org", [5, 2])["score"] == 76.7  # the formula, worked once
    assert "disagreement: 3 points" in cell(row(page, anne), "expertise")
    assert "disagreement" not in cell(row(page, bob), "expertise")
    chloe_score = expected("chloe@example.org", [3])["score"]
    assert f'<td class="score">{chloe_score:.1f}</td>' in row(page, chloe)
    assert "2 suggested: Anne Tremblay, Chloé Roy." in page
    assert re.findall(r'<tr id="applicant-(\d+)"[^>]*data-suggested="yes"', page) == [
        str(anne),
        str(chloe),
    ]
    with database.session() as session:
        ranked = applications.applicants(session, pages.community_id)
        assert applications.suggest(ranked, per_organization=1) == [anne, chloe]

    # Anne's page: her answers, her scores, each reviewer's rating, the coordinator's own.
    detail = pages.get(f"/{anne}")
    assert "Motivation of anne@example.org" in detail and "Expert" in detail
    assert "rank 1 of 3" in detail and "disagreement: 3 points" in detail
    reviewers = detail.split('id="ratings"')[1].split("</table>")[0]
    assert re.search(r"coord@example.org</th>\s*<td>5 / 5</td>", reviewers)
    assert re.search(r"reviewer@example.org</th>\s*<td>2 / 5</td>", reviewers)
    assert re.search(rf'<input checked id="rating_{expertise}-5" name="rating_{expertise}"', detail)

    # Decisions through the ranking: back to it with the caps it showed.
    selected = pages.post(
        f"/{anne}/decision", decision="selected", back="ranking", per_organization="1"
    )
    assert "per_organization=1" in selected.headers["Location"]
    shown = pages.follow(selected)
    assert "Anne Tremblay: Applicant → Selected." in shown
    again = pages.follow(pages.post(f"/{anne}/decision", decision="selected"))
    assert "Anne Tremblay is already selected: nothing changed." in again  # no second audit
    for person_id in (bob, chloe):
        pages.post(f"/{person_id}/decision", decision="waitlisted")
    assert [state_of(database, i) for i in (anne, bob, chloe)] == [
        "selected",
        "waitlisted",
        "waitlisted",
    ]
    declined = pages.follow(pages.post(f"/{anne}/decision", decision="declined"))
    assert "Anne Tremblay: Selected → Declined." in declined
    # The freed seat goes to the best-ranked of those waiting: Bob, not Chloé.
    promoted = pages.follow(pages.post("/promote"))
    assert "Bob Smith (bob@example.org) moves up from the waiting list: selected." in promoted
    assert state_of(database, bob) == "selected"
    pages.post(f"/{chloe}/decision", decision="declined")
    assert "Nobody is waiting: nothing changed." in pages.follow(pages.post("/promote"))
    with database.session() as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("app%")))
        assert sorted(actions) == sorted(
            ["application.selected"] * 2
            + ["application.waitlisted"] * 2
            + ["application.declined"] * 2
        )


def test_changes_need_csrf_and_another_coordinator_finds_nothing(
    pages: Pages, database: Database, config: Config
) -> None:
    apply(database, pages)
    pages.post("/rubric", key="merit", label_fr="Mérite", weight="1", source="rating")
    anne = pages.ids["anne@example.org"]
    mine, theirs = f"/communities/{pages.slug}/applications", "/communities/other/applications"
    no_token = pages.client.post(f"{mine}/{anne}/decision", data={"decision": "selected"})
    assert no_token.status_code == 400
    assert pages.client.post(f"{mine}/promote").status_code == 400
    assert state_of(database, anne) == "applicant"

    with database.session() as session:
        other_id = users.create_user(session, "other@example.org", PASSWORD)
        communities.create_community(
            session,
            communities.CommunityData(name="Other", slug="other", language="fr"),
            user_id=other_id,
        )
        merit = applications.rubric(session, pages.community_id)[0].id
    changes = {
        f"{mine}/{anne}/rating": {f"rating_{merit}": "5"},
        f"{mine}/{anne}/decision": {"decision": "selected"},
        f"{mine}/promote": {},
        f"{mine}/rubric": {"key": "x", "label_fr": "X", "weight": "1", "source": "rating"},
        # Anne's id under the other coordinator's own community.
        f"{theirs}/{anne}/rating": {f"rating_{merit}": "5"},
        f"{theirs}/{anne}/decision": {"decision": "selected"},
    }
    with running_app(config) as app:
        other = signed_in(app, "other@example.org")
        assert other.get(theirs).status_code == 200
        for path in (mine, f"{mine}/rubric", f"{mine}/{anne}", f"{theirs}/{anne}"):
            assert other.get(path).status_code == 404, path
        token = csrf_token(other, theirs)
        for path, data in changes.items():
            response = other.post(path, data={"csrf_token": token, **data})
            assert response.status_code == 404, path
    assert state_of(database, anne) == "applicant"
    with database.session() as session:
        assert [c.key for c in applications.rubric(session, pages.community_id)] == ["merit"]
        ranked = applications.applicants(session, pages.community_id)
        assert all(a.criteria["merit"].ratings == 0 for a in ranked)
