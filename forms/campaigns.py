"""The campaign forms: what and for whom, the texts, the sending policy, test send and cancel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from forms.questionnaires import default_definition, localised
from webapp.services.campaigns import SendingPolicy

# What a ``datetime-local`` input sends, with or without seconds.
LOCAL_MOMENT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class NewCampaignForm(FlaskForm):
    """The kind of campaign and its audience; the choices of ``audience`` and ``answer`` are
    set by the view (membership states, the questionnaire's answers)."""

    kind = RadioField(
        _l("Kind of campaign"),
        choices=[
            SelectChoice("recruitment", _l("Recruitment: invite people to join the community")),
            SelectChoice(
                "application",
                _l("Application: ask the interested people to fill in their application"),
            ),
            SelectChoice("announcement", _l("Announcement: news for the people you choose")),
        ],
        default="recruitment",
    )
    audience = SelectField(
        _l("Who receives it"),
        default="",
        description=_l(
            "People in this state in the community. By default: the prospects for a "
            "recruitment, the interested people for an application, the members for an "
            "announcement."
        ),
    )
    responded = RadioField(
        _l("The interest questionnaire"),
        choices=[
            SelectChoice("", _l("Whether or not they answered it")),
            SelectChoice("yes", _l("Only those who answered it")),
            SelectChoice("no", _l("Only those who have not answered it")),
        ],
        default="",
    )
    answer = SelectField(
        _l("Only those who gave this answer (optional)"),
        default="",
        description=_l("An answer to the interest questionnaire, for a narrower audience."),
    )
    name = StringField(
        _l("Campaign name (for you)"),
        validators=[Length(max=200)],
        description=_l("Leave empty to name it after its kind."),
    )

    def offer(self, states: Mapping[str, object], locale: str) -> None:
        """The membership states and the answers of the interest questionnaire to pick from."""
        self.audience.choices = [("", _("The usual people for this kind"))] + [
            (key, str(label)) for key, label in states.items()
        ]
        answers = [("", _("Any answer"))]
        for question in default_definition("interest")["questions"]:
            asked = localised(question["label"], locale)
            for choice in (
                question.get("choices", []) if question["type"] == "single_choice" else []
            ):
                answers.append(
                    (
                        f"{question['id']}={choice['value']}",
                        f"{asked} — {localised(choice['label'], locale)}",
                    )
                )
        self.answer.choices = answers

    def audience_filter(self) -> dict[str, Any]:
        """The filter on answers, as the service takes it."""
        wanted: dict[str, Any] = {}
        if self.responded.data in ("yes", "no"):
            wanted["responded"] = {"interest": self.responded.data == "yes"}
        if self.answer.data:
            question, _sep, value = self.answer.data.partition("=")
            wanted["answer"] = {"kind": "interest", "question": question, "value": value}
        return wanted


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


class PolicyForm(FlaskForm):
    """When a campaign starts, its reminders and what it does with a lost outcome.

    Dates are local to the community's time zone; the view converts them and the service checks
    their meaning (ranges, future, order).
    """

    start = RadioField(
        _l("When to start"),
        choices=[
            SelectChoice("now", _l("As soon as I launch it")),
            SelectChoice("later", _l("On the date and time below")),
        ],
        default="now",
    )
    scheduled_at = DateTimeLocalField(
        _l("Start date and time"), validators=[Optional()], format=LOCAL_MOMENT
    )
    reminder_count = IntegerField(
        _l("Reminders"),
        validators=[InputRequired()],
        default=0,
        description=_l("0 to 5, sent only to those who have not answered yet."),
        render_kw={"min": 0, "max": 5, "inputmode": "numeric"},
    )
    reminder_gap_days = IntegerField(
        _l("Days between reminders"),
        validators=[InputRequired()],
        default=3,
        description=_l("How long to wait after a message before reminding (1 to 60 days)."),
        render_kw={"min": 1, "max": 60, "inputmode": "numeric"},
    )
    deadline_at = DateTimeLocalField(
        _l("Deadline (optional)"),
        validators=[Optional()],
        format=LOCAL_MOMENT,
        description=_l(
            "Answers wanted by then: the last reminder goes 48 hours before it "
            "(36 hours when it is less than five days away)."
        ),
    )
    quiet_start = IntegerField(
        _l("Quiet from (hour)"),
        validators=[Optional()],
        description=_l("0 to 23, e.g. 21."),
        render_kw={"min": 0, "max": 23, "inputmode": "numeric"},
    )
    quiet_end = IntegerField(
        _l("Quiet until (hour)"),
        validators=[Optional()],
        description=_l("0 to 23, e.g. 8."),
        render_kw={"min": 0, "max": 23, "inputmode": "numeric"},
    )
    unknown_policy = RadioField(
        _l("When the outcome of a send is lost"),
        choices=[
            SelectChoice("resend", _l("Send it again (at worst, a duplicate)")),
            SelectChoice("hold", _l("Hold it until I decide")),
        ],
        default="resend",
        description=_l(
            "Rare: the mail server stopped answering while the message was handed over."
        ),
    )

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """The fields, then: a later start needs its date and time."""
        valid = super().validate(extra_validators)
        if self.start.data == "later" and self.scheduled_at.data is None:
            if not self.scheduled_at.errors:
                self.scheduled_at.errors = [str(_l("give the date and time of the start"))]
            valid = False
        return valid

    @classmethod
    def of(cls, policy: SendingPolicy, tz: ZoneInfo) -> PolicyForm:
        """The form showing a saved policy, its moments in local time."""
        return cls(
            formdata=None,
            start="later" if policy.scheduled_at else "now",
            scheduled_at=_local(policy.scheduled_at, tz),
            reminder_count=policy.reminder_count,
            reminder_gap_days=policy.reminder_gap_days,
            deadline_at=_local(policy.deadline_at, tz),
            quiet_start=policy.quiet_start,
            quiet_end=policy.quiet_end,
            unknown_policy=policy.unknown_policy,
        )

    def policy(self, tz: ZoneInfo) -> SendingPolicy:
        """What was typed, local moments read in ``tz``; a start "now" drops the date."""
        later = self.start.data == "later"
        return SendingPolicy(
            reminder_count=self.reminder_count.data or 0,
            reminder_gap_days=self.reminder_gap_days.data or 0,
            deadline_at=_utc(self.deadline_at.data, tz),
            quiet_start=self.quiet_start.data,
            quiet_end=self.quiet_end.data,
            unknown_policy=self.unknown_policy.data or "",
            scheduled_at=_utc(self.scheduled_at.data, tz) if later else None,
        )

    def add_problems(self, problems: Mapping[str, str]) -> None:
        """The service's findings (English msgids) on the fields they concern."""
        for key, problem in problems.items():
            if key == "quiet_hours":  # on the hour left empty, else on the first
                key = "quiet_end" if self.quiet_end.data is None else "quiet_start"
            target = self[key] if key in self else self.start
            target.errors = [*target.errors, _(problem)]


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(tz).replace(tzinfo=None)


def _utc(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=tz).astimezone(UTC)


class TestSendForm(FlaskForm):
    """Where to send a test, and in which language."""

    email = EmailField(_l("Send a test to"), validators=[DataRequired(), Email()])
    language = SelectField(
        _l("Language"), choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")]
    )


class CancelForm(FlaskForm):
    """Cancelling is final: the coordinator ticks a box to say so."""

    confirm = BooleanField(
        _l("Yes, stop this campaign for good: the messages not sent yet will never leave."),
        validators=[DataRequired()],
    )
