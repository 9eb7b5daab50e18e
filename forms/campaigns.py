"""The campaign composer and the test-send form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length


class CampaignForm(FlaskForm):
    """Subject and message in French and English."""

    name = StringField(_l("Campaign name (for you)"), validators=[Length(max=200)])
    subject_fr = StringField(_l("Subject (French)"), validators=[DataRequired(), Length(max=200)])
    message_fr = TextAreaField(
        _l("Message (French)"), validators=[DataRequired(), Length(max=10000)]
    )
    subject_en = StringField(_l("Subject (English)"), validators=[DataRequired(), Length(max=200)])
    message_en = TextAreaField(
        _l("Message (English)"), validators=[DataRequired(), Length(max=10000)]
    )

    def content(self) -> dict[str, dict[str, str]]:
        """The texts keyed by language."""
        return {
            "fr": {"subject": self.subject_fr.data or "", "message": self.message_fr.data or ""},
            "en": {"subject": self.subject_en.data or "", "message": self.message_en.data or ""},
        }


class TestSendForm(FlaskForm):
    """Where to send a test, and in which language."""

    email = EmailField(_l("Send a test to"), validators=[DataRequired(), Email()])
    language = SelectField(
        _l("Language"), choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")]
    )
