"""The questionnaire editor's forms: a question, and the buttons that move or remove one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from forms.questionnaires import CHOICE_TYPES

WORDING_LIMIT = 500
HELP_LIMIT = 1000
BOUND_LIMIT = 1_000_000

TYPE_LABELS = {
    "short_text": _l("Short text"),
    "long_text": _l("Long text"),
    "single_choice": _l("One choice among several"),
    "multiple_choice": _l("Several choices"),
    "number": _l("Whole number"),
    "boolean": _l("Box to tick (yes or no)"),
    "scale": _l("Scale (from 1 to 5, say)"),
    "email": _l("Email address"),
    "date": _l("Date"),
    "availability": _l("Availability in the week (days × morning, afternoon, evening)"),
}


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _bilingual(fr: str | None, en: str | None) -> dict[str, str]:
    """A wording in French and English, without the blank one."""
    return {lang: text for lang, text in (("fr", fr or ""), ("en", en or "")) if text}


def parse_choices(text: str) -> list[dict[str, Any]]:
    """Choices typed one per line as ``value | French label | English label``; a line with only
    a value uses it as its French label. :class:`ValueError` names a line that cannot be read."""
    choices = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3:
            raise ValueError(
                _("Line %(number)d has more than three parts separated by |.", number=number)
            )
        if not parts[0]:
            raise ValueError(_("Line %(number)d needs a value before the first |.", number=number))
        value, fr, en = (parts + ["", ""])[:3]
        choices.append({"value": value, "label": _bilingual(fr or value, en)})
    return choices


def choices_text(choices: Any) -> str:
    """Choices as the editor shows them, one per line."""
    lines = []
    for choice in choices or []:
        label = choice.get("label") or {}
        if isinstance(label, str):
            label = {"fr": label}
        parts = [str(choice.get("value", "")), label.get("fr", ""), label.get("en", "")]
        lines.append(" | ".join(parts).rstrip(" |"))
    return "\n".join(lines)


class QuestionForm(FlaskForm):
    """A question of a questionnaire, as a coordinator types it."""

    identifier = StringField(
        _l("Identifier"),
        validators=[InputRequired(), Length(max=40)],
        filters=[_strip],
        description=_l(
            "1 to 40 lowercase letters, digits or _, starting with a letter, e.g. expertise. "
            "Answers and the rubric's criteria refer to it."
        ),
    )
    type = SelectField(
        _l("Type of answer"),
        choices=[SelectChoice(kind, label) for kind, label in TYPE_LABELS.items()],
        default="short_text",
        validators=[InputRequired()],
    )
    label_fr = StringField(
        _l("Question in French"),
        validators=[InputRequired(), Length(max=WORDING_LIMIT)],
        filters=[_strip],
    )
    label_en = StringField(
        _l("Question in English"),
        validators=[Length(max=WORDING_LIMIT)],
        filters=[_strip],
        description=_l("When it is empty, English speakers read the French question."),
    )
    help_fr = TextAreaField(
        _l("Help in French"),
        validators=[Length(max=HELP_LIMIT)],
        filters=[_strip],
        description=_l("Optional: shown under the question."),
        render_kw={"rows": 2},
    )
    help_en = TextAreaField(
        _l("Help in English"),
        validators=[Length(max=HELP_LIMIT)],
        filters=[_strip],
        render_kw={"rows": 2},
    )
    required = BooleanField(_l("An answer is required"))
    choices = TextAreaField(
        _l("Choices"),
        filters=[_strip],
        description=_l(
            "One per line: value | French label | English label, e.g. expert | Expert·e | Expert. "
            "The value is what answers keep and the rubric scores: change it with care."
        ),
        render_kw={"rows": 6},
    )
    minimum = IntegerField(
        _l("Minimum"),
        validators=[Optional(), NumberRange(min=-BOUND_LIMIT, max=BOUND_LIMIT)],
        description=_l("For a number: the smallest answer accepted. For a scale: 1 when empty."),
    )
    maximum = IntegerField(
        _l("Maximum"),
        validators=[Optional(), NumberRange(min=-BOUND_LIMIT, max=BOUND_LIMIT)],
        description=_l("For a number: the largest answer accepted. For a scale: 5 when empty."),
    )
    min_label_fr = StringField(
        _l("Wording of the minimum, in French"),
        validators=[Length(max=WORDING_LIMIT)],
        filters=[_strip],
        description=_l("Optional, e.g. Pas du tout."),
    )
    min_label_en = StringField(
        _l("Wording of the minimum, in English"),
        validators=[Length(max=WORDING_LIMIT)],
        filters=[_strip],
    )
    max_label_fr = StringField(
        _l("Wording of the maximum, in French"),
        validators=[Length(max=WORDING_LIMIT)],
        filters=[_strip],
        description=_l("Optional, e.g. Tout à fait."),
    )
    max_label_en = StringField(
        _l("Wording of the maximum, in English"),
        validators=[Length(max=WORDING_LIMIT)],
        filters=[_strip],
    )

    # The service's name of a field of the question → the field that shows its problem.
    PROBLEM_FIELDS = {
        "id": "identifier",
        "type": "type",
        "label": "label_fr",
        "choices": "choices",
        "min": "minimum",
        "max": "maximum",
    }

    def validate_choices(self, field: Field) -> None:
        """The choices of a choice question can be read (the service says whether they fit)."""
        if self.type.data not in CHOICE_TYPES:
            return
        try:
            parse_choices(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def fill(self, question: Mapping[str, Any]) -> None:
        """Show a stored question, to change it."""

        def text(key: str, lang: str) -> str:
            value = question.get(key) or {}
            if isinstance(value, str):
                return value if lang == "fr" else ""
            return str(value.get(lang, ""))

        self.identifier.data = question.get("id", "")
        self.type.data = question.get("type", "short_text")
        for key in ("label", "help", "min_label", "max_label"):
            for lang in ("fr", "en"):
                self[f"{key}_{lang}"].data = text(key, lang)
        self.required.data = bool(question.get("required"))
        self.choices.data = choices_text(question.get("choices"))
        self.minimum.data = question.get("min")
        self.maximum.data = question.get("max")

    def question(self, *, readable_choices: bool = True) -> dict[str, Any]:
        """What was typed, as the service takes it (the service keeps what the type uses);
        without ``readable_choices``, choices that cannot be read are left out."""
        kind = self.type.data or ""
        question: dict[str, Any] = {
            "id": self.identifier.data or "",
            "type": kind,
            "required": bool(self.required.data),
        }
        for key in ("label", "help", "min_label", "max_label"):
            question[key] = _bilingual(self[f"{key}_fr"].data, self[f"{key}_en"].data)
        if kind in CHOICE_TYPES:
            try:
                question["choices"] = parse_choices(self.choices.data or "")
            except ValueError:
                if readable_choices:
                    raise
                question["choices"] = []
        question["min"], question["max"] = self.minimum.data, self.maximum.data
        return question

    def show_problems(self, problems: Mapping[str, str]) -> list[str]:
        """Put the service's problems (worded for the reader) next to their fields, unless a
        field already shows one; returns those that belong to no field."""
        elsewhere = []
        for name, problem in problems.items():
            target = self.PROBLEM_FIELDS.get(name)
            if target is None:
                elsewhere.append(problem)
            elif not self[target].errors:
                self[target].errors = [*self[target].errors, problem]
        return elsewhere


class MoveForm(FlaskForm):
    """Move a question one place: the button pressed says which way."""

    direction = RadioField(choices=["up", "down"], validators=[InputRequired()])


class RemoveForm(FlaskForm):
    """Remove a question: only the CSRF token."""
