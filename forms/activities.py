"""The coordinator's forms for recurring activities: the rhythm confirmed as a series (its
weekday, time and periodicity written as an RRULE and read back), and the changes to one
occurrence, to the dates skipped, to the series' end and to its topics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from babel.dates import format_time, get_day_names
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    Field,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from forms.campaigns import LOCAL_MOMENT
from forms.meetings import MAX_TITLE, duration_field, place_field
from forms.questionnaires import WEEKDAYS
from webapp.i18n import translations_for
from webapp.models import ActivityFormat
from webapp.services.activities import DAYS, RRULE_DAYS, STARTS, Rhythm, activity_types, type_label
from webapp.services.errors import N_

# How often, as the needs survey asks it: (FREQ, INTERVAL) of the rule.
PERIODS = {
    "weekly": ("WEEKLY", 1),
    "biweekly": ("WEEKLY", 2),
    "monthly": ("MONTHLY", 1),
    "bimonthly": ("MONTHLY", 2),
}
PERIOD_CHOICES = (
    SelectChoice("weekly", _l("Every week")),
    SelectChoice("biweekly", _l("Every two weeks")),
    SelectChoice("monthly", _l("Every month, on the first such weekday of the month")),
    SelectChoice("bimonthly", _l("Every two months, on the first such weekday of the month")),
)
FORMAT_CHOICES = (
    SelectChoice(ActivityFormat.IN_PERSON.value, _l("In person")),
    SelectChoice(ActivityFormat.ONLINE.value, _l("Online")),
    SelectChoice(ActivityFormat.HYBRID.value, _l("Hybrid")),
)
RULE_WORDS = {
    "weekly": N_("every week on %(day)s at %(time)s (%(zone)s)"),
    "biweekly": N_("every two weeks on %(day)s at %(time)s (%(zone)s)"),
    "monthly": N_("the first %(day)s of every month at %(time)s (%(zone)s)"),
    "bimonthly": N_("the first %(day)s of every other month at %(time)s (%(zone)s)"),
}
MAX_INVITE_DAYS = 60
MAX_REMINDER_HOURS = 60 * 24
MAX_TOPIC = 300


def build_rule(period: str, weekday: str, start: time) -> str:
    """The RRULE of a weekday and time every week, two weeks, month or two months (the first
    such weekday of the month)."""
    frequency, interval = PERIODS[period]
    day = RRULE_DAYS[weekday]
    by_day = day if frequency == "WEEKLY" else f"1{day}"
    return (
        f"FREQ={frequency};INTERVAL={interval};BYDAY={by_day};"
        f"BYHOUR={start.hour};BYMINUTE={start.minute};BYSECOND=0"
    )


def read_rule(rule: str, start: time) -> tuple[str, str] | None:
    """(periodicity, weekday) of a rule :func:`build_rule` writes for that start; None for any
    other rule."""
    text = rule.removeprefix("RRULE:")
    return next(
        ((p, d) for p in PERIODS for d in RRULE_DAYS if build_rule(p, d, start) == text), None
    )


def rule_words(period: str, weekday: str, start: time, zone: str, locale: str) -> str:
    """ "every two weeks on Tuesday at 6:30 PM (America/Toronto)", in ``locale``."""
    return translations_for(locale).gettext(RULE_WORDS[period]) % {
        "day": get_day_names("wide", locale=locale)[DAYS.index(weekday)],
        "time": format_time(start, "short", locale=locale),
        "zone": zone,
    }


def type_choices(locale: str, first: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The activity types as (code, label in ``locale``), those of ``first`` first, in their
    order."""
    codes = [code for code, _label in activity_types()]
    ordered = [c for c in first if c in codes] + [c for c in codes if c not in first]
    return [(code, type_label(code, locale)) for code in ordered]


def proposed_values(title: str, rhythm: Rhythm | None) -> dict[str, Any]:
    """What the series form shows first: the proposed rhythm, or ordinary values without one;
    the first activity two weeks from today at the earliest."""
    values: dict[str, Any] = {
        "title": title,
        "weekday": "tue",
        "start": time(12, 0),
        "period": "monthly",
        "first_day": date.today() + timedelta(days=14),
        "duration": 90,
        "format": ActivityFormat.ONLINE.value,
        "activity_types": [],
        "invite_days": 14,
        "reminders": "24, 2",
    }
    if rhythm is not None:
        c = rhythm.candidate
        values.update(
            weekday=c.weekday,
            start=STARTS[c.part],
            period=c.frequency,
            activity_types=list(rhythm.activity_types),
        )
        if rhythm.format:
            values["format"] = rhythm.format
        if rhythm.duration_minutes:
            values["duration"] = rhythm.duration_minutes
    return values


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _one_line(_form: FlaskForm, field: Field) -> None:
    if field.data and any(ord(char) < 32 for char in field.data):
        raise ValidationError(_("Write it on one line."))


def _hours(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


class SeriesForm(FlaskForm):
    """The rhythm as the coordinator confirms it; the activity types to choose from are set by
    the view, in the order they take turns."""

    title = StringField(
        _l("Title"),
        validators=[InputRequired(), Length(max=MAX_TITLE), _one_line],
        filters=[_strip],
        description=_l("The name of the series, in the invitations and the calendars."),
    )
    weekday = SelectField(
        _l("Weekday"), choices=[SelectChoice(code, label) for code, label in WEEKDAYS]
    )
    start = TimeField(
        _l("Start time"),
        validators=[InputRequired(message=_l("Give the start time."))],
        description=_l("In the community's time zone."),
    )
    period = RadioField(
        _l("How often"),
        choices=list(PERIOD_CHOICES),
        validators=[InputRequired(message=_l("Choose how often."))],
    )
    first_day = DateField(
        _l("First activity on or after"),
        validators=[InputRequired(message=_l("Give the date."))],
        description=_l("The first activity is on the first matching day from this date."),
    )
    duration = duration_field()
    place = place_field()
    format = RadioField(
        _l("Format"),
        choices=list(FORMAT_CHOICES),
        validators=[InputRequired(message=_l("Choose the format."))],
    )
    activity_types = SelectMultipleField(
        _l("Activity types, in the order they take turns"),
        validators=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    invite_days = IntegerField(
        _l("Invitation, days before each activity"),
        validators=[
            InputRequired(),
            NumberRange(min=0, max=MAX_INVITE_DAYS, message=_l("From 0 to 60 days.")),
        ],
        render_kw={"min": 0, "max": MAX_INVITE_DAYS, "inputmode": "numeric"},
    )
    reminders = StringField(
        _l("Reminders, in hours before the start"),
        filters=[_strip],
        validators=[Length(max=100)],
        description=_l("Separated by commas, e.g. 24, 2. At most 5; leave it empty for none."),
    )

    def validate_first_day(self, field: Field) -> None:
        """Not in the past: a series begins from today."""
        if field.data is not None and field.data < date.today():
            raise ValidationError(_("The first date is today or later."))

    def validate_reminders(self, field: Field) -> None:
        """Whole numbers of hours from 1 to 60 days, at most 5."""
        parts = _hours(field.data or "")
        if len(parts) > 5 or any(
            not p.isdigit() or not 0 < int(p) <= MAX_REMINDER_HOURS for p in parts
        ):
            raise ValidationError(
                _(
                    "At most 5 whole numbers of hours from 1 to %(count)d, separated by commas.",
                    count=MAX_REMINDER_HOURS,
                )
            )

    def offer(self, types: Sequence[tuple[str, str]]) -> SeriesForm:
        """The activity types to choose from, (code, label), in the order they take turns."""
        self.activity_types.choices = [SelectChoice(code, label) for code, label in types]
        return self

    def rule(self) -> str:
        """The RRULE of the chosen weekday, time and periodicity."""
        return build_rule(self.period.data or "", self.weekday.data or "", self.start.data)

    def reminder_minutes(self) -> list[int]:
        """The reminders in minutes before the start, the earliest first."""
        return sorted({int(p) * 60 for p in _hours(self.reminders.data or "")}, reverse=True)


def _optional_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


class OccurrenceForm(FlaskForm):
    """One occurrence's topic, facilitator and type; the members and types are set by the
    view."""

    topic = StringField(
        _l("Topic"), validators=[Length(max=MAX_TOPIC), _one_line], filters=[_strip]
    )
    facilitator = SelectField(_l("Facilitator"), coerce=_optional_int, validate_choice=True)
    activity_type = SelectField(_l("Type of activity"))

    def offer(
        self, members: Sequence[tuple[int, str]], types: Sequence[tuple[str, str]]
    ) -> OccurrenceForm:
        """The members who may facilitate and the activity types, (value, label)."""
        self.facilitator.choices = [SelectChoice("", _("Nobody yet"))] + [
            SelectChoice(pid, name) for pid, name in members
        ]
        self.activity_type.choices = [SelectChoice("", _("No type"))] + [
            SelectChoice(code, label) for code, label in types
        ]
        return self


class MoveForm(FlaskForm):
    """A new start for one occurrence, a wall-clock time in the series' time zone."""

    starts_at = DateTimeLocalField(
        _l("New start"),
        validators=[InputRequired(message=_l("Give the new date and time."))],
        format=LOCAL_MOMENT,
    )

    def local_start(self) -> datetime:
        """The start as typed (naive)."""
        value: datetime = self.starts_at.data
        return value


class CancelForm(FlaskForm):
    """Cancel one occurrence, once confirmed."""

    confirm = BooleanField(
        _l("Yes, cancel this activity"),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )


class SkipForm(FlaskForm):
    """A day without activity."""

    day = DateField(_l("Date to skip"), validators=[InputRequired(message=_l("Give the date."))])


class EndForm(FlaskForm):
    """End the series, once confirmed."""

    confirm = BooleanField(
        _l("Yes, end the series"),
        validators=[DataRequired(message=_l("Tick the box to confirm."))],
    )


class TopicForm(FlaskForm):
    """A topic proposed for a coming activity."""

    text = StringField(
        _l("Proposed topic"),
        validators=[
            InputRequired(message=_l("Write the topic in a few words.")),
            Length(max=MAX_TOPIC),
            _one_line,
        ],
        filters=[_strip],
    )
