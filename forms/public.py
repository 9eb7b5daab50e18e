"""The public community page's form: "I'm interested", for people nobody invited."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class InterestForm(FlaskForm):
    """Who the person is and their agreement to be written to (confirmed by email)."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=320)])
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=200)])
    last_name = StringField(_l("Last name"), validators=[Optional(), Length(max=200)])
    organization = StringField(
        _l("Department or organisation"), validators=[Optional(), Length(max=200)]
    )
    language = SelectField(
        _l("Language of our emails"),
        choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")],
        validators=[Optional()],
    )
    consent = BooleanField(
        _l("I agree to receive emails about this community. I can unsubscribe at any time."),
        validators=[DataRequired(_l("We can only write to you with your agreement."))],
    )
    ref = HiddenField(validators=[Optional(), Length(max=24)])  # the referral code, if any


class ConfirmForm(FlaskForm):
    """The confirmation button: only the CSRF token."""
