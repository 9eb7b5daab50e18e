"""The questionnaire editor: checking a definition; adding, changing, moving and removing
questions, in place until someone answers and in a new version after; a criterion's question
kept; the coordinator's pages (errors beside their fields, everything typed kept, read-only for
a role that only looks); and the new question types (scale, email, date, availability)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from web_helpers import PASSWORD, csrf_token, running_app, seed, sign_in
from werkzeug.datastructures import MultiDict

from forms.questionnaires import (
    answers_from_form,
    build_form_class,
    default_definition,
    form_data,
)
from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    AuditLog,
    CommunityCoordinator,
    Person,
    Questionnaire,
    QuestionnaireKind,
    Response,
    User,
)
from webapp.services import applications, users
from webapp.services import questionnaire_editor as editor
from webapp.services.errors import DomainError, NotFound
from webapp.services.questionnaires import ensure_questionnaire

APPLICATION = QuestionnaireKind.APPLICATION.value
INTEREST = QuestionnaireKind.INTEREST.value
ACTOR = "user:1"
SCALE = {
    "id": "confidence",
    "type": "scale",
    "required": True,
    "label": {"fr": "Votre aisance", "en": "Your confidence"},
    "min_label": {"fr": "Pas du tout", "en": "Not at all"},
    "max_label": {"fr": "Tout à fait", "en": "Fully"},
}


def versions(database: Database, community_id: int, kind: str) -> list[tuple[int, list[str]]]:
    """Each stored version of a questionnaire and its question ids, oldest first."""
    with database.session() as session:
        rows = session.scalars(
            select(Questionnaire)
            .where(Questionnaire.community_id == community_id, Questionnaire.kind == kind)
            .order_by(Questionnaire.version)
        )
        return [(row.version, [q["id"] for q in row.definition["questions"]]) for row in rows]


def answer(database: Database, community_id: int, kind: str, email: str) -> None:
    """Someone answers the newest version."""
    with database.session() as session:
        questionnaire = ensure_questionnaire(session, community_id, kind)
        person_id = session.scalar(select(Person.id).where(Person.email == email))
        assert person_id is not None
        session.add(Response(questionnaire_id=questionnaire.id, person_id=person_id, answers={}))


# -- checking a definition ----------------------------------------------------------------------


def test_the_shipped_questionnaires_pass_the_check() -> None:
    for kind in (INTEREST, APPLICATION):
        assert editor.check_definition(default_definition(kind)) == {}


def test_each_problem_is_named_by_its_question_and_field() -> None:
    fine = {"id": "ok", "type": "short_text", "label": {"fr": "Bien"}}
    definition = {
        "questions": [
            fine,
            {"id": "Bad Id", "type": "short_text", "label": {"fr": "x"}},
            {"id": "ok", "type": "long_text", "label": {"en": "English only"}},
            {"id": "kind", "type": "colour", "label": {"fr": "x"}},
            {"id": "pick", "type": "single_choice", "label": {"fr": "x"}, "choices": []},
            {
                "id": "twice",
                "type": "multiple_choice",
                "label": {"fr": "x"},
                "choices": [
                    {"value": "a", "label": {"fr": "A"}},
                    {"value": "a", "label": {"fr": "A encore"}},
                ],
            },
            {"id": "hours", "type": "number", "label": {"fr": "x"}, "min": 10, "max": 10},
            {"id": "wide", "type": "scale", "label": {"fr": "x"}, "min": 0, "max": 100},
            {"id": "half", "type": "scale", "label": {"fr": "x"}, "min": 1.5},
        ]
    }
    found = {
        index: {name: str(problem) for name, problem in fields.items()}
        for index, fields in editor.check_definition(definition).items()
    }
    assert found == {
        0: {"id": "Another question already has the identifier ok."},
        1: {"id": "Use 1 to 40 lowercase letters, digits or _, starting with a letter."},
        2: {
            "id": "Another question already has the identifier ok.",
            "label": "The question needs a French wording.",
        },
        3: {"type": "Unknown question type 'colour'."},
        4: {"choices": "A choice question needs at least one choice."},
        5: {"choices": "Two choices have the same value a."},
        6: {"max": "The maximum must be greater than the minimum."},
        7: {"max": "A scale has at most 11 points."},
        8: {"min": "Give a whole number."},
    }
    assert editor.check_definition({"questions": "none"}) == {
        -1: {"questions": editor.Problem("A questionnaire needs a list of questions.")}
    }


# -- changing questions -------------------------------------------------------------------------


def test_questions_are_added_changed_moved_and_removed_in_place_until_someone_answers(
    database: Database,
) -> None:
    seeded = seed(database)
    cid = seeded.community_id
    shipped = [q["id"] for q in default_definition(INTEREST)["questions"]]
    with database.session() as session:
        added = editor.add_question(session, cid, INTEREST, SCALE, actor=ACTOR)
        assert added == editor.Edited(added.questionnaire_id, 1, created=False)
        editor.move_question(session, cid, INTEREST, "confidence", -1, actor=ACTOR)
        changed = dict(SCALE, label={"fr": "Votre aisance à l’oral"}, help={"fr": " ", "en": ""})
        editor.update_question(session, cid, INTEREST, "confidence", changed, actor=ACTOR)
        editor.remove_question(session, cid, INTEREST, "comment", actor=ACTOR)
    expected = [q for q in shipped if q != "comment"]
    expected.insert(len(expected) - 1, "confidence")
    assert versions(database, cid, INTEREST) == [(1, expected)]
    with database.session() as session:
        stored = editor.question_of(session, cid, INTEREST, "confidence")
        assert stored == {
            "id": "confidence",
            "type": "scale",
            "required": True,
            "label": {"fr": "Votre aisance à l’oral"},  # blank wordings are dropped
            "min_label": {"fr": "Pas du tout", "en": "Not at all"},
            "max_label": {"fr": "Tout à fait", "en": "Fully"},
        }
        actions = session.scalars(select(AuditLog.action).where(AuditLog.community_id == cid))
        assert [a for a in actions if a.startswith("questionnaire.")] == [
            "questionnaire.question_added",
            "questionnaire.question_moved",
            "questionnaire.question_changed",
            "questionnaire.question_removed",
        ]
        # What cannot be done is refused, naming the question.
        with pytest.raises(DomainError, match="consent_contact is already the last question"):
            editor.move_question(session, cid, INTEREST, "consent_contact", 1, actor=ACTOR)
        with pytest.raises(DomainError, match="interest_level is already the first question"):
            editor.move_question(session, cid, INTEREST, "interest_level", -1, actor=ACTOR)
        with pytest.raises(NotFound, match="no question nothing"):
            editor.remove_question(session, cid, INTEREST, "nothing", actor=ACTOR)
        with pytest.raises(NotFound):
            editor.summary(session, cid, "feedback")


def test_a_question_the_questionnaire_cannot_take_is_refused_by_field(database: Database) -> None:
    cid = seed(database).community_id
    with database.session() as session:
        duplicate = {"id": "motivation", "type": "long_text", "label": {"fr": "Encore"}}
        with pytest.raises(editor.InvalidQuestion) as refused:
            editor.add_question(session, cid, APPLICATION, duplicate, actor=ACTOR)
        assert {k: str(v) for k, v in refused.value.problems.items()} == {
            "id": "Another question already has the identifier motivation."
        }
        session.rollback()
        wrong = {"id": "level", "type": "single_choice", "label": {"en": "Level"}, "choices": []}
        with pytest.raises(editor.InvalidQuestion) as refused:
            editor.add_question(session, cid, APPLICATION, wrong, actor=ACTOR)
        assert set(refused.value.problems) == {"label", "choices"}
        assert "needs a French wording" in str(refused.value)
        session.rollback()
        # Nor can a question take the identifier of one further down.
        renamed = dict(editor.question_of(session, cid, APPLICATION, "motivation"), id="other")
        with pytest.raises(editor.InvalidQuestion, match="already has the identifier other"):
            editor.update_question(session, cid, APPLICATION, "motivation", renamed, actor=ACTOR)
        session.rollback()
    assert versions(database, cid, APPLICATION) == []  # nothing stored, not even version 1


def test_an_answered_version_is_frozen_and_the_change_makes_the_next(database: Database) -> None:
    cid = seed(database).community_id
    with database.session() as session:
        editor.add_question(session, cid, INTEREST, SCALE, actor=ACTOR)
    answer(database, cid, INTEREST, "anne@example.org")
    with database.session() as session:
        before = ensure_questionnaire(session, cid, INTEREST).definition
        assert editor.summary(session, cid, INTEREST).answers == 1
        made = editor.remove_question(session, cid, INTEREST, "comment", actor=ACTOR)
        assert (made.version, made.created) == (2, True)
        # A second change goes into version 2, which nobody answered yet.
        again = editor.move_question(session, cid, INTEREST, "confidence", -1, actor=ACTOR)
        assert (again.questionnaire_id, again.version, again.created) == (
            made.questionnaire_id,
            2,
            False,
        )
    (v1, ids1), (v2, ids2) = versions(database, cid, INTEREST)
    assert (v1, v2) == (1, 2)
    assert "comment" in ids1 and ids1[-1] == "confidence"  # the answered wording, untouched
    assert "comment" not in ids2 and ids2[-2:] == ["confidence", "consent_contact"]
    with database.session() as session:
        rows = list(session.scalars(select(Questionnaire).order_by(Questionnaire.version)))
        assert rows[0].definition == before and rows[0].definition["version"] == 1
        assert rows[1].definition["version"] == 2
        assert rows[1].definition["title"] == before["title"]
        summary = editor.summary(session, cid, INTEREST)
        assert (summary.version, summary.answers, summary.all_answers) == (2, 0, 1)
        logged = session.scalars(
            select(AuditLog.details).where(AuditLog.action == "questionnaire.question_removed")
        ).one()
        assert logged == {
            "kind": INTEREST,
            "version": 2,
            "new_version": True,
            "question": "comment",
        }


def test_a_question_a_criterion_is_scored_from_is_kept(database: Database) -> None:
    cid = seed(database).community_id
    with database.session() as session:
        applications.define_criterion(
            session,
            cid,
            applications.CriterionData(
                key="hours",
                label={"fr": "Heures"},
                source="answer",
                question="hours_per_month",
                scoring={"min": 0, "max": 20},
            ),
        )
    with database.session() as session:
        with pytest.raises(DomainError, match="criterion “hours” of the rubric") as refused:
            editor.remove_question(session, cid, APPLICATION, "hours_per_month", actor=ACTOR)
        assert refused.value.params == {"criterion": "hours", "id": "hours_per_month"}
        hours = editor.question_of(session, cid, APPLICATION, "hours_per_month")
        with pytest.raises(DomainError, match="keep its identifier"):
            editor.update_question(
                session, cid, APPLICATION, "hours_per_month", dict(hours, id="hours"), actor=ACTOR
            )
        as_text = dict(hours, type="short_text")
        with pytest.raises(DomainError, match="between a choice and a number"):
            editor.update_question(
                session, cid, APPLICATION, "hours_per_month", as_text, actor=ACTOR
            )
        # A scale is still a number: the criterion scores it between its bounds.
        as_scale = dict(hours, type="scale", min=0, max=10)
        editor.update_question(session, cid, APPLICATION, "hours_per_month", as_scale, actor=ACTOR)
        # The interest questionnaire has no rubric: its questions go freely.
        editor.remove_question(session, cid, INTEREST, "expertise", actor=ACTOR)
    assert "hours_per_month" in versions(database, cid, APPLICATION)[-1][1]


# -- the new question types ---------------------------------------------------------------------

NEW_TYPES = {
    "questions": [
        SCALE,
        {"id": "email", "type": "email", "required": True, "label": {"fr": "Courriel"}},
        {"id": "start", "type": "date", "required": False, "label": {"fr": "Début"}},
        {"id": "free", "type": "availability", "required": True, "label": {"fr": "Dispos"}},
    ]
}


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    with running_app(config) as app:
        yield app


def built(app: Flask, data: MultiDict[str, str] | None = None, **saved: Any) -> Any:
    """The new-types questionnaire built for an English reader, posted ``data`` or filled."""
    form_class = build_form_class(NEW_TYPES, "en")
    if data is None:
        return form_class(formdata=None, data=form_data(saved, NEW_TYPES), meta={"csrf": False})
    return form_class(formdata=data, meta={"csrf": False})


def test_the_new_types_render_refuse_bad_answers_and_keep_what_was_typed(app: Flask) -> None:
    bad = MultiDict(
        [
            ("question_confidence", "9"),
            ("question_email", "Anne at example"),
            ("question_start", "2025-02-30"),
            ("question_free", "mon-morning"),
            ("question_free", "mon-midnight"),
        ]
    )
    with app.test_request_context("/?lang=en"):
        form = built(app, bad)
        assert not form.validate()
        assert set(form.errors) == {
            "question_confidence",
            "question_email",
            "question_start",
            "question_free",
        }
        confidence = str(form.question_confidence)
        assert [int(v) for v in re.findall(r'type="radio" value="(\d+)"', confidence)] == [
            1,
            2,
            3,
            4,
            5,
        ]
        assert form.question_confidence.description == "1: Not at all · 5: Fully"
        assert 'type="email" value="Anne at example"' in str(form.question_email)
        assert 'type="date" value="2025-02-30"' in str(form.question_start)
        grid = str(form.question_free)
        assert grid.count('type="checkbox"') == 21
        assert re.search(r'<input checked id="question_free-0"[^>]*value="mon-morning"', grid)
        assert '<th scope="row">Monday</th>' in grid and '<th scope="col">Evening</th>' in grid
        assert 'class="visually-hidden" for="question_free-20">Sunday evening</label>' in grid

        good = MultiDict(
            [
                ("question_confidence", "4"),
                ("question_email", "  Anne.Tremblay@Example.org "),
                ("question_start", "2025-03-14"),
                ("question_free", "wed-evening"),
                ("question_free", "mon-morning"),
            ]
        )
        form = built(app, good)
        assert form.validate(), form.errors
        answers = answers_from_form(form, NEW_TYPES)
    assert answers == {
        "confidence": 4,
        "email": "anne.tremblay@example.org",
        "start": "2025-03-14",
        "free": ["mon-morning", "wed-evening"],  # in the week's order
    }
    assert json.loads(json.dumps(answers)) == answers
    assert form_data(answers, NEW_TYPES)["question_start"] == date(2025, 3, 14)

    # Saved answers fill the form again, with or without the definition at hand.
    with app.test_request_context("/?lang=en"):
        for filled in (
            built(app, **answers),
            build_form_class(NEW_TYPES, "en")(
                formdata=None, data=form_data(answers), meta={"csrf": False}
            ),
        ):
            assert re.search(r'checked id="question_confidence-3"', str(filled.question_confidence))
            assert 'value="anne.tremblay@example.org"' in str(filled.question_email)
            assert 'value="2025-03-14"' in str(filled.question_start)
            assert len(re.findall(r"<input checked", str(filled.question_free))) == 2
        # Nothing required left empty: the optional date may stay blank.
        empty = built(app, MultiDict([("question_start", "")]))
        assert not empty.validate()
        assert set(empty.errors) == {"question_confidence", "question_email", "question_free"}
        assert answers_from_form(empty, NEW_TYPES)["start"] is None


# -- the pages ----------------------------------------------------------------------------------


@dataclass
class Pages:
    """A community, its coordinator signed in (in English), and the questionnaires' address."""

    app: Flask
    client: FlaskClient
    slug: str
    community_id: int

    @property
    def base(self) -> str:
        return f"/communities/{self.slug}/questionnaires"

    def get(self, path: str = "", client: FlaskClient | None = None) -> str:
        response = (client or self.client).get(self.base + path)
        assert response.status_code == 200, (path, response.status_code)
        return html.unescape(response.get_data(as_text=True))

    def post(self, path: str, client: FlaskClient | None = None, **data: Any) -> Any:
        who = client or self.client
        token = csrf_token(who, self.base)
        return who.post(self.base + path, data={"csrf_token": token, **data})

    def follow(self, response: Any) -> str:
        assert response.status_code == 302, response.get_data(as_text=True)
        return html.unescape(self.client.get(response.headers["Location"]).get_data(as_text=True))


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, email)
    client.get("/?lang=en")
    return client


@pytest.fixture
def pages(database: Database, app: Flask) -> Pages:
    seeded = seed(database)
    return Pages(app, signed_in(app, seeded.user_email), seeded.slug, seeded.community_id)


QUESTION = {
    "identifier": "main_language",
    "type": "single_choice",
    "label_fr": "Votre langue de travail",
    "label_en": "",
    "help_fr": "Celle que vous utilisez le plus.",
    "required": "y",
    "choices": "fr | Français | French\nen | Anglais\n\nother",
}


def test_a_coordinator_adds_a_question_and_previews_it(pages: Pages, database: Database) -> None:
    community = pages.client.get(f"/communities/{pages.slug}").get_data(as_text=True)
    assert f'href="{pages.base}" id="questionnaires-link"' in community
    index = pages.get()
    for kind, questions in ((INTEREST, 5), (APPLICATION, 8)):
        row = index.split(f'id="questionnaire-{kind}"')[1].split("</tr>")[0]
        assert re.findall(r"<td>(\d+)</td>", row) == ["1", str(questions), "0", "0"]
    assert "The application questionnaire" in index

    form = pages.get(f"/{APPLICATION}/questions/new")
    assert '<select id="type" name="type"' in form and "Scale (from 1 to 5, say)" in form
    shown = pages.follow(pages.post(f"/{APPLICATION}/questions/new", **QUESTION))
    assert "Question “main_language” added." in shown
    assert "version" not in shown.split('class="flashes"')[1].split("</div>")[0].lower()
    listed = shown.split('id="questions"')[1].split("</table>")[0]
    assert re.findall(r'<tr id="question-(\w+)"', listed)[-1] == "main_language"
    # English readers see the French wording when there is no English one.
    assert "Votre langue de travail" in listed.split('id="question-main_language"')[1]
    with database.session() as session:
        stored = editor.question_of(session, pages.community_id, APPLICATION, "main_language")
    assert stored == {
        "id": "main_language",
        "type": "single_choice",
        "required": True,
        "label": {"fr": "Votre langue de travail"},
        "help": {"fr": "Celle que vous utilisez le plus."},
        "choices": [
            {"value": "fr", "label": {"fr": "Français", "en": "French"}},
            {"value": "en", "label": {"fr": "Anglais"}},
            {"value": "other", "label": {"fr": "other"}},
        ],
    }
    changing = pages.get(f"/{APPLICATION}/questions/main_language/edit")
    assert "fr | Français | French\nen | Anglais\nother | other</textarea>" in changing
    assert 'value="main_language"' in changing

    preview = pages.get(f"/{APPLICATION}/preview")
    assert "Your application" in preview and 'name="question_main_language"' in preview
    refused = pages.post(f"/{APPLICATION}/preview", question_main_language="de")
    assert refused.status_code == 400
    assert 'id="question_main_language-error"' in refused.get_data(as_text=True)
    with database.session() as session:
        assert session.scalars(select(Response)).all() == []  # a preview saves nothing


def test_a_refused_question_shows_why_beside_the_field_and_keeps_what_was_typed(
    pages: Pages, database: Database
) -> None:
    typed = dict(
        QUESTION,
        identifier="Main language",
        choices="fr | Français\n | Anglais",
        minimum="3",
        max_label_fr="Tout à fait",
    )
    refused = pages.post(f"/{APPLICATION}/questions/new", **typed)
    assert refused.status_code == 400
    page = html.unescape(refused.get_data(as_text=True))
    assert 'id="choices-error"' in page and "Line 2 needs a value before the first |." in page
    assert 'aria-describedby="choices-hint choices-error"' in page
    # What the service would refuse is said at once, not after a second try.
    assert re.search(r'id="identifier-error">Use 1 to 40 lowercase letters', page)
    for kept in (
        'value="Main language"',
        'value="Votre langue de travail"',
        'value="3"',
        'value="Tout à fait"',
        "fr | Français\n | Anglais</textarea>",
        '<option selected value="single_choice">',
        'checked id="required"',
    ):
        assert kept in page, kept
    # What the service refuses lands beside its field too: the identifier, then the choices.
    refused = pages.post(f"/{APPLICATION}/questions/new", **dict(typed, choices="a\na | A"))
    page = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 400
    assert re.search(r'id="identifier-error">Use 1 to 40 lowercase letters', page)
    assert re.search(r'id="choices-error">Two choices have the same value a.', page)
    refused = pages.post(f"/{APPLICATION}/questions/new", **dict(QUESTION, identifier="motivation"))
    assert "Another question already has the identifier motivation." in refused.get_data(True)
    assert versions(database, pages.community_id, APPLICATION) == []


def test_questions_move_and_go_and_a_version_is_made_once_answered(
    pages: Pages, database: Database
) -> None:
    shown = pages.follow(pages.post(f"/{INTEREST}/questions/comment/move", direction="up"))
    assert "Question “comment” moved." in shown
    order = re.findall(r'<tr id="question-(\w+)"', shown)
    assert order[1:4] == ["expertise", "comment", "participation_level"]
    assert 'id="frozen-notice"' not in shown

    answer(database, pages.community_id, INTEREST, "anne@example.org")
    page = pages.get(f"/{INTEREST}")
    assert "1 person answered version 1: your next change makes version 2" in page
    assert "1 person answered version 1" in pages.get(f"/{INTEREST}/questions/comment/edit")
    shown = pages.follow(pages.post(f"/{INTEREST}/questions/comment/remove"))
    assert "Question “comment” removed." in shown
    assert "this change made version 2" in shown and 'id="frozen-notice"' not in shown
    assert [v for v, _ids in versions(database, pages.community_id, INTEREST)] == [1, 2]

    # A question the rubric scores stays, and the page says why.
    with database.session() as session:
        applications.define_criterion(
            session,
            pages.community_id,
            applications.CriterionData(
                key="level",
                label={"fr": "Niveau"},
                source="answer",
                question="expertise_level",
                scoring={"points": {"expert": 1}},
            ),
        )
    listed = pages.get(f"/{APPLICATION}")
    assert "Scored by the criterion level" in listed
    refused = pages.follow(pages.post(f"/{APPLICATION}/questions/expertise_level/remove"))
    assert "The criterion “level” of the rubric is scored from expertise_level" in refused
    assert 'id="question-expertise_level"' in refused
    # Without the CSRF token nothing moves.
    bare = pages.client.post(f"{pages.base}/{INTEREST}/questions/expertise/move", data={})
    assert bare.status_code == 400


def test_a_role_that_only_looks_cannot_change_and_others_find_nothing(
    pages: Pages, database: Database
) -> None:
    with database.session() as session:
        viewer = users.create_user(session, "viewer@example.org", PASSWORD)
        session.get_one(User, viewer).role = "viewer"  # no such role yet: any other than ours
        session.add(CommunityCoordinator(community_id=pages.community_id, user_id=viewer))
    seed(database, email="other@example.org", slug="other-cop")
    before = versions(database, pages.community_id, INTEREST)
    looking = signed_in(pages.app, "viewer@example.org")
    page = pages.get(f"/{INTEREST}", client=looking)
    assert 'id="read-only"' in page and "Move up" not in page and 'id="add-question"' not in page
    assert 'name="question_interest_level"' in pages.get(f"/{INTEREST}/preview", client=looking)
    assert looking.get(f"{pages.base}/{INTEREST}/questions/new").status_code == 403
    assert looking.get(f"{pages.base}/{INTEREST}/questions/comment/edit").status_code == 403
    for action, data in (("move", {"direction": "up"}), ("remove", {})):
        path = f"/{INTEREST}/questions/comment/{action}"
        assert pages.post(path, client=looking, **data).status_code == 403
    posted = pages.post(f"/{INTEREST}/questions/new", client=looking, **QUESTION)
    assert posted.status_code == 403
    assert versions(database, pages.community_id, INTEREST) == before

    other = signed_in(pages.app, "other@example.org")
    assert other.get(pages.base).status_code == 404
    assert other.get(f"{pages.base}/{INTEREST}/preview").status_code == 404
    assert pages.client.get(f"{pages.base}/feedback").status_code == 404
    assert pages.client.get(f"{pages.base}/{INTEREST}/questions/nothing/edit").status_code == 404
