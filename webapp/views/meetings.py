"""Coordinator pages for the founding meeting: the community's polls and meetings, the meeting
itself (details, agenda, reminders, a move or a cancellation, who answered), its invitation
emails, and the facilitator's check-in. The availability polls are in :mod:`.polls`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.meetings import AgendaForm, MeetingForm, RemindersForm
from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import AuditLog, Campaign, CampaignKind, Community, Meeting, MeetingState, Poll
from webapp.services import meetings, poll_answers, poll_zones, polls
from webapp.services.errors import DomainError

from .communities import community_or_404
from .meeting_helpers import (
    POLL_STATES,
    actor,
    back_to,
    campaigns_about,
    moment,
    poll_state,
    prepare_campaign,
    refuse,
)

bp = Blueprint("meetings", __name__, url_prefix="/communities/<slug>/meetings")

MEETING_STATES = {"scheduled": _l("Scheduled"), "cancelled": _l("Cancelled")}
RSVP_STATES = {
    "accepted": _l("Coming"),
    "tentative": _l("Maybe"),
    "declined": _l("Not coming"),
    "waitlisted": _l("Waiting list"),
    "": _l("Not answered"),
}
RSVP_SOURCES = {
    "web": _l("the web page"),
    "email": _l("an email reply"),
    "calendar": _l("their calendar"),
}


# -- the community's polls and meetings ---------------------------------------------------------


@dataclass(frozen=True)
class PollLine:
    """A poll on the index: how many of those asked have answered."""

    poll: Poll
    state: str
    deadline: str
    answered: int
    asked: int


@dataclass(frozen=True)
class MeetingLine:
    """A meeting on the index: when, and its answers by status."""

    meeting: Meeting
    when: str
    counts: Mapping[str, int]


def rsvp_counts(invitees: Sequence[meetings.Invitee]) -> dict[str, int]:
    """How many invitees per RSVP status, in the order of :data:`RSVP_STATES`."""
    found = Counter(i.status for i in invitees)
    return {status: found[status] for status in RSVP_STATES}


@bp.get("")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """The community's polls and meetings, and the ways to start either."""
    community = community_or_404(slug)
    session = db_session()
    poll_lines = [
        PollLine(
            poll,
            poll_state(poll),
            moment(poll.deadline_at, poll.timezone) if poll.deadline_at else "",
            len(poll_answers.respondents(session, poll.id)),
            len(poll_answers.eligible_people(session, poll.id)),
        )
        for poll in polls.polls_of(session, community.id)
    ]
    meeting_lines = [
        MeetingLine(
            m, moment(m.starts_at, m.timezone), rsvp_counts(meetings.invitees(session, m.id))
        )
        for m in meetings.meetings_of(session, community.id)
    ]
    return render_template(
        "meetings/index.html",
        community=community,
        polls=poll_lines,
        meetings=meeting_lines,
        poll_states=POLL_STATES,
        meeting_states=MEETING_STATES,
        rsvp_states=RSVP_STATES,
    )


# -- a meeting ----------------------------------------------------------------------------------


def _data(form: MeetingForm) -> meetings.MeetingData:
    """What was typed, the start read in the chosen zone (may raise DomainError)."""
    zone_name = form.timezone.data or ""
    return meetings.MeetingData(
        title=form.title.data or "",
        starts_at=poll_zones.local_to_utc(form.local_start(), zone_name),
        duration_minutes=form.duration.data or 0,
        timezone=zone_name,
        place=form.place.data or "",
        capacity=form.capacity.data,
    )


def _same(meeting: Meeting, **changed: Any) -> meetings.MeetingData:
    """The meeting as it is, but for ``changed`` (its agenda, its reminders)."""
    values: dict[str, Any] = {
        "title": meeting.title,
        "starts_at": meeting.starts_at,
        "duration_minutes": meeting.duration_minutes,
        "timezone": meeting.timezone,
        "place": meeting.place,
        "capacity": meeting.capacity,
    }
    return meetings.MeetingData(**{**values, **changed})


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_meeting(slug: str) -> ResponseReturnValue:
    """Schedule a meeting by hand, without a poll."""
    community = community_or_404(slug)
    form = MeetingForm(timezone=community.timezone)
    if form.validate_on_submit():
        session = db_session()
        try:
            meeting_id = meetings.schedule(session, community.id, _data(form), actor=actor())
        except DomainError as exc:
            session.rollback()
            refuse(form, exc, "day")
        else:
            session.commit()
            flash(_("The meeting is set. Check the agenda, then invite."), "success")
            return back_to("meetings.meeting", slug, meeting_id=meeting_id)
    status = 400 if form.is_submitted() else 200
    return render_template("meetings/new_meeting.html", community=community, form=form), status


def _meeting_or_404(community: Community, meeting_id: int) -> Meeting:
    found = db_session().get(Meeting, meeting_id)
    if found is None or found.community_id != community.id:
        abort(404)
    return found


def send_label(meeting: Meeting) -> str:
    """What the next email about the meeting is: the invitation, an update or a cancellation
    (as the email itself words it)."""
    if meeting.state == MeetingState.CANCELLED:
        return _("Send the cancellation")
    return _("Send the update") if meeting.sequence > 0 else _("Send the invitation")


def _changed_since_sent(session: Session, meeting: Meeting, sent: Sequence[Campaign]) -> bool:
    """Whether the meeting moved or was cancelled after the last invitation email went out."""
    launched = [c.launched_at for c in sent if c.launched_at is not None]
    if not launched:
        return False
    rows = session.execute(
        select(AuditLog.details).where(
            AuditLog.community_id == meeting.community_id,
            AuditLog.action.in_(("meeting.moved", "meeting.cancelled")),
            AuditLog.created_at > max(launched),
        )
    )
    return any((details or {}).get("meeting") == meeting.id for (details,) in rows)


def _render_meeting(
    community: Community,
    meeting: Meeting,
    *,
    change_form: MeetingForm | None = None,
    agenda_form: AgendaForm | None = None,
    reminders_form: RemindersForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db_session()
    invitees = meetings.invitees(session, meeting.id)
    sent = campaigns_about(session, meeting_id=meeting.id, kind=CampaignKind.INVITATION)
    local = meeting.starts_at.astimezone(ZoneInfo(meeting.timezone))
    change_form = change_form or MeetingForm(
        formdata=None,
        title=meeting.title,
        day=local.date(),
        start=local.time().replace(second=0, microsecond=0),
        timezone=meeting.timezone,
        duration=meeting.duration_minutes,
        place=meeting.place,
        capacity=meeting.capacity,
    )
    return render_template(
        "meetings/meeting.html",
        community=community,
        meeting=meeting,
        cancelled=meeting.state == MeetingState.CANCELLED,
        meeting_states=MEETING_STATES,
        when=moment(meeting.starts_at, meeting.timezone),
        ends=moment(meetings.meeting_end(meeting), meeting.timezone),
        invitees=invitees,
        counts=rsvp_counts(invitees),
        present=sum(1 for i in invitees if i.checked_in),
        rsvp_states=RSVP_STATES,
        rsvp_sources=RSVP_SOURCES,
        campaigns=sent,
        launched=any(c.launched_at is not None for c in sent),
        locale=reader_locale(),
        send_label=send_label(meeting),
        changed_since_sent=_changed_since_sent(session, meeting, sent),
        poll=session.get(Poll, meeting.poll_id) if meeting.poll_id else None,
        change_form=change_form,
        agenda_form=agenda_form or AgendaForm(formdata=None).fill(meeting.agenda or []),
        reminders_form=reminders_form
        or RemindersForm(formdata=None).fill(meeting.reminder_minutes or []),
    ), status


@bp.get("/<int:meeting_id>")
@login_required
def meeting(slug: str, meeting_id: int) -> ResponseReturnValue:
    """A meeting: when and where, who answered, its emails, its agenda and reminders."""
    community = community_or_404(slug)
    return _render_meeting(community, _meeting_or_404(community, meeting_id))


def _save(meeting: Meeting, data: meetings.MeetingData) -> bool:
    """Change the meeting and commit; whether calendars must hear of it."""
    session = db_session()
    moved = meetings.change(session, meeting.id, data, actor=actor())
    session.commit()
    return moved


@bp.post("/<int:meeting_id>/change")
@login_required
def change(slug: str, meeting_id: int) -> ResponseReturnValue:
    """A new time, length, place, capacity or title."""
    community = community_or_404(slug)
    found = _meeting_or_404(community, meeting_id)
    form = MeetingForm()
    if form.validate_on_submit():
        try:
            moved = _save(found, _data(form))
        except DomainError as exc:
            db_session().rollback()
            refuse(form, exc, "day")
        else:
            if moved:
                flash(
                    _(
                        "The meeting moved: the founding group's calendars must hear of it. "
                        "Send the update."
                    ),
                    "success",
                )
            else:
                flash(_("Changes saved."), "success")
            return back_to(
                "meetings.meeting", slug, "send-title" if moved else None, meeting_id=meeting_id
            )
    return _render_meeting(community, found, change_form=form, status=400)


@bp.post("/<int:meeting_id>/agenda")
@login_required
def agenda(slug: str, meeting_id: int) -> ResponseReturnValue:
    """The agenda, in French and English."""
    community = community_or_404(slug)
    found = _meeting_or_404(community, meeting_id)
    form = AgendaForm()
    if form.validate_on_submit():
        try:
            _save(found, _same(found, agenda=form.agenda()))
        except DomainError as exc:
            db_session().rollback()
            refuse(form, exc, "agenda_fr")
        else:
            flash(_("Agenda saved."), "success")
            return back_to("meetings.meeting", slug, "agenda-title", meeting_id=meeting_id)
    return _render_meeting(community, found, agenda_form=form, status=400)


@bp.post("/<int:meeting_id>/reminders")
@login_required
def reminders(slug: str, meeting_id: int) -> ResponseReturnValue:
    """When the reminders go before the meeting."""
    community = community_or_404(slug)
    found = _meeting_or_404(community, meeting_id)
    form = RemindersForm()
    if form.validate_on_submit():
        try:
            _save(found, _same(found, reminder_minutes=form.minutes()))
        except DomainError as exc:
            db_session().rollback()
            refuse(form, exc, "other")
        else:
            flash(_("Reminders saved."), "success")
            return back_to("meetings.meeting", slug, "reminders-title", meeting_id=meeting_id)
    return _render_meeting(community, found, reminders_form=form, status=400)


@bp.route("/<int:meeting_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(slug: str, meeting_id: int) -> ResponseReturnValue:
    """Cancel the meeting, after a confirmation page."""
    community = community_or_404(slug)
    found = _meeting_or_404(community, meeting_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        session = db_session()
        if meetings.cancel(session, meeting_id, actor=actor()):
            session.commit()
            flash(
                _("The meeting is cancelled. Send the cancellation so that calendars remove it."),
                "success",
            )
        return back_to("meetings.meeting", slug, "send-title", meeting_id=meeting_id)
    return render_template(
        "meetings/cancel.html",
        community=community,
        meeting=found,
        when=moment(found.starts_at, found.timezone),
        form=form,
    )


@bp.post("/<int:meeting_id>/send")
@login_required
def send(slug: str, meeting_id: int) -> ResponseReturnValue:
    """Prepare the email about the meeting (invitation, update or cancellation: a draft
    campaign, reused while it is one); its page sends it."""
    community = community_or_404(slug)
    found = _meeting_or_404(community, meeting_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = f"{send_label(found)} · {found.title}"
    back = url_for("meetings.meeting", slug=slug, meeting_id=meeting_id, _anchor="send-title")
    return prepare_campaign(community, CampaignKind.INVITATION, name, back, meeting_id=meeting_id)


@bp.route("/<int:meeting_id>/check-in", methods=["GET", "POST"])
@login_required
def check_in(slug: str, meeting_id: int) -> ResponseReturnValue:
    """The facilitator marks who came, one tap per person."""
    community = community_or_404(slug)
    found = _meeting_or_404(community, meeting_id)
    session = db_session()
    invitees = meetings.invitees(session, meeting_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        person_id = request.form.get("person", type=int)
        person = next((i for i in invitees if i.person_id == person_id), None)
        if person is None:
            abort(404)
        present = request.form.get("present") == "yes"
        meetings.check_in(session, meeting_id, person.person_id, present)
        session.commit()
        if present:
            flash(_("%(name)s: present.", name=person.name), "success")
        else:
            flash(_("%(name)s: not present.", name=person.name), "success")
        return back_to(
            "meetings.check_in", slug, f"person-{person.person_id}", meeting_id=meeting_id
        )
    return render_template(
        "meetings/check_in.html",
        community=community,
        meeting=found,
        when=moment(found.starts_at, found.timezone),
        invitees=invitees,
        present=sum(1 for i in invitees if i.checked_in),
        rsvp_states=RSVP_STATES,
    )
