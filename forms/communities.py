"""The form a coordinator fills to create or edit a community."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError


def _valid_zone(_form: FlaskForm, field: StringField) -> None:
    if field.data not in available_timezones():
        raise ValidationError(_l("Unknown time zone: use a name such as America/Toronto."))


class CommunityForm(FlaskForm):
    """Name, purpose, benefits and the sender identity required in every email."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        _l("Short name for links"),
        description=_l("Lowercase letters, digits and hyphens, e.g. cop-pedagogy."),
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(
                r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                message=_l("Use lowercase letters, digits and hyphens only."),
            ),
        ],
    )
    domain = StringField(_l("Domain of practice"), validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    benefits = TextAreaField(
        _l("Benefits of taking part"),
        description=_l("One benefit per line; they lead every recruitment message."),
        validators=[DataRequired(), Length(max=5000)],
    )
    commitment = TextAreaField(
        _l("What taking part asks"),
        description=_l(
            "Time and rhythm, e.g. “About two hours a month: one meeting every six weeks "
            "and an online exchange in between.” Shown on the public page."
        ),
        validators=[Optional(), Length(max=2000)],
    )
    language = SelectField(
        _l("Language"), choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")]
    )
    timezone = StringField(
        _l("Time zone"), default="America/Toronto", validators=[DataRequired(), _valid_zone]
    )
    sender_name = StringField(_l("Sender name"), validators=[DataRequired(), Length(max=200)])
    organization = StringField(_l("Organization"), validators=[DataRequired(), Length(max=200)])
    postal_address = TextAreaField(
        _l("Postal address"), validators=[DataRequired(), Length(max=500)]
    )
    contact_email = EmailField(
        _l("Contact email"), validators=[DataRequired(), Email(), Length(max=320)]
    )
    acknowledge_replies = BooleanField(
        _l("Acknowledge email replies"),
        description=_l(
            "People who answer by email get a short automatic “thank you, received”, "
            "at most once a day. Out-of-office replies and other automatic mail never get one."
        ),
    )

    def benefit_list(self) -> list[str]:
        """The benefits, one per non-empty line."""
        return [line.strip() for line in (self.benefits.data or "").splitlines() if line.strip()]
