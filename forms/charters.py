"""Forms of the charter's coordinator pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class FollowUpForm(FlaskForm):
    """The follow-up of the founding meeting: the commitments agreed there."""

    commitments = TextAreaField(
        _l("The minimum commitments agreed at the meeting"),
        description=_l(
            "One commitment per line, e.g. “Come to at least four meetings a year.” Each member "
            "confirms them from the email; they also show on the community's public page."
        ),
        validators=[DataRequired(), Length(max=2000)],
    )
