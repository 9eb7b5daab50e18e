"""Coordinators change their questionnaires: add, change, remove and move questions.

A version that has answers is frozen: the first change after an answer makes a copy, the next
version, which takes the change; the answers keep the wording they were given to. A version
nobody answered yet is changed in place.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forms.questionnaires import CHOICE_TYPES, NUMBER_TYPES, QUESTION_TYPES
from webapp.models import AuditLog, Criterion, Questionnaire, QuestionnaireKind, Response

from .errors import N_, DomainError, NotFound
from .questionnaires import ensure_questionnaire

QUESTION_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
SCALE_POINTS = 11  # at most this many radio buttons on a scale
CHOICE_LIMIT = 100
# Refusals while a criterion of the rubric is scored from the question.
REMOVED = N_(
    "The criterion “%(criterion)s” of the rubric is scored from %(id)s: change or remove the "
    "criterion first."
)
RENAMED = N_(
    "The criterion “%(criterion)s” of the rubric is scored from %(id)s: keep its identifier."
)
RETYPED = N_(
    "The criterion “%(criterion)s” of the rubric is scored from %(id)s: it cannot change between "
    "a choice and a number."
)


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of a question: an English message with parameters."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message


# Problems by question index (-1: the definition itself), then by field: "id", "type",
# "label", "choices", "min", "max", "questions".
Problems = dict[int, dict[str, Problem]]


class InvalidQuestion(DomainError):
    """A question the questionnaire cannot take; ``problems`` says what is wrong, by field."""

    def __init__(self, problems: Mapping[str, Problem]) -> None:
        self.problems = dict(problems)
        text = " ".join(str(p) for p in self.problems.values())
        super().__init__(N_("This question cannot be saved: %(problems)s"), problems=text)


@dataclass(frozen=True)
class Edited:
    """The version a change went into, and whether the change created it."""

    questionnaire_id: int
    version: int
    created: bool


@dataclass(frozen=True)
class QuestionnaireSummary:
    """A questionnaire of a community as the editor lists it."""

    kind: str
    questionnaire_id: int
    version: int
    questions: int
    answers: int  # to the newest version: once there is one, a change makes a new version
    all_answers: int  # to every version


# -- checking -----------------------------------------------------------------------------------


def _wording(value: Any) -> str:
    """The French wording of a bilingual text (or the text itself)."""
    if isinstance(value, Mapping):
        return str(value.get("fr") or "").strip()
    return value.strip() if isinstance(value, str) else ""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bounds(question: Mapping[str, Any], found: dict[str, Problem]) -> None:
    kind = question.get("type")
    default = (1, 5) if kind == "scale" else (None, None)
    low, high = question.get("min", default[0]), question.get("max", default[1])
    for name, value in (("min", low), ("max", high)):
        if value is not None and not _whole(value):
            found[name] = Problem(N_("Give a whole number."))
    if _whole(low) and _whole(high):
        if low >= high:
            found["max"] = Problem(N_("The maximum must be greater than the minimum."))
        elif kind == "scale" and high - low >= SCALE_POINTS:
            found["max"] = Problem(
                N_("A scale has at most %(count)d points."), {"count": SCALE_POINTS}
            )


def _check_choices(choices: Any, found: dict[str, Problem]) -> None:
    if not isinstance(choices, list) or not choices:
        found["choices"] = Problem(N_("A choice question needs at least one choice."))
        return
    if len(choices) > CHOICE_LIMIT:
        found["choices"] = Problem(
            N_("A question has at most %(count)d choices."), {"count": CHOICE_LIMIT}
        )
        return
    seen: set[str] = set()
    for choice in choices:
        problem = _choice_problem(choice, seen)
        if problem is not None:
            found["choices"] = problem
            return


def _choice_problem(choice: Any, seen: set[str]) -> Problem | None:
    value = choice.get("value") if isinstance(choice, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        return Problem(N_("Every choice needs a value."))
    if value in seen:
        return Problem(N_("Two choices have the same value %(value)s."), {"value": value})
    if not _wording(choice.get("label")):
        return Problem(N_("The choice %(value)s needs a French label."), {"value": value})
    seen.add(value)
    return None


def check_question(question: Any) -> dict[str, Problem]:
    """What is wrong with one question on its own, by field (empty when it is fine)."""
    if not isinstance(question, Mapping):
        return {"question": Problem(N_("A question must be an object."))}
    found: dict[str, Problem] = {}
    question_id = question.get("id")
    if not isinstance(question_id, str) or not QUESTION_ID.fullmatch(question_id):
        found["id"] = Problem(
            N_("Use 1 to 40 lowercase letters, digits or _, starting with a letter.")
        )
    kind = question.get("type")
    if kind not in QUESTION_TYPES:
        found["type"] = Problem(N_("Unknown question type %(type)s."), {"type": repr(kind)})
    if not _wording(question.get("label")):
        found["label"] = Problem(N_("The question needs a French wording."))
    if kind in CHOICE_TYPES:
        _check_choices(question.get("choices"), found)
    if kind in NUMBER_TYPES:
        _check_bounds(question, found)
    return found


def check_definition(definition: Mapping[str, Any]) -> Problems:
    """What is wrong with a definition, by question index then field (empty when it is fine);
    index -1 is the definition itself."""
    questions = definition.get("questions")
    if not isinstance(questions, list):
        return {-1: {"questions": Problem(N_("A questionnaire needs a list of questions."))}}
    problems: Problems = {}
    ids: dict[str, list[int]] = {}
    for index, question in enumerate(questions):
        found = check_question(question)
        if found:
            problems[index] = found
        if isinstance(question, Mapping) and isinstance(question.get("id"), str):
            ids.setdefault(question["id"], []).append(index)
    for question_id, indexes in ids.items():
        for index in indexes if len(indexes) > 1 else ():
            problems.setdefault(index, {}).setdefault(
                "id",
                Problem(
                    N_("Another question already has the identifier %(id)s."), {"id": question_id}
                ),
            )
    return problems


def clean_question(question: Mapping[str, Any]) -> dict[str, Any]:
    """The question with only what its type uses: wording without blank languages, choices
    for a choice, bounds for a number or a scale, the ends' wording for a scale."""
    kind = question.get("type")
    clean: dict[str, Any] = {
        "id": question.get("id"),
        "type": kind,
        "required": bool(question.get("required")),
    }
    keep = ["label", "help"]
    if kind == "scale":
        keep += ["min_label", "max_label"]
    for key in keep:
        value = question.get(key)
        if isinstance(value, Mapping):
            value = {lang: str(text).strip() for lang, text in value.items() if str(text).strip()}
        elif isinstance(value, str):
            value = {"fr": value.strip()} if value.strip() else None
        if value:
            clean[key] = value
    if kind in CHOICE_TYPES:
        clean["choices"] = question.get("choices")
    if kind in NUMBER_TYPES:
        for key in ("min", "max"):
            if question.get(key) is not None:
                clean[key] = question[key]
    return clean


# -- reading ------------------------------------------------------------------------------------


def _kind(kind: str) -> str:
    if kind not in {k.value for k in QuestionnaireKind}:
        raise NotFound(N_("No such questionnaire."))
    return kind


def answer_count(session: Session, questionnaire_id: int) -> int:
    """How many people answered this version."""
    return (
        session.scalar(select(func.count()).where(Response.questionnaire_id == questionnaire_id))
        or 0
    )


def summary(session: Session, community_id: int, kind: str) -> QuestionnaireSummary:
    """The newest version of one questionnaire, its questions and its answers."""
    newest = ensure_questionnaire(session, community_id, _kind(kind))
    every = session.scalar(
        select(func.count())
        .select_from(Response)
        .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
        .where(Questionnaire.community_id == community_id, Questionnaire.kind == kind)
    )
    return QuestionnaireSummary(
        kind=kind,
        questionnaire_id=newest.id,
        version=newest.version,
        questions=len(newest.definition.get("questions", [])),
        answers=answer_count(session, newest.id),
        all_answers=every or 0,
    )


def summaries(session: Session, community_id: int) -> list[QuestionnaireSummary]:
    """Every questionnaire of the community (the shipped ones until it changes them)."""
    return [summary(session, community_id, kind.value) for kind in QuestionnaireKind]


def criteria_using(session: Session, community_id: int, question_id: str) -> list[str]:
    """The short names of the rubric's criteria scored from this application question."""
    return list(
        session.scalars(
            select(Criterion.key)
            .where(Criterion.community_id == community_id, Criterion.question == question_id)
            .order_by(Criterion.position, Criterion.id)
        )
    )


def question_of(session: Session, community_id: int, kind: str, question_id: str) -> dict[str, Any]:
    """One question of the newest version, as stored."""
    newest = ensure_questionnaire(session, community_id, _kind(kind))
    return copy.deepcopy(_questions(newest.definition)[_index(newest.definition, question_id)])


def _questions(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(definition.get("questions", []))


def _index(definition: Mapping[str, Any], question_id: str) -> int:
    for index, question in enumerate(_questions(definition)):
        if question.get("id") == question_id:
            return index
    raise NotFound(N_("This questionnaire has no question %(id)s."), id=question_id)


# -- changing -----------------------------------------------------------------------------------

# A change rewrites the questions in place and returns the index of the question to check.
Change = Callable[[list[dict[str, Any]]], int | None]


def _apply(
    session: Session,
    community_id: int,
    kind: str,
    change: Change,
    *,
    actor: str,
    action: str,
    details: dict[str, Any],
) -> Edited:
    """Apply ``change`` to a copy of the newest version's questions, check the question it
    names, then store them: in place, or as the next version when the newest has answers.
    After a :class:`DomainError` the caller rolls the session back."""
    newest = ensure_questionnaire(session, community_id, _kind(kind))
    session.refresh(newest, with_for_update=True)  # one change at a time (PostgreSQL)
    definition = copy.deepcopy(dict(newest.definition))
    questions = copy.deepcopy(_questions(definition))
    checked = change(questions)
    definition["questions"] = questions
    if checked is not None:
        problems = check_definition(definition).get(checked)
        if problems:
            raise InvalidQuestion(problems)
    frozen = answer_count(session, newest.id) > 0
    target = newest
    if frozen:
        target = Questionnaire(
            community_id=community_id,
            kind=kind,
            version=newest.version + 1,
            anonymity=newest.anonymity,
            opens_at=newest.opens_at,
            closes_at=newest.closes_at,
        )
        session.add(target)
    definition["version"] = target.version
    target.definition = definition
    try:
        session.flush()
    except IntegrityError as exc:  # another coordinator made this version a moment ago
        raise DomainError(
            N_("This questionnaire changed at the same time: reload it and try again.")
        ) from exc
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action=f"questionnaire.{action}",
            details={"kind": kind, "version": target.version, "new_version": frozen, **details},
        )
    )
    return Edited(target.id, target.version, frozen)


def _guard_criteria(
    session: Session, community_id: int, kind: str, question_id: str, message: str
) -> None:
    """Refuse when a criterion of the rubric is scored from this application question."""
    if kind != QuestionnaireKind.APPLICATION:
        return
    keys = criteria_using(session, community_id, question_id)
    if keys:
        raise DomainError(message, criterion=", ".join(keys), id=question_id)


def _family(kind: Any) -> str:
    """How a criterion scores a type: points per choice, bounds of a number, or not at all."""
    if kind in CHOICE_TYPES:
        return "choice"
    return "number" if kind in NUMBER_TYPES else "other"


def add_question(
    session: Session, community_id: int, kind: str, question: Mapping[str, Any], *, actor: str
) -> Edited:
    """Add a question at the end of the questionnaire."""
    clean = clean_question(question)
    problems = check_question(clean)
    if problems:
        raise InvalidQuestion(problems)

    def change(questions: list[dict[str, Any]]) -> int:
        questions.append(clean)
        return len(questions) - 1

    details = {"question": clean["id"]}
    return _apply(
        session, community_id, kind, change, actor=actor, action="question_added", details=details
    )


def update_question(
    session: Session,
    community_id: int,
    kind: str,
    question_id: str,
    question: Mapping[str, Any],
    *,
    actor: str,
) -> Edited:
    """Change a question where it stands; while a criterion of the rubric is scored from it,
    neither its identifier nor its kind of answer (a choice, a number) can change."""
    clean = clean_question(question)
    before = question_of(session, community_id, kind, question_id)
    renamed = clean.get("id") != question_id
    if renamed or _family(clean.get("type")) != _family(before.get("type")):
        _guard_criteria(session, community_id, kind, question_id, RENAMED if renamed else RETYPED)

    def change(questions: list[dict[str, Any]]) -> int:
        index = _index({"questions": questions}, question_id)
        questions[index] = clean
        return index

    details = {"question": question_id, "now": clean.get("id")}
    return _apply(
        session, community_id, kind, change, actor=actor, action="question_changed", details=details
    )


def remove_question(
    session: Session, community_id: int, kind: str, question_id: str, *, actor: str
) -> Edited:
    """Remove a question; refused while a criterion of the rubric is scored from it."""
    _guard_criteria(session, community_id, _kind(kind), question_id, REMOVED)

    def change(questions: list[dict[str, Any]]) -> None:
        index = _index({"questions": questions}, question_id)
        if len(questions) == 1:
            raise DomainError(N_("A questionnaire keeps at least one question."))
        del questions[index]

    details = {"question": question_id}
    return _apply(
        session, community_id, kind, change, actor=actor, action="question_removed", details=details
    )


def move_question(
    session: Session, community_id: int, kind: str, question_id: str, offset: int, *, actor: str
) -> Edited:
    """Move a question up (``offset`` -1) or down (+1) by one place."""
    if offset not in (-1, 1):
        raise DomainError(N_("A question moves one place up or down."))

    def change(questions: list[dict[str, Any]]) -> None:
        index = _index({"questions": questions}, question_id)
        target = index + offset
        if not 0 <= target < len(questions):
            first = N_("%(id)s is already the first question.")
            last = N_("%(id)s is already the last question.")
            raise DomainError(first if offset < 0 else last, id=question_id)
        questions[index], questions[target] = questions[target], questions[index]

    details: dict[str, Any] = {"question": question_id, "offset": offset}
    return _apply(
        session, community_id, kind, change, actor=actor, action="question_moved", details=details
    )
