"""The CSV import form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional


class ImportForm(FlaskForm):
    """A CSV of prospects, where they come from and on what consent they may be written to."""

    file = FileField(
        _l("CSV file"),
        description=_l(
            "Columns: email (required), first_name, last_name, language (fr or en), "
            "organization, timezone."
        ),
        validators=[FileRequired(), FileAllowed(["csv", "txt"], _l("A .csv file, please."))],
    )
    source = RadioField(
        _l("Where do these people come from?"),
        choices=[
            SelectChoice("network", _l("Our informal network")),
            SelectChoice("list", _l("A list")),
            SelectChoice("referral", _l("Referrals")),
        ],
        default="network",
        validators=[InputRequired()],
    )
    consent = RadioField(
        _l("Consent to be contacted"),
        choices=[
            SelectChoice("express", _l("Express: they agreed to be contacted")),
            SelectChoice("implied", _l("Implied: an existing relationship (say which below)")),
        ],
        default="express",
        validators=[InputRequired()],
    )
    consent_note = StringField(_l("Consent note"), validators=[Optional(), Length(max=1000)])
    all_or_nothing = BooleanField(_l("Import nothing if any row is wrong"))
