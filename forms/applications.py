"""The applications forms: a criterion of the rubric, a reviewer's ratings, a decision, the caps
of a suggested group."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    FloatField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from forms.questionnaires import CHOICE_TYPES, NUMBER_TYPES, localised
from webapp.models import Criterion, CriterionSource
from webapp.services.applications import MAX_RATING, CriterionData

CAP_LIMIT = 10000


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def finite(_form: FlaskForm, field: Field) -> None:
    """Refuse ``inf`` and ``nan``, which a number input lets through."""
    if field.data is not None and not math.isfinite(field.data):
        raise ValidationError(_("Give an ordinary number."))


@dataclass(frozen=True)
class ScorableQuestion:
    """A question of the application that a criterion can be scored from."""

    id: str
    label: str
    type: str
    # For choices: (value, label, the form field holding its points).
    choices: tuple[tuple[str, str, str], ...] = ()

    def choice_label(self, value: str) -> str:
        """The wording of one of its answers (the value itself when no longer offered)."""
        return next((label for v, label, _name in self.choices if v == value), value)

    @property
    def is_choice(self) -> bool:
        """Whether it is scored by points per answer (rather than between a min and a max)."""
        return self.type in CHOICE_TYPES


def scorable_questions(definition: Mapping[str, Any], locale: str) -> list[ScorableQuestion]:
    """The choice and number questions of an application questionnaire, worded in ``locale``."""
    found = []
    for index, question in enumerate(definition.get("questions", [])):
        kind = question.get("type")
        if kind not in (*CHOICE_TYPES, *NUMBER_TYPES):
            continue
        choices = tuple(
            (str(c["value"]), localised(c.get("label"), locale), f"points_{index}_{number}")
            for number, c in enumerate(question.get("choices", []) if kind in CHOICE_TYPES else [])
        )
        found.append(
            ScorableQuestion(
                str(question["id"]), localised(question.get("label"), locale), kind, choices
            )
        )
    return found


class SuggestionForm(FlaskForm):
    """The caps of a suggested group, sent by GET: no CSRF token, nothing changes."""

    class Meta:
        csrf = False

    size = IntegerField(
        _l("Group size"),
        validators=[Optional(), NumberRange(min=1, max=CAP_LIMIT)],
        description=_l("At most this many people; empty for no limit."),
    )
    per_organization = IntegerField(
        _l("At most per organisation"),
        validators=[Optional(), NumberRange(min=1, max=CAP_LIMIT)],
        description=_l("Empty for no limit. Applicants without an organisation are not capped."),
    )


class CriterionForm(FlaskForm):
    """A criterion of the rubric; the points fields are added per choice question by
    :func:`criterion_form_class`."""

    questions: Sequence[ScorableQuestion] = ()

    key = StringField(
        _l("Short name"),
        validators=[InputRequired(), Length(max=40)],
        filters=[_strip],
        description=_l(
            "Lowercase letters, digits and _, e.g. expertise: the column of the ranking. "
            "A criterion with the same short name is replaced."
        ),
    )
    label_fr = StringField(_l("Name in French"), validators=[Length(max=200)], filters=[_strip])
    label_en = StringField(_l("Name in English"), validators=[Length(max=200)], filters=[_strip])
    weight = FloatField(
        _l("Weight"),
        default=1,
        validators=[InputRequired(), finite],
        description=_l("Above 0, at most 100: how much it counts against the other criteria."),
    )
    source = RadioField(
        _l("How it is scored"),
        choices=[
            SelectChoice(
                CriterionSource.RATING, _l("By reviewers, who rate each applicant 0 to 5")
            ),
            SelectChoice(CriterionSource.ANSWER, _l("From an answer to the application")),
        ],
        default=CriterionSource.RATING,
        validators=[InputRequired()],
    )
    question = SelectField(
        _l("The question"),
        choices=[],
        default="",
    )
    minimum = FloatField(
        _l("Minimum: worth 0%"),
        validators=[Optional(), finite],
        description=_l("An answer at or below it is worth 0%."),
    )
    maximum = FloatField(
        _l("Maximum: worth 100%"),
        validators=[Optional(), finite],
        description=_l("An answer at or above it is worth 100%."),
    )
    required = BooleanField(
        _l("Required: an applicant without a value for it is ranked but never suggested")
    )

    def offer(self, empty_label: str, extra: str = "") -> CriterionForm:
        """The questions to choose from (plus ``extra``, a question no longer asked)."""
        choices = [("", empty_label)] + [(q.id, q.label) for q in self.questions]
        if extra and extra not in {q.id for q in self.questions}:
            choices.append((extra, extra))
        self.question.choices = choices
        return self

    def points_fields(self, question: ScorableQuestion) -> list[tuple[str, Field]]:
        """The points field of each answer of a choice question, with the answer's value."""
        return [(value, self[name]) for value, _label, name in question.choices]

    def fill(self, criterion: Criterion) -> None:
        """Show a saved criterion, to change it."""
        self.key.data = criterion.key
        self.label_fr.data = criterion.label.get("fr", "")
        self.label_en.data = criterion.label.get("en", "")
        self.weight.data = criterion.weight
        self.source.data = criterion.source
        self.question.data = criterion.question
        scoring = criterion.scoring or {}
        self.minimum.data = scoring.get("min")
        self.maximum.data = scoring.get("max")
        self.required.data = criterion.required
        points = {str(k): v for k, v in (scoring.get("points") or {}).items()}
        for question in self.questions:
            if question.id == criterion.question:
                for value, field in self.points_fields(question):
                    field.data = points.get(value)

    def criterion_data(self) -> CriterionData:
        """What was typed, as the service takes it (the service says whether it can be scored)."""
        label_fr, label_en = self.label_fr.data or "", self.label_en.data or ""
        source = self.source.data or CriterionSource.RATING
        question_id, scoring = "", {}
        if source == CriterionSource.ANSWER:
            question_id = self.question.data or ""
            scoring = self._scoring(question_id)
        return CriterionData(
            key=self.key.data or "",
            label={"fr": label_fr or label_en, "en": label_en or label_fr},
            weight=float(self.weight.data if self.weight.data is not None else 0),
            source=source,
            question=question_id,
            scoring=scoring,
            required=bool(self.required.data),
        )

    def _scoring(self, question_id: str) -> dict[str, Any]:
        question = next((q for q in self.questions if q.id == question_id), None)
        if question is not None and question.is_choice:
            # An empty box is worth nothing; the service refuses a rubric where all are empty.
            return {
                "points": {
                    value: field.data
                    for value, field in self.points_fields(question)
                    if field.data is not None
                }
            }
        bounds = {"min": self.minimum.data, "max": self.maximum.data}
        return {key: value for key, value in bounds.items() if value is not None}


def criterion_form_class(questions: Sequence[ScorableQuestion]) -> type[CriterionForm]:
    """A criterion form with one points field per answer of each choice question."""
    attrs: dict[str, Any] = {"questions": tuple(questions)}
    for question in questions:
        for _value, label, name in question.choices:
            attrs[name] = FloatField(label, validators=[Optional(), finite], render_kw={"min": 0})
    return type("CriterionFormWithPoints", (CriterionForm,), attrs)


RATING_CHOICES = [SelectChoice(score, str(score)) for score in range(MAX_RATING + 1)]


class RatingsForm(FlaskForm):
    """A reviewer's ratings of one applicant, one field per criterion rated by reviewers."""

    criteria: Sequence[tuple[int, str]] = ()

    def rating_fields(self) -> list[tuple[int, Field]]:
        """Each criterion's id and its field."""
        return [(criterion_id, self[name]) for criterion_id, name in self.criteria]

    def given(self) -> dict[int, int]:
        """The ratings chosen, by criterion id; a criterion left blank is not rated."""
        return {
            criterion_id: int(field.data)
            for criterion_id, field in self.rating_fields()
            if field.data is not None
        }


def ratings_form_class(criteria: Sequence[tuple[int, str]]) -> type[RatingsForm]:
    """A ratings form for these (criterion id, name) pairs."""
    attrs: dict[str, Any] = {"criteria": tuple((cid, f"rating_{cid}") for cid, _ in criteria)}
    for criterion_id, label in criteria:
        attrs[f"rating_{criterion_id}"] = RadioField(
            label,
            choices=RATING_CHOICES,
            coerce=int,
            validators=[Optional()],
            description=_l("0: not at all, 5: fully. Leave it empty to not rate it."),
        )
    return type("RatingsFormFor", (RatingsForm,), attrs)


class DecisionForm(FlaskForm):
    """Select, waitlist or decline: the button pressed gives the decision."""

    decision = RadioField(
        _l("Decision"),
        choices=["selected", "waitlisted", "declined"],
        validators=[InputRequired()],
    )
    back = HiddenField(default="applicant")
    size = HiddenField()
    per_organization = HiddenField()


class PromoteForm(FlaskForm):
    """A seat freed up: only the CSRF token."""
