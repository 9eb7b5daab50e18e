"""What the selected group covers and lacks (issue 5): people per answer of every choice
question with the answers nobody gives flagged in words, the organisations, the totals of number
answers; the same for a suggested group side by side; another coordinator finds nothing (W9)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from web_helpers import other_coordinator, running_app, seed, sign_in

from forms.questionnaires import default_definition
from webapp.config import Config
from webapp.db import Database
from webapp.models import Membership, Person, QuestionnaireKind, Response
from webapp.services import applications
from webapp.services.application_reports import ChoiceCount, coverage
from webapp.services.applications import CriterionData
from webapp.services.questionnaires import ensure_questionnaire

QUESTIONS = default_definition("application")["questions"]
SKILLS = ("facilitation", "writing", "research", "technology", "communication", "evaluation")


def counts(found: Any, question: str) -> dict[str, int]:
    choice = next(c for c in found.choices if c.question == question)
    return {c.value: c.count for c in choice.counts}


def missing(found: Any, question: str) -> list[str]:
    choice = next(c for c in found.choices if c.question == question)
    return [c.value for c in choice.missing]


def test_a_group_covers_the_answers_its_members_gave() -> None:
    answers = [
        {
            "skills": ["facilitation", "writing"],
            "expertise_level": "expert",
            "hours_per_month": 10,
            "participation_level": "core",
        },
        {
            "skills": ["writing", "juggling"],
            "expertise_level": "beginner",
            "hours_per_month": "8,0",
        },
        {},  # applied through another channel: answered nothing
    ]
    found = coverage(QUESTIONS, answers, ["Université Laval", " université  laval", ""], "en")
    assert found.size == 3
    assert counts(found, "skills") == {
        "facilitation": 1,
        "writing": 2,  # counted once per person who gave it
        "research": 0,
        "technology": 0,
        "communication": 0,
        "evaluation": 0,
        "juggling": 1,  # no longer offered: counted, never "missing"
    }
    assert missing(found, "skills") == ["research", "technology", "communication", "evaluation"]
    skills = next(c for c in found.choices if c.question == "skills")
    assert skills.unanswered == 1 and skills.several
    assert ChoiceCount("juggling", "juggling", 1, offered=False) in skills.counts
    assert missing(found, "expertise_level") == ["intermediate"]
    assert missing(found, "participation_level") == ["active", "peripheral"]
    assert [c.question for c in found.choices] == [
        "expertise_level",
        "skills",
        "participation_level",
    ]
    (hours,) = found.numbers
    assert (hours.question, hours.answered, hours.total, hours.mean) == (
        "hours_per_month",
        2,
        18.0,
        9.0,
    )
    assert hours.label == "How many hours a month can you give?"
    assert [(o.name, o.count) for o in found.organizations] == [("Université Laval", 2)]
    assert found.without_organization == 1


def test_an_empty_group_lacks_everything() -> None:
    found = coverage(QUESTIONS, [], [], "fr")
    assert found.size == 0 and found.organizations == () and found.without_organization == 0
    assert missing(found, "skills") == list(SKILLS)
    assert found.numbers[0].total == 0 and found.numbers[0].mean is None
    level = next(c for c in found.choices if c.question == "expertise_level")
    assert [c.label for c in level.counts] == ["Débutant·e", "Intermédiaire", "Expert·e"]


ANSWERS = {
    "anne@example.org": {"skills": ["facilitation", "writing"], "hours_per_month": 10},
    "bob@example.org": {"skills": ["writing"], "hours_per_month": 6, "expertise_level": "expert"},
    "chloe@example.org": {"skills": ["research"], "hours_per_month": 4},
}


@dataclass
class Group:
    """Three applicants: Anne selected, Bob confirmed (member), Chloé not decided."""

    app: Flask
    slug: str
    ids: dict[str, int]

    def client(self, email: str = "coord@example.org") -> FlaskClient:
        client = self.app.test_client()
        sign_in(client, email)
        client.get("/?lang=en")
        return client

    def page(self, query: str = "") -> str:
        response = self.client().get(f"/communities/{self.slug}/applications/coverage{query}")
        assert response.status_code == 200
        return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def group(database: Database, config: Config) -> Iterator[Group]:
    seeded = seed(database)
    with database.session() as session:
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
        questionnaire = ensure_questionnaire(
            session, seeded.community_id, QuestionnaireKind.APPLICATION
        )
        for email, answers in ANSWERS.items():
            session.add(
                Response(
                    questionnaire_id=questionnaire.id,
                    person_id=ids[email],
                    answers=answers,
                    complete=True,
                )
            )
        states = {"anne@example.org": "selected", "bob@example.org": "member"}
        for email, person_id in ids.items():
            session.query(Membership).filter(Membership.person_id == person_id).update(
                {"state": states.get(email, "applicant")}
            )
        applications.define_criterion(
            session,
            seeded.community_id,
            CriterionData(
                key="hours",
                label={"fr": "Heures", "en": "Hours"},
                source="answer",
                question="hours_per_month",
                scoring={"min": 0, "max": 10},
            ),
        )
    with running_app(config) as app:
        yield Group(app, seeded.slug, ids)


def table(page: str, table_id: str) -> dict[str, list[str]]:
    """A table's rows as words: the row header, then each cell."""
    body = page.split(f'id="{table_id}"')[1].split("</table>")[0].split("<tbody>")[1]
    found = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [
            " ".join(re.sub(r"<[^>]+>", " ", c).split())
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        found[cells[0]] = cells[1:]
    return found


def test_the_page_shows_what_the_selected_group_covers_and_lacks(group: Group) -> None:
    page = group.page()
    # Anne (selected) and Bob (confirmed) are the group; Chloé is not decided.
    totals = table(page, "totals")
    assert totals["People"] == ["2"]
    assert totals["How many hours a month can you give? total"] == ["16"]
    assert totals["How many hours a month can you give? average"] == ["8 2 answers"]
    skills = table(page, "coverage-skills")
    assert skills["Facilitation"] == ["1"] and skills["Writing"] == ["2"]
    assert skills["Research"] == ["0 · missing"]  # in words, not only in colour
    assert "Selected group — not covered: Research; Technology; Communication; Evaluation." in page
    assert table(page, "coverage-expertise_level")["No answer"] == ["1"]
    orgs = table(page, "organizations")
    assert orgs["Université Laval"] == ["1"] and orgs["McGill"] == ["1"]
    assert orgs["No organisation given"] == ["0"]
    assert re.search(r'<th scope="col">Selected group</th>', page)
    assert "Suggested group" not in page
    assert page.count("<caption") == 2 + 3  # totals, organisations, and each choice question
    assert '<th scope="row">' in page


def test_a_suggested_group_is_compared_side_by_side(group: Group) -> None:
    # The best by hours, at most two: Anne (10) and Bob (6), Chloé (4) left out.
    page = group.page("?size=2")
    assert re.search(
        r'<th scope="col">Selected group</th>\s*<th scope="col">Suggested group</th>', page
    )
    assert table(page, "totals")["People"] == ["2", "2"]
    page = group.page("?size=3")
    assert table(page, "totals")["People"] == ["2", "3"]
    skills = table(page, "coverage-skills")
    assert skills["Research"] == ["0 · missing", "1"]
    assert "Suggested group — not covered: Technology; Communication; Evaluation." in page
    assert f'href="/communities/{group.slug}/applications?size=3"' in page
    # And the ranking's suggestion links here with its caps.
    ranking = group.client().get(f"/communities/{group.slug}/applications?size=3")
    assert f'href="/communities/{group.slug}/applications/coverage?size=3"' in ranking.get_data(
        as_text=True
    )
    refused = group.page("?size=0")
    assert "Suggested group" not in refused and "Please correct the following" in refused


def test_only_the_communitys_coordinators_see_the_coverage(
    group: Group, database: Database
) -> None:
    path = f"/communities/{group.slug}/applications/coverage"
    anonymous = group.app.test_client().get(path)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    other_coordinator(database)
    client = group.client("other@example.org")
    assert client.get(path).status_code == 404
    own = client.get("/communities/other/applications/coverage")
    assert own.status_code == 200 and 'id="no-applicant"' in own.get_data(as_text=True)
