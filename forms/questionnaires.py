"""Questionnaire definitions (fr/en) and the WTForms classes built from them at run time."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
TEXT_LIMIT = 5000


@cache
def default_definition(kind: str) -> dict[str, Any]:
    """The questionnaire shipped with Amorce for this kind."""
    return dict(json.loads((DEFINITIONS / f"{kind}.json").read_text(encoding="utf-8")))


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


class QuestionnaireForm(FlaskForm):
    """Base of every built questionnaire form."""


def build_form_class(definition: dict[str, Any], locale: str) -> type[QuestionnaireForm]:
    """A form class with one field per question, labelled in ``locale``."""
    attrs: dict[str, Any] = {}
    for question in definition["questions"]:
        label = localised(question.get("label"), locale)
        help_text = localised(question.get("help"), locale)
        required = bool(question.get("required"))
        kind = question["type"]
        kwargs: dict[str, Any] = {"description": help_text}
        if kind == "single_choice":
            choices = [
                SelectChoice(c["value"], localised(c["label"], locale)) for c in question["choices"]
            ]
            validators: list[Any] = [InputRequired()] if required else [Optional()]
            attrs[field_name(question)] = RadioField(
                label, choices=choices, validators=validators, validate_choice=True, **kwargs
            )
        elif kind == "multiple_choice":
            choices = [
                SelectChoice(c["value"], localised(c["label"], locale)) for c in question["choices"]
            ]
            validators = [InputRequired()] if required else [Optional()]
            attrs[field_name(question)] = SelectMultipleField(
                label,
                choices=choices,
                validators=validators,
                widget=ListWidget(prefix_label=False),
                option_widget=CheckboxInput(),
                **kwargs,
            )
        elif kind == "number":
            validators = [InputRequired()] if required else [Optional()]
            low, high = question.get("min"), question.get("max")
            if low is not None or high is not None:
                validators.append(NumberRange(min=low, max=high))
            attrs[field_name(question)] = IntegerField(label, validators=validators, **kwargs)
        elif kind == "boolean":
            validators = [DataRequired()] if required else []
            attrs[field_name(question)] = BooleanField(label, validators=validators, **kwargs)
        elif kind in ("short_text", "long_text"):
            field_type = TextAreaField if kind == "long_text" else StringField
            validators = [DataRequired()] if required else [Optional()]
            validators.append(Length(max=TEXT_LIMIT))
            attrs[field_name(question)] = field_type(label, validators=validators, **kwargs)
        else:
            raise ValueError(f"unsupported question type {kind!r}")
    return type("BuiltQuestionnaireForm", (QuestionnaireForm,), attrs)


def answers_from_form(form: QuestionnaireForm, definition: dict[str, Any]) -> dict[str, Any]:
    """The answers keyed by question id, as JSON values."""
    answers: dict[str, Any] = {}
    for question in definition["questions"]:
        value = form[field_name(question)].data
        if isinstance(value, str):
            value = value.strip()
        answers[question["id"]] = value
    return answers


def form_data(answers: dict[str, Any]) -> dict[str, Any]:
    """Saved answers as keyword data to pre-fill a built form."""
    return {f"question_{key}": value for key, value in answers.items()}
