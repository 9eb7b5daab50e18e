"""Coordinator pages for recurring activities: the rhythm the members' needs point to, the series
confirmed from it, and each series' page with its occurrences, its proposed topics and its
calendar file. The changes made from that page are in ``activity_occurrences``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from babel.numbers import format_decimal
from flask import Blueprint, Response, abort, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from forms.activities import (
    FORMAT_CHOICES,
    CancelForm,
    EndForm,
    MoveForm,
    OccurrenceForm,
    SeriesForm,
    SkipForm,
    TopicForm,
    proposed_values,
    read_rule,
    rule_words,
    type_choices,
)
from webapp.extensions import db_session, state
from webapp.i18n import reader_locale
from webapp.mail import envelope_address
from webapp.models import (
    ActivitySeries,
    Community,
    Meeting,
    MeetingState,
    Membership,
    Person,
    SeriesState,
    utcnow,
)
from webapp.services import activities, activity_series, meetings, participation
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text
from .meeting_helpers import FIELD_OF, actor, back_to, moment

bp = Blueprint("activities", __name__, url_prefix="/communities/<slug>/activities")

# What was typed comes back with its errors, as a bad request like the app's other forms.
REFUSED = 400
SERIES_STATES = {SeriesState.ACTIVE: _l("Active"), SeriesState.ENDED: _l("Ended")}
OCCURRENCE_STATES = {
    "scheduled": _l("Scheduled"),
    "moved": _l("Moved"),
    "held": _l("Held"),
    "cancelled": _l("Cancelled"),
}
FORMATS = {choice.value: choice.label for choice in FORMAT_CHOICES}
# Which field of the series form a service's refusal is about (its msgid).
SERIES_FIELDS = {
    **FIELD_OF,
    "An activity is in person, online or hybrid.": "format",
    "Unknown activity type %(type)s: use one of %(types)s.": "activity_types",
    "Invitations go from 0 to 60 days before each activity.": "invite_days",
    "At most 5 reminders, each between 1 minute and 60 days before the meeting.": "reminders",
    "The recurrence rule gives no date after %(day)s.": "first_day",
}


def series_words(series: ActivitySeries) -> str:
    """A series' rule in words; the RRULE itself when it is not one the form writes."""
    start = series.starts_at.astimezone(ZoneInfo(series.timezone)).time()
    found = read_rule(series.rrule, start)
    if found is None:
        return series.rrule
    return rule_words(*found, start, series.timezone, reader_locale())


def series_or_404(community: Community, series_id: int) -> ActivitySeries:
    """The community's series, or 404."""
    found = db_session().get(ActivitySeries, series_id)
    if found is None or found.community_id != community.id:
        abort(404)
    return found


def _next(found: Sequence[Meeting]) -> Meeting | None:
    """The first occurrence still to come."""
    now = utcnow()
    return next(
        (m for m in found if m.state == MeetingState.SCHEDULED and m.starts_at >= now), None
    )


# -- the proposed rhythm and the community's series ----------------------------------------------


@dataclass(frozen=True)
class SeriesLine:
    """A series on the index: its rule in words and its next activity."""

    series: ActivitySeries
    words: str
    next: str


@bp.get("")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """The rhythm the needs survey points to (or how to get one), and the community's series."""
    community = community_or_404(slug)
    session = db_session()
    try:
        rhythm: activities.Rhythm | None = activities.proposed_rhythm(session, community.id)
    except DomainError:
        rhythm = None
    left_out: list[Person] = []
    if rhythm is not None and rhythm.left_out:
        left_out = list(
            session.scalars(
                select(Person).where(Person.email.in_(rhythm.left_out)).order_by(Person.email)
            )
        )
    lines = []
    for series in activity_series.series_of(session, community.id):
        coming = _next(activity_series.occurrences(session, series.id))
        lines.append(
            SeriesLine(
                series,
                series_words(series),
                moment(coming.starts_at, coming.timezone) if coming else "",
            )
        )
    proposal = None
    if rhythm is not None:
        c = rhythm.candidate
        start = activities.STARTS[c.part]
        proposal = rule_words(c.frequency, c.weekday, start, rhythm.timezone, reader_locale())
    return render_template(
        "activities/index.html",
        community=community,
        rhythm=rhythm,
        proposal=proposal,
        answered=len(rhythm.attending) + len(rhythm.left_out) if rhythm else 0,
        expected=format_decimal(rhythm.expected_attendance, "0.#", locale=reader_locale())
        if rhythm
        else "",
        left_out=left_out,
        types=dict(type_choices(reader_locale())),
        series_lines=lines,
        series_states=SERIES_STATES,
    )


# -- confirming a rhythm ------------------------------------------------------------------------


def _refuse(form: FlaskForm, error: DomainError, default: str) -> None:
    """Show a service's refusal next to the field it is about."""
    name = SERIES_FIELDS.get(error.message, default)
    target = form[name] if name in form else form[default]
    target.errors = [*target.errors, error_text(error)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_series(slug: str) -> ResponseReturnValue:
    """Adjust the proposed rhythm and confirm it: the series and its first occurrences."""
    community = community_or_404(slug)
    session = db_session()
    try:
        rhythm: activities.Rhythm | None = activities.proposed_rhythm(session, community.id)
    except DomainError:
        rhythm = None
    submitted = request.method == "POST"
    title = _("Activities of %(community)s", community=community.name)
    form = SeriesForm() if submitted else SeriesForm(**proposed_values(title, rhythm))
    form.offer(type_choices(reader_locale(), rhythm.activity_types if rhythm else ()))
    if form.validate_on_submit():
        zone = community.timezone
        try:
            rule = form.rule()
            data = activity_series.SeriesData(
                title=form.title.data or "",
                rrule=rule,
                timezone=zone,
                first_start=activity_series.first_start(
                    rule, zone, form.first_day.data, not_before=utcnow()
                ),
                duration_minutes=form.duration.data or 0,
                place=form.place.data or "",
                format=form.format.data or "",
                activity_types=list(form.activity_types.data or []),
                invite_days=form.invite_days.data or 0,
                reminder_minutes=form.reminder_minutes(),
            )
            series_id = activity_series.create_series(session, community.id, data, actor=actor())
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "first_day")
        else:
            session.commit()
            flash(
                _("The series is set: each activity's invitation goes out on its own."), "success"
            )
            return back_to("activities.series", slug, series_id=series_id)
    return render_template(
        "activities/new_series.html", community=community, form=form, rhythm=rhythm
    ), (REFUSED if submitted else 200)


# -- a series -------------------------------------------------------------------------------------


@dataclass
class OccurrenceLine:
    """An occurrence in the series' table, with its forms while it is still to come."""

    meeting: Meeting
    when: str
    state: str
    kind: str
    facilitator: str
    counts: Mapping[str, int]
    came: int | None
    usefulness: str
    feedbacks: int
    upcoming: bool
    forms: dict[str, FlaskForm] = field(default_factory=dict)


def member_choices(community_id: int) -> list[tuple[int, str]]:
    """Who may facilitate: the selected volunteers and the members, by name."""
    people = db_session().scalars(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == community_id,
            Membership.state.in_(meetings.INVITED_STATES),
        )
    )
    return sorted(((p.id, p.display_name) for p in people), key=lambda p: p[1].lower())


def _state(meeting: Meeting, now: datetime) -> str:
    if meeting.state == MeetingState.CANCELLED:
        return "cancelled"
    if meeting.starts_at <= now:
        return "held"
    return "moved" if meeting.starts_at != meeting.recurrence_at else "scheduled"


def _short(moment: datetime, zone: str, locale: str) -> str:
    """ "mar. 22 sept. 2026, 18:30": a moment in the series' zone (written once, in the
    table's heading)."""
    local = moment.astimezone(ZoneInfo(zone))
    day = format_skeleton("yMMMEd", local, locale=locale)
    return f"{day}, {format_time(local, format='short', locale=locale)}"


def _lines(
    series: ActivitySeries, members: Sequence[tuple[int, str]], bound: Mapping[str, FlaskForm]
) -> list[OccurrenceLine]:
    session = db_session()
    found = activity_series.occurrences(session, series.id)
    turnouts = participation.turnout(session, [m.id for m in found])
    names = dict(members)
    types = type_choices(reader_locale())
    locale = reader_locale()
    now = utcnow()
    lines = []
    for m in found:
        cancelled = m.state == MeetingState.CANCELLED
        upcoming = not cancelled and m.starts_at > now
        turned = turnouts[m.id]
        average = turned.feedback_average
        line = OccurrenceLine(
            meeting=m,
            when=_short(m.starts_at, m.timezone, locale),
            state=_state(m, now),
            kind=activities.type_label(m.activity_type, locale) if m.activity_type else "",
            facilitator=names.get(m.facilitator_id or 0, ""),
            counts={s: turned.answers[s] for s in ("accepted", "tentative", "declined")},
            came=None if upcoming or cancelled else turned.came,
            usefulness=format_decimal(average, "0.0", locale=locale) if average else "",
            feedbacks=turned.feedback_count,
            upcoming=upcoming,
        )
        if upcoming:
            local = m.starts_at.astimezone(ZoneInfo(m.timezone)).replace(tzinfo=None)
            line.forms = {
                "occurrence": bound.get(f"occurrence-{m.id}")
                or OccurrenceForm(
                    formdata=None,
                    topic=m.topic,
                    facilitator=m.facilitator_id,
                    activity_type=m.activity_type,
                ).offer(members, types),
                "move": bound.get(f"move-{m.id}") or MoveForm(formdata=None, starts_at=local),
                "cancel": bound.get(f"cancel-{m.id}") or CancelForm(formdata=None),
            }
        lines.append(line)
    return lines


def render_series(
    community: Community,
    series: ActivitySeries,
    bound: Mapping[str, FlaskForm] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The series' page; ``bound`` holds the forms that come back with what was typed."""
    bound = bound or {}
    session = db_session()
    lines = _lines(series, member_choices(community.id), bound)
    coming = _next([line.meeting for line in lines])
    locale = reader_locale()
    return render_template(
        "activities/series.html",
        community=community,
        series=series,
        ended=series.state == SeriesState.ENDED,
        words=series_words(series),
        next=moment(coming.starts_at, coming.timezone) if coming else "",
        rotation=[activities.type_label(t, locale) for t in series.activity_types or []],
        skipped=[date.fromisoformat(d) for d in series.exdates or []],
        lines=lines,
        topics=activity_series.open_topics(session, series.id),
        formats=FORMATS,
        series_states=SERIES_STATES,
        occurrence_states=OCCURRENCE_STATES,
        skip_form=bound.get("skip") or SkipForm(formdata=None),
        end_form=bound.get("end") or EndForm(formdata=None),
        topic_form=bound.get("topic") or TopicForm(formdata=None),
    ), status


@bp.get("/<int:series_id>")
@login_required
def series(slug: str, series_id: int) -> ResponseReturnValue:
    """A series: its rule, its occurrences and what they need, its topics and its calendar."""
    community = community_or_404(slug)
    return render_series(community, series_or_404(community, series_id))


@bp.get("/<int:series_id>/series.ics")
@login_required
def series_ics(slug: str, series_id: int) -> ResponseReturnValue:
    """The whole series as one calendar file: its rule, the dates it skips, its changes."""
    community = community_or_404(slug)
    found = series_or_404(community, series_id)
    organizer = community.contact_email or envelope_address(state().config.mail_from)
    body = activity_series.series_ics(db_session(), found.id, organizer_email=organizer)
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{community.slug}-series-{found.id}.ics"',
        },
    )
