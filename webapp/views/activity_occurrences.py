"""Changes a coordinator makes from a series' page: one occurrence's topic, facilitator and type,
its move or its cancellation, a date skipped, a topic proposed and the series' end."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from forms.activities import (
    CancelForm,
    EndForm,
    MoveForm,
    OccurrenceForm,
    SkipForm,
    TopicForm,
    type_choices,
)
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import ActivitySeries, Community, Meeting
from webapp.services import activity_series, poll_zones
from webapp.services.errors import DomainError

from .activities import REFUSED, member_choices, render_series, series_or_404
from .communities import community_or_404
from .errors import error_text
from .meeting_helpers import actor, back_to, moment

bp = Blueprint("activity_occurrences", __name__, url_prefix="/communities/<slug>/activities")

# Which field of an occurrence's or a topic's form a refusal is about.
CHANGE_FIELDS = {
    "The facilitator is one of the members.": "facilitator",
    "Unknown activity type %(type)s.": "activity_type",
    "A topic fits in 300 characters.": "topic",
}


def _occurrence_or_404(series: ActivitySeries, meeting_id: int) -> Meeting:
    found = db_session().get(Meeting, meeting_id)
    if found is None or found.series_id != series.id:
        abort(404)
    return found


def _day(meeting: Meeting) -> str:
    return moment(meeting.starts_at, meeting.timezone)


def _apply(
    community: Community,
    series: ActivitySeries,
    key: str,
    form: FlaskForm,
    act: Callable[[], str],
    anchor: str | None = None,
) -> ResponseReturnValue:
    """Check the form, then make the change (``act`` calls the service and says what it did),
    commit and go back to the series. Bad input or a refusal: the series page again, the error
    said and what was typed kept."""
    session = db_session()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        for name, errors in form.errors.items():
            said = " ".join(str(e) for e in errors)
            flash(_("%(field)s: %(errors)s", field=form[name].label.text, errors=said), "error")
        return render_series(community, series, {key: form}, REFUSED)
    try:
        done = act()
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        name = CHANGE_FIELDS.get(exc.message, "")
        target = form[name] if name in form else next(f for f in form if f.name != "csrf_token")
        target.errors = [*target.errors, error_text(exc)]
        return render_series(community, series, {key: form}, REFUSED)
    session.commit()
    flash(done, "success")
    return back_to("activities.series", community.slug, anchor, series_id=series.id)


def _occurrence_of(
    slug: str, series_id: int, meeting_id: int
) -> tuple[Community, ActivitySeries, Meeting]:
    community = community_or_404(slug)
    found = series_or_404(community, series_id)
    return community, found, _occurrence_or_404(found, meeting_id)


@bp.post("/<int:series_id>/occurrences/<int:meeting_id>")
@login_required
def occurrence(slug: str, series_id: int, meeting_id: int) -> ResponseReturnValue:
    """One occurrence's topic, facilitator and type of activity."""
    community, found, meeting = _occurrence_of(slug, series_id, meeting_id)
    form = OccurrenceForm().offer(member_choices(community.id), type_choices(reader_locale()))

    def act() -> str:
        activity_series.set_occurrence(
            db_session(),
            meeting.id,
            topic=form.topic.data or "",
            facilitator_id=form.facilitator.data,
            activity_type=form.activity_type.data or "",
            actor=actor(),
        )
        return _("Saved: the activity of %(when)s.", when=_day(meeting))

    anchor = f"occurrence-{meeting.id}"
    return _apply(community, found, f"occurrence-{meeting.id}", form, act, anchor)


@bp.post("/<int:series_id>/occurrences/<int:meeting_id>/move")
@login_required
def move(slug: str, series_id: int, meeting_id: int) -> ResponseReturnValue:
    """Move one occurrence; the others stay where the rule puts them."""
    community, found, meeting = _occurrence_of(slug, series_id, meeting_id)
    form = MoveForm()

    def act() -> str:
        starts_at = poll_zones.local_to_utc(form.local_start(), found.timezone)
        if activity_series.move(db_session(), meeting.id, starts_at, actor=actor()):
            return _("The activity is moved to %(when)s.", when=_day(meeting))
        return _("The activity already takes place at that time.")

    return _apply(community, found, f"move-{meeting.id}", form, act, f"occurrence-{meeting.id}")


@bp.post("/<int:series_id>/occurrences/<int:meeting_id>/cancel")
@login_required
def cancel(slug: str, series_id: int, meeting_id: int) -> ResponseReturnValue:
    """Cancel one occurrence, once confirmed; those already invited are told."""
    community, found, meeting = _occurrence_of(slug, series_id, meeting_id)

    def act() -> str:
        if activity_series.cancel(db_session(), meeting.id, actor=actor()):
            return _("The activity of %(when)s is cancelled.", when=_day(meeting))
        return _("This activity was already cancelled.")

    return _apply(community, found, f"cancel-{meeting.id}", CancelForm(), act, f"row-{meeting.id}")


@bp.post("/<int:series_id>/skip")
@login_required
def skip(slug: str, series_id: int) -> ResponseReturnValue:
    """A day without activity: an exception to the rule."""
    community = community_or_404(slug)
    found = series_or_404(community, series_id)
    form = SkipForm()

    def act() -> str:
        if activity_series.skip(db_session(), found.id, form.day.data, actor=actor()):
            return _("No activity that day: the one planned is cancelled.")
        return _("No activity that day: none was planned, the date is kept as skipped.")

    return _apply(community, found, "skip", form, act, "skip-title")


@bp.post("/<int:series_id>/end")
@login_required
def end(slug: str, series_id: int) -> ResponseReturnValue:
    """End the series, once confirmed: no new occurrences; those planned stay."""
    community = community_or_404(slug)
    found = series_or_404(community, series_id)

    def act() -> str:
        activity_series.end_series(db_session(), found.id, actor=actor())
        return _("The series is ended: the activities already planned stay.")

    return _apply(community, found, "end", EndForm(), act)


@bp.post("/<int:series_id>/topics")
@login_required
def topics(slug: str, series_id: int) -> ResponseReturnValue:
    """A topic the coordinator proposes for a coming activity."""
    community = community_or_404(slug)
    found = series_or_404(community, series_id)
    form = TopicForm()

    def act() -> str:
        text = form.text.data or ""
        activity_series.propose_topic(db_session(), found.id, text, person_id=None, actor=actor())
        return _("Topic added: choose it for an activity below.")

    return _apply(community, found, "topic", form, act, "topics-title")
