"""The rubric's arithmetic (issue 5): scores are exactly what the rubric defines, and the
suggested selection respects the caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import community_with_people
from hypothesis import given
from hypothesis import strategies as st
from web_helpers import running_app
from werkzeug.datastructures import MultiDict

from forms.questionnaires import answers_from_form, build_form_class, default_definition
from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    Criterion,
    CriterionSource,
    Membership,
    Person,
    QuestionnaireKind,
    Response,
)
from webapp.services import applications, users
from webapp.services.applications import (
    Applicant,
    CriterionData,
    CriterionScore,
    answer_value,
    rating_value,
    suggest,
    total_score,
)
from webapp.services.errors import DomainError
from webapp.services.questionnaires import ensure_questionnaire


def criterion(key: str, weight: float = 1.0, **scoring: object) -> Criterion:
    return Criterion(
        key=key, weight=weight, source=CriterionSource.ANSWER, question=key, scoring=scoring
    )


def test_a_choice_is_worth_its_points_over_the_best() -> None:
    hours = criterion("hours_band", points={"low": 1, "mid": 2, "high": 4})
    assert answer_value(hours, "high") == 1.0
    assert answer_value(hours, "mid") == 0.5
    assert answer_value(hours, "other") == 0.0
    assert answer_value(hours, None) is None and answer_value(hours, "") is None


def test_several_choices_add_up_over_what_all_are_worth() -> None:
    skills = criterion("skills", points={"facilitation": 3, "writing": 1, "research": 1})
    assert answer_value(skills, ["facilitation"]) == 0.6
    assert answer_value(skills, ["facilitation", "writing", "research"]) == 1.0
    assert answer_value(skills, ["writing", "writing"]) == 0.2  # a choice counts once
    assert answer_value(skills, []) is None


def test_a_number_sits_between_the_minimum_and_the_maximum() -> None:
    hours = criterion("hours", min=2, max=10)
    assert answer_value(hours, 6) == 0.5
    assert answer_value(hours, "8,0") == 0.75  # as typed in a French form
    assert answer_value(hours, 1) == 0.0 and answer_value(hours, 40) == 1.0
    assert answer_value(hours, "a lot") is None


def test_ratings_give_their_mean_over_five_and_their_spread() -> None:
    assert rating_value([5, 3]) == CriterionScore(0.8, 2, 2)
    assert rating_value([4]) == CriterionScore(0.8, 1, 0)
    assert rating_value([]) == CriterionScore(None)


def test_the_score_is_the_weighted_mean_in_percent_a_missing_value_counting_zero() -> None:
    criteria = [criterion("a", 3), criterion("b", 1), criterion("c", 1)]
    values = {"a": CriterionScore(1.0), "b": CriterionScore(0.5), "c": CriterionScore(None)}
    assert total_score(criteria, values) == 70.0  # 100 × (3 + 0.5 + 0) / 5


@given(
    weights=st.lists(st.floats(0.1, 100), min_size=1, max_size=6),
    data=st.data(),
)
def test_the_score_stays_between_0_and_100(weights: list[float], data: st.DataObject) -> None:
    criteria = [criterion(f"c{i}", w) for i, w in enumerate(weights)]
    values = {c.key: CriterionScore(data.draw(st.none() | st.floats(0, 1))) for c in criteria}
    assert 0 <= total_score(criteria, values) <= 100


def applicant(person_id: int, score: float, org: str, *, complete: bool = True) -> Applicant:
    return Applicant(person_id, f"p{person_id}@example.org", "", org, score, {}, complete, "")


def test_the_suggestion_takes_the_best_within_the_caps() -> None:
    pool = [
        applicant(1, 90, "Université Laval"),
        applicant(2, 85, "université  laval"),  # the same organisation, written otherwise
        applicant(3, 80, "UQAM"),
        applicant(4, 95, "UQAR", complete=False),  # misses a required criterion
        applicant(5, 70, ""),
        applicant(6, 60, "UQAM"),
    ]
    assert suggest(pool) == [1, 2, 3, 5, 6]
    assert suggest(pool, per_organization=1) == [1, 3, 5]
    assert suggest(pool, size=2, per_organization=1) == [1, 3]


@given(
    st.lists(st.tuples(st.floats(0, 100), st.sampled_from(["A", "B", "C", ""])), max_size=30),
    st.integers(1, 5),
    st.integers(1, 10),
)
def test_the_suggestion_never_breaks_a_cap(
    pool: list[tuple[float, str]], per_org: int, size: int
) -> None:
    people = [applicant(i, score, org) for i, (score, org) in enumerate(pool)]
    chosen = suggest(people, size=size, per_organization=per_org)
    orgs = [people[i].organization for i in chosen if people[i].organization]
    assert len(chosen) <= size
    assert all(orgs.count(org) <= per_org for org in orgs)


def test_a_criterion_that_cannot_be_scored_is_refused_with_what_is_wrong() -> None:
    with pytest.raises(DomainError, match="short name"):
        applications.check_criterion(CriterionData(key="Bad Key", label={"fr": "x"}))
    with pytest.raises(DomainError, match="weight"):
        applications.check_criterion(CriterionData(key="k", label={"fr": "x"}, weight=0))
    with pytest.raises(DomainError, match="which question"):
        applications.check_criterion(
            CriterionData(key="k", label={"fr": "x"}, source="answer", scoring={"min": 0})
        )
    with pytest.raises(DomainError, match="greater maximum"):
        applications.check_criterion(
            CriterionData(
                key="k", label={"fr": "x"}, source="answer", question="q", scoring={"min": 5}
            )
        )


ROOT = Path(__file__).resolve().parent.parent


def test_the_ranking_from_the_database_and_the_command_line(
    database: Database, tmp_path: Path
) -> None:
    people = "email,first_name,organization\na@example.org,A,Laval\nb@example.org,B,Laval\n"
    people += "c@example.org,C,UQAM\n"
    with database.session() as session:
        community_id = community_with_people(session, people)
        questionnaire = ensure_questionnaire(session, community_id, QuestionnaireKind.APPLICATION)
        answers = {"a@example.org": 10, "b@example.org": 6, "c@example.org": 2}
        ids = dict(session.query(Person.email, Person.id).all())
        for email, hours in answers.items():
            session.add(
                Response(
                    questionnaire_id=questionnaire.id,
                    person_id=ids[email],
                    answers={"hours_per_month": hours},
                    complete=True,
                )
            )
        session.query(Membership).update({"state": "applicant"})
        applications.define_criterion(
            session,
            community_id,
            CriterionData(
                key="hours",
                label={"fr": "Heures", "en": "Hours"},
                weight=1,
                source="answer",
                question="hours_per_month",
                scoring={"min": 0, "max": 10},
            ),
        )
        expertise = applications.define_criterion(
            session,
            community_id,
            CriterionData(key="expertise", label={"fr": "Expertise"}, weight=3, required=True),
        )
        # The question must be asked, and fit the scoring: no points on a number.
        for question, scoring in (
            ("shoe_size", {"min": 0, "max": 9}),
            ("hours_per_month", {"points": {"a": 1}}),
        ):
            with pytest.raises(DomainError, match="shoe_size|does not fit"):
                applications.define_criterion(
                    session,
                    community_id,
                    CriterionData(
                        key="bad",
                        label={"fr": "Mauvais"},
                        weight=1,
                        source="answer",
                        question=question,
                        scoring=scoring,
                    ),
                )
        reviewers = [
            users.create_user(session, f"r{i}@example.org", "long enough password") for i in (1, 2)
        ]
        applications.rate(session, community_id, expertise, ids["a@example.org"], reviewers[0], 5)
        applications.rate(session, community_id, expertise, ids["a@example.org"], reviewers[1], 3)
        applications.rate(session, community_id, expertise, ids["b@example.org"], reviewers[0], 5)
        applications.rate(
            session, community_id, expertise, ids["b@example.org"], reviewers[0], 4
        )  # changed
        with pytest.raises(DomainError):
            applications.rate(
                session, community_id, expertise, ids["c@example.org"], reviewers[0], 6
            )
        with pytest.raises(DomainError, match="No such criterion"):  # another community's (W9)
            applications.rate(
                session, community_id + 1, expertise, ids["c@example.org"], reviewers[0], 3
            )

    with database.session() as session:
        ranked = applications.applicants(session, community_id)
    # a: (10/10 × 1 + 4/5 × 3) / 4 = 85; b: (0.6 + 2.4) / 4 = 75; c: 0.2 / 4 = 5, unrated.
    assert [(a.email, a.score, a.complete) for a in ranked] == [
        ("a@example.org", 85.0, True),
        ("b@example.org", 75.0, True),
        ("c@example.org", 5.0, False),
    ]
    assert ranked[0].criteria["expertise"] == CriterionScore(0.8, 2, 2)
    assert suggest(ranked, per_organization=1) == [ids["a@example.org"]]

    cli = _cli(database, tmp_path)
    result = cli("rank", "cop", "--format", "json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [list(row) for row in listed][0] == ["email", "score", "hours", "expertise", "decision"]
    assert [
        (r["email"], r["score"], r["hours"], r["expertise"], r["decision"]) for r in listed
    ] == [
        ("a@example.org", 85.0, 100.0, 80.0, ""),
        ("b@example.org", 75.0, 60.0, 80.0, ""),
        ("c@example.org", 5.0, 20.0, None, ""),
    ]

    suggested = cli("suggest", "cop", "--per-organization", "1", "--format", "json")
    assert [row["email"] for row in json.loads(suggested.stdout)] == ["a@example.org"]

    # A criterion from the command line, scored from a choice; bad points are named.
    bad = cli("criterion", "cop", "level", "--from-answer", "expertise_level", "--points", "x")
    assert bad.returncode != 0 and "write ANSWER=POINTS" in bad.stderr
    added = cli(
        "criterion",
        "cop",
        "level",
        "--label-fr",
        "Niveau",
        "--from-answer",
        "expertise_level",
        "--points",
        "beginner=1",
        "--points",
        "expert=4",
        "--weight",
        "2",
    )
    assert added.returncode == 0, added.stderr
    with database.session() as session:
        level = next(c for c in applications.rubric(session, community_id) if c.key == "level")
        assert (level.source, level.weight, level.scoring) == (
            "answer",
            2.0,
            {"points": {"beginner": 1.0, "expert": 4.0}},
        )


def _cli(database: Database, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``amorce applications …`` on this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMORCE_")}
    env.update(AMORCE_DATABASE_URL=database.url, AMORCE_INSTANCE_PATH=str(tmp_path))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "webapp.cli", "applications", *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    return run


def test_the_application_questionnaire_builds_and_checks_its_answers(config: Config) -> None:
    definition = default_definition("application")
    with running_app(config) as app, app.test_request_context(method="POST"):
        form_class = build_form_class(definition, "fr")
        form = form_class(
            formdata=MultiDict(
                [
                    ("question_motivation", "Partager"),
                    ("question_expertise", "Classe inversée (expert)"),
                    ("question_expertise_level", "expert"),
                    ("question_skills", "facilitation"),
                    ("question_skills", "writing"),
                    ("question_hours_per_month", "500"),
                    ("question_participation_level", "core"),
                ]
            ),
            meta={"csrf": False},
        )
        assert not form.validate()
        assert list(form.errors) == ["question_hours_per_month"]  # at most 200
        form.question_hours_per_month.data = 6
        form.question_hours_per_month.errors = []
        answers = answers_from_form(form, definition)
    assert answers["skills"] == ["facilitation", "writing"]
    assert answers["hours_per_month"] == 6
    assert {q["id"] for q in definition["questions"]} >= {"motivation", "skills", "organization"}


def test_decisions_and_a_freed_seat_promote_the_best_waitlisted(
    database: Database, tmp_path: Path
) -> None:
    people = "email,first_name\nx@example.org,X\ny@example.org,Y\nz@example.org,Z\n"
    with database.session() as session:
        community_id = community_with_people(session, people)
        session.query(Membership).update({"state": "applicant"})
        reviewer = users.create_user(session, "r@example.org", "long enough password")
        merit = applications.define_criterion(
            session, community_id, CriterionData(key="merit", label={"fr": "Mérite"})
        )
        ids = dict(session.query(Person.email, Person.id).all())
        for email, score in (("x@example.org", 5), ("y@example.org", 4), ("z@example.org", 3)):
            applications.rate(session, community_id, merit, ids[email], reviewer, score)
    cli = _cli(database, tmp_path)
    assert cli("decide", "cop", "x@example.org", "selected").returncode == 0
    for email in ("z@example.org", "y@example.org"):
        assert cli("decide", "cop", email, "waitlisted").returncode == 0
    unknown = cli("decide", "cop", "nobody@example.org", "selected")
    assert unknown.returncode != 0 and "nobody@example.org" in unknown.stderr
    ranked = json.loads(cli("rank", "cop", "--format", "json").stdout)
    assert [(r["email"], r["decision"]) for r in ranked] == [
        ("x@example.org", "selected"),
        ("y@example.org", "waitlisted"),
        ("z@example.org", "waitlisted"),
    ]
    with database.session() as session:
        applications.decide(session, community_id, ids["x@example.org"], "declined", actor="t")
        # The seat X held goes to the best of those waiting, Y, not to the first waitlisted, Z.
        assert (
            applications.promote_waitlisted(session, community_id, actor="t")
            == ids["y@example.org"]
        )
        session.query(Membership).filter(Membership.person_id == ids["z@example.org"]).update(
            {"state": "member"}
        )
        with pytest.raises(DomainError, match="Only an applicant"):
            applications.decide(session, community_id, ids["z@example.org"], "declined", actor="t")
        assert applications.promote_waitlisted(session, community_id, actor="t") is None
