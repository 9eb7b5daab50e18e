"""The founding meeting's coordinator forms: a poll, its slots and key people, the choice of a
slot, a meeting scheduled or changed by hand, its agenda, its reminders."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from zoneinfo import available_timezones

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    Field,
    FloatField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from forms.campaigns import LOCAL_MOMENT
from webapp.models import KeyRole
from webapp.services.errors import N_

# What a coordinator may write, as the services allow it.
MAX_TITLE = 200
MAX_PLACE = 300
MAX_NOTE = 5000
MIN_DURATION, MAX_DURATION = 15, 12 * 60
MAX_AGENDA_ITEMS = 20
MAX_AGENDA_ITEM = 500
MAX_REMINDER_MINUTES = 60 * 24 * 60
# The title a meeting chosen from a poll gets unless the coordinator writes another.
FOUNDING_TITLE = N_("Founding meeting")
# The usual reminders, in minutes before the start: a week, a day, two hours.
REMINDER_PRESETS = (
    SelectChoice("10080", _l("7 days before")),
    SelectChoice("1440", _l("1 day before")),
    SelectChoice("120", _l("2 hours before")),
)
PRESET_MINUTES = tuple(int(choice.value) for choice in REMINDER_PRESETS)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _valid_zone(_form: FlaskForm, field: Field) -> None:
    if field.data not in available_timezones():
        raise ValidationError(_("Unknown time zone: use a name such as America/Toronto."))


def _finite(_form: FlaskForm, field: Field) -> None:
    if field.data is not None and not math.isfinite(field.data):
        raise ValidationError(_("Give an ordinary number."))


def _one_line(_form: FlaskForm, field: Field) -> None:
    if field.data and any(ord(char) < 32 for char in field.data):
        raise ValidationError(_("Write it on one line."))


def zone_field(default: str = "America/Toronto") -> StringField:
    """An IANA time zone, typed."""
    return StringField(
        _l("Time zone"),
        default=default,
        validators=[InputRequired(), _valid_zone],
        filters=[_strip],
        description=_l("An IANA name, such as America/Toronto or Europe/Paris."),
    )


def duration_field() -> IntegerField:
    """A length in minutes, 15 to 720."""
    return IntegerField(
        _l("Duration in minutes"),
        default=120,
        validators=[
            InputRequired(),
            NumberRange(
                min=MIN_DURATION,
                max=MAX_DURATION,
                message=_l("From 15 minutes to 12 hours (720 minutes)."),
            ),
        ],
        render_kw={"min": MIN_DURATION, "max": MAX_DURATION, "inputmode": "numeric"},
    )


def place_field() -> StringField:
    """A place or a room, on one line."""
    return StringField(
        _l("Place"),
        validators=[Optional(), Length(max=MAX_PLACE), _one_line],
        filters=[_strip],
        description=_l("A room and its building, or an address."),
    )


def capacity_field() -> IntegerField:
    """How many people the place holds; empty for no limit."""
    return IntegerField(
        _l("Capacity"),
        validators=[Optional(), NumberRange(min=1, message=_l("At least 1, or leave it empty."))],
        description=_l("How many people the place holds; leave it empty for no limit."),
        render_kw={"min": 1, "inputmode": "numeric"},
    )


class PollForm(FlaskForm):
    """A new availability poll."""

    title = StringField(
        _l("Title"),
        validators=[InputRequired(), Length(max=MAX_TITLE), _one_line],
        filters=[_strip],
    )
    timezone = zone_field()
    deadline = DateTimeLocalField(
        _l("Deadline (optional)"),
        validators=[Optional()],
        format=LOCAL_MOMENT,
        description=_l("Answers are taken until then; read in the poll's time zone."),
    )
    note = TextAreaField(
        _l("A note for the founding group (optional)"),
        validators=[Optional(), Length(max=MAX_NOTE)],
        filters=[_strip],
    )


class DeadlineForm(FlaskForm):
    """A new deadline for a poll, or none."""

    deadline = DateTimeLocalField(
        _l("New deadline"),
        validators=[Optional()],
        format=LOCAL_MOMENT,
        description=_l("Read in the poll's time zone; leave it empty for no deadline."),
    )


class SlotForm(FlaskForm):
    """A candidate slot: a day, a start time (none for a whole day), a duration, a place."""

    day = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date."))])
    start = TimeField(
        _l("Start time"),
        validators=[Optional()],
        description=_l("In the poll's time zone. Leave it empty for a whole-day slot."),
    )
    duration = duration_field()
    place = place_field()
    capacity = capacity_field()


class RoleForm(FlaskForm):
    """A key person of the poll; the people to choose from are set by the view."""

    person = SelectField(_l("Person"), coerce=int, validators=[InputRequired()])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice(KeyRole.FACILITATOR.value, _l("Facilitator")),
            SelectChoice(KeyRole.SPONSOR.value, _l("Sponsor")),
        ],
        default=KeyRole.FACILITATOR.value,
    )
    weight = FloatField(
        _l("Weight"),
        default=3,
        validators=[
            InputRequired(),
            _finite,
            NumberRange(min=1, max=10, message=_l("From 1 to 10.")),
        ],
        description=_l("How many times their availability counts, 1 to 10."),
        render_kw={"min": 1, "max": 10, "step": "0.5", "inputmode": "decimal"},
    )

    def offer(self, people: Sequence[tuple[int, str]]) -> RoleForm:
        """The founding group to choose from: (person id, name)."""
        self.person.choices = [SelectChoice(pid, name) for pid, name in people]
        return self


class ChoiceForm(FlaskForm):
    """The slot the meeting takes place at, its title, and the start of a whole-day slot; the
    slots to choose from are set by the view."""

    slot = RadioField(
        _l("Slot"), coerce=int, validators=[InputRequired(message=_l("Choose a slot."))]
    )
    title = StringField(
        _l("Title of the meeting"),
        validators=[InputRequired(), Length(max=MAX_TITLE), _one_line],
        filters=[_strip],
    )
    start = TimeField(
        _l("Start time, for a whole-day slot"),
        validators=[Optional()],
        description=_l("In the poll's time zone. Not used for a slot that has its time."),
    )

    def offer(self, slots: Sequence[tuple[int, str]]) -> ChoiceForm:
        """The slots to choose from: (slot id, how it reads)."""
        self.slot.choices = [SelectChoice(sid, text) for sid, text in slots]
        return self


class MeetingForm(FlaskForm):
    """A meeting scheduled by hand, or its new time, place and capacity."""

    title = StringField(
        _l("Title"),
        validators=[InputRequired(), Length(max=MAX_TITLE), _one_line],
        filters=[_strip],
    )
    day = DateField(_l("Date"), validators=[InputRequired(message=_l("Give the date."))])
    start = TimeField(
        _l("Start time"), validators=[InputRequired(message=_l("Give the start time."))]
    )
    timezone = zone_field()
    duration = duration_field()
    place = place_field()
    capacity = capacity_field()

    def local_start(self) -> datetime:
        """The start as typed: a wall-clock time in the chosen zone (naive)."""
        day: date = self.day.data
        start: time = self.start.data
        return datetime.combine(day, start)


class AgendaForm(FlaskForm):
    """The agenda, one item per line in each language; lines pair by their rank."""

    agenda_fr = TextAreaField(
        _l("Agenda in French"),
        description=_l("One item per line."),
        render_kw={"rows": 8, "lang": "fr"},
    )
    agenda_en = TextAreaField(
        _l("Agenda in English"),
        description=_l(
            "One item per line, in the same order as in French; an empty line takes the "
            "French item."
        ),
        render_kw={"rows": 8, "lang": "en"},
    )

    def validate_agenda_fr(self, field: Field) -> None:
        """Not too many items, none too long."""
        items = agenda_items(self.agenda_fr.data or "", self.agenda_en.data or "")
        if len(items) > MAX_AGENDA_ITEMS:
            raise ValidationError(_("At most %(count)d items.", count=MAX_AGENDA_ITEMS))
        if any(len(text) > MAX_AGENDA_ITEM for item in items for text in item.values()):
            raise ValidationError(
                _("Each item fits in %(count)d characters.", count=MAX_AGENDA_ITEM)
            )

    def fill(self, agenda: Sequence[Mapping[str, str]]) -> AgendaForm:
        """Show a saved agenda."""
        self.agenda_fr.data = "\n".join(str(item.get("fr", "")) for item in agenda)
        self.agenda_en.data = "\n".join(
            "" if item.get("en") == item.get("fr") else str(item.get("en", "")) for item in agenda
        )
        return self

    def agenda(self) -> list[dict[str, str]]:
        """The items as the meeting stores them."""
        return agenda_items(self.agenda_fr.data or "", self.agenda_en.data or "")


def agenda_items(french: str, english: str) -> list[dict[str, str]]:
    """Pair the lines of the two languages by rank: an empty line takes the other language's
    item, a rank empty in both is dropped."""
    fr_lines = [line.strip() for line in french.splitlines()]
    en_lines = [line.strip() for line in english.splitlines()]
    items = []
    for index in range(max(len(fr_lines), len(en_lines))):
        fr = fr_lines[index] if index < len(fr_lines) else ""
        en = en_lines[index] if index < len(en_lines) else ""
        if fr or en:
            items.append({"fr": fr or en, "en": en or fr})
    return items


class RemindersForm(FlaskForm):
    """When the reminders go: the usual three, and any other times in minutes."""

    reminders = SelectMultipleField(
        _l("Reminders"),
        choices=list(REMINDER_PRESETS),
        validators=[Optional()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    other = StringField(
        _l("Other reminders, in minutes before the start"),
        filters=[_strip],
        validators=[Optional(), Length(max=200)],
        description=_l("Separated by commas, e.g. 30, 4320 (three days). At most 5 in all."),
    )

    def validate_other(self, field: Field) -> None:
        """Whole numbers of minutes, from 1 to 60 days."""
        for part in _parts(field.data or ""):
            if not part.isdigit() or not 0 < int(part) <= MAX_REMINDER_MINUTES:
                raise ValidationError(
                    _(
                        "Whole numbers of minutes from 1 to %(count)d, separated by commas.",
                        count=MAX_REMINDER_MINUTES,
                    )
                )

    def fill(self, minutes: Sequence[int]) -> RemindersForm:
        """Show the saved reminders."""
        self.reminders.data = [str(m) for m in minutes if m in PRESET_MINUTES]
        self.other.data = ", ".join(str(m) for m in minutes if m not in PRESET_MINUTES)
        return self

    def minutes(self) -> list[int]:
        """Every reminder, in minutes before the start, the earliest first."""
        chosen = {int(value) for value in self.reminders.data or []}
        chosen |= {int(part) for part in _parts(self.other.data or "")}
        return sorted(chosen, reverse=True)


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
