"""What the applications say as a whole: the downloadable table of applications and scores, and
what a group of applicants covers (answers of the choice questions, organisations, totals)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.questionnaires import CHOICE_TYPES, NUMBER_TYPES, default_definition, localised
from webapp.exports import Cell
from webapp.i18n import translations_for
from webapp.models import (
    CriterionSource,
    Membership,
    MembershipState,
    Person,
    Questionnaire,
    QuestionnaireKind,
)

from .applications import (
    Applicant,
    applicants,
    organization_key,
    percent,
    rubric,
    sent_answers,
)

# The selected group: those chosen, whether or not they have confirmed yet.
GROUP_STATES = (MembershipState.SELECTED, MembershipState.MEMBER)


def application_questions(session: Session, community_id: int) -> list[dict[str, Any]]:
    """The questions of the community's application questionnaire: the newest version's, in
    its order and wording, then those only older versions asked; the shipped questionnaire's
    while the community has none (nothing is created)."""
    definitions = list(
        session.scalars(
            select(Questionnaire.definition)
            .where(
                Questionnaire.community_id == community_id,
                Questionnaire.kind == QuestionnaireKind.APPLICATION,
            )
            .order_by(Questionnaire.version.desc())
        )
    ) or [default_definition(QuestionnaireKind.APPLICATION)]
    found: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        for question in (definition or {}).get("questions", []):
            found.setdefault(str(question["id"]), question)
    return list(found.values())


def _given(value: object) -> bool:
    return value is not None and value != "" and value != []


def _choice_names(question: Mapping[str, Any], locale: str) -> dict[str, str]:
    """The wording of each answer of a choice question, by its value, in the question's order."""
    return {str(c["value"]): localised(c.get("label"), locale) for c in question.get("choices", [])}


def answer_cell(question: Mapping[str, Any], value: object, locale: str) -> Cell:
    """An answer as a spreadsheet shows it: a number as a number, choices by their wording
    (several joined with "; "), yes or no in words; None when unanswered."""
    if not _given(value):
        return None
    if isinstance(value, bool):
        gettext = translations_for(locale).gettext
        return gettext("yes") if value else gettext("no")
    if question.get("type") in NUMBER_TYPES and isinstance(value, int | float):
        return value if math.isfinite(value) else None
    names = _choice_names(question, locale)
    values = value if isinstance(value, list) else [value]
    return "; ".join(names.get(str(v)) or str(v) for v in values)


def export_rows(
    session: Session, community_id: int, locale: str
) -> tuple[list[str], list[list[Cell]]]:
    """The applications and their scores as a table, best first: who they are, their state,
    the score, each criterion (0 to 100), the reviewers' disagreement on each rated criterion,
    then each answer. Fixed headers are in ``locale``; the others are the rubric's and the
    questionnaire's wording."""
    gettext = translations_for(locale).gettext
    criteria = rubric(session, community_id)
    rated = [c for c in criteria if c.source == CriterionSource.RATING]
    questions = application_questions(session, community_id)
    ranked_applicants = applicants(session, community_id)
    answers = sent_answers(session, community_id)
    people = {
        person.id: (person, membership)
        for membership, person in session.execute(
            select(Membership, Person)
            .join(Person, Person.id == Membership.person_id)
            .where(
                Membership.community_id == community_id,
                Membership.person_id.in_([a.person_id for a in ranked_applicants]),
            )
        )
    }
    headers = [
        gettext("Email"),
        gettext("First name"),
        gettext("Last name"),
        gettext("Organization"),
        gettext("Source"),
        gettext("State"),
        gettext("Score"),
        *(localised(c.label, locale) or c.key for c in criteria),
        *(
            gettext("%(criterion)s: disagreement") % {"criterion": localised(c.label, locale)}
            for c in rated
        ),
        *(localised(q.get("label"), locale) or str(q["id"]) for q in questions),
    ]
    rows: list[list[Cell]] = []
    for applicant in ranked_applicants:
        person, membership = people[applicant.person_id]
        given = answers.get(applicant.person_id, {})
        spreads = [applicant.criteria[c.key] for c in rated]
        rows.append(
            [
                person.email,
                person.first_name,
                person.last_name,
                applicant.organization,
                membership.source,
                membership.state,
                applicant.score,
                *(percent(applicant.criteria[c.key]) for c in criteria),
                *(s.disagreement if s.ratings > 1 else None for s in spreads),
                *(answer_cell(q, given.get(str(q["id"])), locale) for q in questions),
            ]
        )
    return headers, rows


@dataclass(frozen=True)
class ChoiceCount:
    """How many people of a group gave one answer of a choice question."""

    value: str
    label: str
    count: int
    offered: bool = True  # False: an answer the questionnaire no longer offers


@dataclass(frozen=True)
class ChoiceCoverage:
    """A choice question: the count per answer, and how many gave none."""

    question: str
    label: str
    counts: tuple[ChoiceCount, ...]
    unanswered: int
    several: bool = False  # a multiple choice: the counts may add up to more than the group

    def count(self, value: str) -> int:
        """How many gave this answer."""
        return next((c.count for c in self.counts if c.value == value), 0)

    @property
    def missing(self) -> list[ChoiceCount]:
        """The answers offered that nobody in the group gave."""
        return [c for c in self.counts if c.offered and c.count == 0]


@dataclass(frozen=True)
class NumberTotal:
    """A number question: the sum and the mean over those of the group who answered."""

    question: str
    label: str
    answered: int
    total: float
    mean: float | None


@dataclass(frozen=True)
class OrganizationCount:
    """An organisation (as first written) and how many of the group belong to it."""

    key: str
    name: str
    count: int


@dataclass(frozen=True)
class Coverage:
    """What a group covers: per choice question, number totals, organisations."""

    size: int
    choices: tuple[ChoiceCoverage, ...]
    numbers: tuple[NumberTotal, ...]
    organizations: tuple[OrganizationCount, ...]
    without_organization: int


def _as_number(value: object) -> float | None:
    """A number answer as a float (``8,5`` as typed in French too); None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value if isinstance(value, int | float) else str(value).replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def coverage(
    questions: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any]],
    organizations: Sequence[str],
    locale: str,
) -> Coverage:
    """What a group covers, from each member's answers and organisation: the count of people
    per answer of every choice question (the answers nobody gave are :attr:`missing`), the
    sum and mean of every number question, and the organisations with their counts."""
    choices, numbers = [], []
    for question in questions:
        kind, qid = question.get("type"), str(question["id"])
        label = localised(question.get("label"), locale) or qid
        given = [a.get(qid) for a in answers if _given(a.get(qid))]
        if kind in CHOICE_TYPES:
            tally: Counter[str] = Counter()
            for value in given:
                tally.update({str(v) for v in (value if isinstance(value, list) else [value])})
            labels = _choice_names(question, locale)
            offered = list(labels)
            counts = [ChoiceCount(v, labels[v] or v, tally[v]) for v in offered]
            extra = sorted(set(tally) - set(offered))
            counts += [ChoiceCount(v, v, tally[v], offered=False) for v in extra]
            unanswered = len(answers) - len(given)
            several = kind == "multiple_choice"
            choices.append(ChoiceCoverage(qid, label, tuple(counts), unanswered, several))
        elif kind in NUMBER_TYPES:
            values = [n for n in map(_as_number, given) if n is not None]
            mean = round(sum(values) / len(values), 1) if values else None
            numbers.append(NumberTotal(qid, label, len(values), sum(values), mean))
    names: dict[str, str] = {}
    per_org: Counter[str] = Counter()
    for organization in organizations:
        if key := organization_key(organization):
            names.setdefault(key, " ".join(organization.split()))
            per_org[key] += 1
    listed = sorted(per_org.items(), key=lambda item: (-item[1], item[0]))
    return Coverage(
        size=len(answers),
        choices=tuple(choices),
        numbers=tuple(numbers),
        organizations=tuple(OrganizationCount(k, names[k], n) for k, n in listed),
        without_organization=len(organizations) - sum(per_org.values()),
    )


def selected_group(ranked_applicants: Iterable[Applicant]) -> list[Applicant]:
    """The applicants selected, confirmed or not."""
    return [a for a in ranked_applicants if a.decision in GROUP_STATES]


def coverages(
    session: Session, community_id: int, groups: Sequence[Sequence[Applicant]], locale: str
) -> list[Coverage]:
    """The coverage of each group of applicants, from their latest application."""
    questions = application_questions(session, community_id)
    answers = sent_answers(session, community_id)
    return [
        coverage(
            questions,
            [answers.get(a.person_id, {}) for a in group],
            [a.organization for a in group],
            locale,
        )
        for group in groups
    ]
