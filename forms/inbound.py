"""The inbox forms: correct a message's reading, dismiss it, answer it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField


class CorrectionForm(FlaskForm):
    """What the message means, as the coordinator reads it."""

    intent = SelectField(_l("What the person means"), choices=[])

    def offer(self, labels: Mapping[str, object], keys: Sequence[str]) -> CorrectionForm:
        """The readings a coordinator may choose, with their translated names."""
        self.intent.choices = [(key, str(labels[key])) for key in keys]
        return self


class DismissForm(FlaskForm):
    """Nothing to do: only the CSRF token."""


class AnswerForm(FlaskForm):
    """The coordinator's answer; the service says whether it can go."""

    answer = TextAreaField(
        _l("Your answer"),
        description=_l(
            "Sent by email from the community's address, above their message. "
            "Their next reply comes back to this inbox."
        ),
    )
