"""Questionnaire definitions (fr/en) and the WTForms classes built from them at run time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget, html_params

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
TEXT_LIMIT = 5000
EMAIL_LIMIT = 320

CHOICE_TYPES = ("single_choice", "multiple_choice")
NUMBER_TYPES = ("number", "scale")  # answers that are numbers
QUESTION_TYPES = (
    "short_text",
    "long_text",
    "single_choice",
    "multiple_choice",
    "number",
    "boolean",
    "scale",
    "email",
    "date",
    "availability",
)
SCALE_DEFAULT = (1, 5)
WEEKDAYS = (
    ("mon", _l("Monday")),
    ("tue", _l("Tuesday")),
    ("wed", _l("Wednesday")),
    ("thu", _l("Thursday")),
    ("fri", _l("Friday")),
    ("sat", _l("Saturday")),
    ("sun", _l("Sunday")),
)
DAY_PARTS = (("morning", _l("Morning")), ("afternoon", _l("Afternoon")), ("evening", _l("Evening")))


def _slot_label(day: LazyString, part: LazyString) -> LazyString:
    """ "Monday morning", in the reader's language when it is shown."""
    return LazyString(lambda: _("%(day)s %(part)s", day=str(day), part=str(part).lower()))


# An availability answer is a list of these slots, in this order: "mon-morning", …
AVAILABILITY_LABELS: dict[str, LazyString] = {
    f"{day}-{part}": _slot_label(day_label, part_label)
    for day, day_label in WEEKDAYS
    for part, part_label in DAY_PARTS
}


@cache
def _shipped(kind: str) -> str:
    return (DEFINITIONS / f"{kind}.json").read_text(encoding="utf-8")


def default_definition(kind: str) -> dict[str, Any]:
    """The questionnaire shipped with Amorce for this kind (a fresh copy, safe to change)."""
    return dict(json.loads(_shipped(kind)))


def localised(text: dict[str, str] | str | None, locale: str) -> str:
    """The wording in this locale, falling back on French then on any wording."""
    if not text:
        return ""
    if isinstance(text, str):
        return text
    return text.get(locale) or text.get("fr") or next(iter(text.values()), "")


def field_name(question: dict[str, Any]) -> str:
    """The form field of a question: ``question_<id>``."""
    return f"question_{question['id']}"


def scale_bounds(question: Mapping[str, Any]) -> tuple[int, int]:
    """The lowest and highest points of a scale question (1 to 5 unless it says otherwise)."""
    low, high = question.get("min"), question.get("max")
    return (
        SCALE_DEFAULT[0] if low is None else int(low),
        SCALE_DEFAULT[1] if high is None else int(high),
    )


def _stripped(value: Any) -> Any:
    """Text without the spaces around it (a pasted address often has some)."""
    return value.strip() if isinstance(value, str) else value


class QuestionnaireForm(FlaskForm):
    """Base of every built questionnaire form."""


class IsoDateField(DateField):
    """A date input whose saved value may also be the ISO text an answer is stored as."""

    def process_data(self, value: Any) -> None:
        """Take a ``date`` or its ``YYYY-MM-DD`` text."""
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                value = None
        super().process_data(value)


class AvailabilityGrid:
    """A table of checkboxes, weekdays by parts of the day, grouped in a fieldset."""

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        described = kwargs.get("aria-describedby")
        options = {option.data: option for option in field}
        head = "".join(f'<th scope="col">{escape(label)}</th>' for _part, label in DAY_PARTS)
        rows = []
        for day, day_label in WEEKDAYS:
            cells = []
            for part, _label in DAY_PARTS:
                option = options[f"{day}-{part}"]
                cells.append(f"<td>{option()} {option.label(class_='visually-hidden')}</td>")
            rows.append(f'<tr><th scope="row">{escape(day_label)}</th>{"".join(cells)}</tr>')
        attrs = html_params(id=field.id, class_="availability", **{"aria-describedby": described})
        return Markup(
            f"<fieldset {attrs}>"
            f'<legend class="visually-hidden">{escape(field.label.text)}</legend>'
            f"<table><thead><tr><td></td>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</fieldset>"
        )


class AvailabilityField(SelectMultipleField):
    """The parts of the week a person is available, as slots like ``mon-morning``."""

    widget = AvailabilityGrid()
    option_widget = CheckboxInput()


def _choices(question: Mapping[str, Any], locale: str) -> list[SelectChoice]:
    return [SelectChoice(c["value"], localised(c["label"], locale)) for c in question["choices"]]


def _scale_help(question: Mapping[str, Any], help_text: str, locale: str) -> str:
    """The help, followed by the wording of the scale's two ends when it has some (worded now,
    in the reader's language: a lazy string would skip the escaping of the wording)."""
    low, high = scale_bounds(question)
    ends = [
        _("%(point)s: %(wording)s", point=point, wording=wording)
        for point, key in ((low, "min_label"), (high, "max_label"))
        if (wording := localised(question.get(key), locale))
    ]
    return " ".join([help_text, " · ".join(ends)]).strip()


def _field(question: Mapping[str, Any], locale: str) -> Field:
    """The unbound field of one question."""
    label = localised(question.get("label"), locale)
    help_text = localised(question.get("help"), locale)
    required = bool(question.get("required"))
    kind = question["type"]
    kwargs: dict[str, Any] = {"description": help_text}
    presence: list[Any] = [InputRequired()] if required else [Optional()]
    if kind == "single_choice":
        return RadioField(
            label,
            choices=_choices(question, locale),
            validators=presence,
            validate_choice=True,
            **kwargs,
        )
    if kind == "multiple_choice":
        return SelectMultipleField(
            label,
            choices=_choices(question, locale),
            validators=presence,
            widget=ListWidget(prefix_label=False),
            option_widget=CheckboxInput(),
            **kwargs,
        )
    if kind == "number":
        low, high = question.get("min"), question.get("max")
        if low is not None or high is not None:
            presence.append(NumberRange(min=low, max=high))
        return IntegerField(label, validators=presence, **kwargs)
    if kind == "scale":
        low, high = scale_bounds(question)
        kwargs["description"] = _scale_help(question, help_text, locale)
        points = [SelectChoice(point, str(point)) for point in range(low, high + 1)]
        return RadioField(
            label, choices=points, coerce=int, validators=presence, validate_choice=True, **kwargs
        )
    if kind == "boolean":
        return BooleanField(label, validators=[DataRequired()] if required else [], **kwargs)
    if kind in ("short_text", "long_text"):
        field_type = TextAreaField if kind == "long_text" else StringField
        validators = [DataRequired()] if required else [Optional()]
        return field_type(label, validators=[*validators, Length(max=TEXT_LIMIT)], **kwargs)
    if kind == "email":
        validators = [DataRequired()] if required else [Optional()]
        checks = [*validators, Length(max=EMAIL_LIMIT), Email()]
        return EmailField(label, validators=checks, filters=[_stripped], **kwargs)
    if kind == "date":
        return IsoDateField(label, validators=presence, **kwargs)
    if kind == "availability":
        slots = [SelectChoice(slot, label) for slot, label in AVAILABILITY_LABELS.items()]
        return AvailabilityField(label, choices=slots, validators=presence, **kwargs)
    raise ValueError(f"unsupported question type {kind!r}")


def build_form_class(definition: dict[str, Any], locale: str) -> type[QuestionnaireForm]:
    """A form class with one field per question, labelled in ``locale``."""
    attrs = {field_name(q): _field(q, locale) for q in definition["questions"]}
    return type("BuiltQuestionnaireForm", (QuestionnaireForm,), attrs)


def _answer(kind: str, value: Any) -> Any:
    """A field's value as a JSON value: text stripped, an address lowercased, a date as ISO."""
    if kind == "email":
        return (value or "").strip().lower()
    if isinstance(value, date):
        return value.isoformat()
    if kind == "availability":
        given = set(value or ())
        return [slot for slot in AVAILABILITY_LABELS if slot in given]
    if isinstance(value, str):
        return value.strip()
    return value


def answers_from_form(form: QuestionnaireForm, definition: dict[str, Any]) -> dict[str, Any]:
    """The answers keyed by question id, as JSON values."""
    return {
        question["id"]: _answer(question["type"], form[field_name(question)].data)
        for question in definition["questions"]
    }


def form_data(
    answers: dict[str, Any], definition: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Saved answers as keyword data to pre-fill a built form; with the ``definition``, a date
    stored as ISO text becomes a ``date`` again."""
    data = {f"question_{key}": value for key, value in answers.items()}
    for question in (definition or {}).get("questions", []):
        value = answers.get(question.get("id"))
        if question.get("type") == "date" and isinstance(value, str):
            try:
                data[field_name(question)] = date.fromisoformat(value)
            except ValueError:
                data[field_name(question)] = None
    return data
