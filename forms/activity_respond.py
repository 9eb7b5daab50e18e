"""Forms of a member's activity page: feedback after an activity, the facilitator's summary, a
topic to propose and the answer to a coming occurrence (each with its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

COMMENT_LIMIT = 5000
SUMMARY_LIMIT = 20000
TOPIC_LIMIT = 300
USEFULNESS = (
    SelectChoice(1, _l("1, not useful")),
    SelectChoice(2, "2"),
    SelectChoice(3, "3"),
    SelectChoice(4, "4"),
    SelectChoice(5, _l("5, very useful")),
)


class FeedbackForm(FlaskForm):
    """Was it useful, a comment, and what the next activities should be about."""

    usefulness = RadioField(
        _l("Was it useful?"),
        choices=list(USEFULNESS),
        coerce=int,
        validate_choice=True,
        validators=[InputRequired(_l("Choose from 1 (not useful) to 5 (very useful)."))],
    )
    comment = TextAreaField(
        _l("A comment (optional)"),
        description=_l("What worked, what could be better next time."),
        validators=[
            Optional(),
            Length(max=COMMENT_LIMIT, message=_l("At most 5,000 characters.")),
        ],
    )
    next_topic = TextAreaField(
        _l("What should the next activities be about? (optional)"),
        description=_l("A topic in a few words; the coordinators choose among the proposals."),
        validators=[
            Optional(),
            Length(max=TOPIC_LIMIT, message=_l("At most 300 characters.")),
        ],
    )


class SummaryForm(FlaskForm):
    """The facilitator's summary of the activity."""

    summary = TextAreaField(
        _l("The summary"),
        description=_l(
            "What was discussed, what was learned, the resources shared, what comes next."
        ),
        validators=[
            DataRequired(_l("Write the summary before posting it.")),
            Length(max=SUMMARY_LIMIT, message=_l("At most 20,000 characters.")),
        ],
    )


class TopicForm(FlaskForm):
    """A topic for the coming activities of one series."""

    series = SelectField(_l("For the series"), coerce=int, validate_choice=True)
    topic = TextAreaField(
        _l("Your topic"),
        description=_l("In a few words: a question, a case, a tool, a reading…"),
        validators=[
            DataRequired(_l("Write the topic in a few words.")),
            Length(max=TOPIC_LIMIT, message=_l("At most 300 characters.")),
        ],
    )


class RsvpForm(FlaskForm):
    """Yes, maybe or no to one coming occurrence (the buttons carry the answer)."""

    meeting = IntegerField(validators=[InputRequired()])
    answer = SelectField(
        choices=[
            SelectChoice("yes", "yes"),
            SelectChoice("maybe", "maybe"),
            SelectChoice("no", "no"),
        ],
        validate_choice=True,
        validators=[InputRequired()],
    )
