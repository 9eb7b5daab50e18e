"""Coordinator pages for the founding meeting: the availability poll and its slots, the heat map
of the answers with the recommended slot, the meeting itself (details, agenda, reminders, a move
or a cancellation, who answered), its invitation emails, and the facilitator's check-in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.meetings import (
    FOUNDING_TITLE,
    AgendaForm,
    ChoiceForm,
    DeadlineForm,
    MeetingForm,
    PollForm,
    RemindersForm,
    RoleForm,
    SlotForm,
)
from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.i18n import translations_for
from webapp.models import (
    AuditLog,
    Campaign,
    CampaignKind,
    CampaignState,
    Community,
    Meeting,
    MeetingState,
    Poll,
    PollState,
)
from webapp.services import campaigns, meetings, polls
from webapp.services.errors import DomainError, NotFound
from webapp.services.messages import moment_text

from .communities import community_or_404
from .errors import error_text

bp = Blueprint("meetings", __name__, url_prefix="/communities/<slug>/meetings")

POLL_STATES = {"open": _l("Open"), "closed": _l("Closed"), "past": _l("Deadline passed")}
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
ROLES = {"facilitator": _l("Facilitator"), "sponsor": _l("Sponsor")}
# The columns of the heat map: who can, who can if need be, who cannot, who has not answered.
HEAT_COLUMNS = (
    ("yes", _l("Yes")),
    ("if_need_be", _l("If need be")),
    ("no", _l("No")),
    ("unanswered", _l("Not answered")),
)
# Which field a service's refusal is about (its msgid); anything else goes to the first field.
FIELD_OF = {
    "A slot lasts from 15 minutes to 12 hours.": "duration",
    "A meeting lasts from 15 minutes to 12 hours.": "duration",
    "The place must fit on one line, in at most %(count)d characters.": "place",
    "The place fits on one line, at most 300 characters.": "place",
    "A capacity is a whole number, at least 1; leave it empty for none.": "capacity",
    "A room holds at least one person.": "capacity",
    "%(time)s does not exist in %(zone)s: the clocks go forward at that time. "
    "Choose another time.": "start",
    "Give the time the meeting starts on that day.": "start",
    "Unknown time zone %(zone)s.": "timezone",
    "The title must fit on one line, in at most %(count)d characters.": "title",
    "The meeting needs a title on one line, at most 200 characters.": "title",
    "The note must be at most %(count)d characters long.": "note",
    "The deadline must be in the future.": "deadline",
    "A key person's weight is from 1 to 10.": "weight",
    "At most 5 reminders, each between 1 minute and 60 days before the meeting.": "other",
}


def _locale() -> str:
    return str(get_locale() or "fr")


def _actor() -> str:
    return f"user:{current_user.id}"


def _refuse(form: FlaskForm, error: DomainError, default: str) -> None:
    """Show a service's refusal next to the field it is about."""
    name = FIELD_OF.get(error.message, default)
    target = form[name] if name in form else form[default]
    target.errors = [*target.errors, error_text(error)]


def _back(endpoint: str, slug: str, anchor: str | None = None, **ids: int) -> ResponseReturnValue:
    values: dict[str, Any] = {"slug": slug, "_anchor": anchor, **ids}
    return redirect(url_for(endpoint, **values), code=303)


# -- words for moments ------------------------------------------------------------------------


def moment(value: datetime, zone_name: str) -> str:
    """A moment in a zone, the zone written out, in the reader's language."""
    return moment_text(value, ZoneInfo(zone_name), _locale())


def day_text(value: date) -> str:
    """A day in full, in the reader's language."""
    return str(format_date(value, format="full", locale=_locale()))


def slot_text(slot: polls.Slot) -> str:
    """A slot as the poll's zone reads it: its day and hours, or its whole day."""
    local = polls.slot_in_zone(slot, slot.timezone)
    if local.start is None or local.end is None:
        return _("%(day)s, whole day", day=day_text(local.day))
    zone = ZoneInfo(local.zone)
    if local.start.date() != local.end.date():
        return _(
            "%(start)s to %(end)s",
            start=moment(local.start, local.zone),
            end=moment(local.end, local.zone),
        )
    return _(
        "%(day)s, %(start)s to %(end)s (%(zone)s)",
        day=day_text(local.day),
        start=format_time(local.start, format="short", tzinfo=zone, locale=_locale()),
        end=format_time(local.end, format="short", tzinfo=zone, locale=_locale()),
        zone=local.zone,
    )


def number(value: float) -> str:
    """A weight without useless decimals, as the reader writes it."""
    return str(format_decimal(value, format="0.##", locale=_locale()))


def poll_state(poll: Poll) -> str:
    """Open, closed, or open with its deadline passed."""
    if poll.state == PollState.OPEN and not polls.is_open(poll):
        return "past"
    return poll.state


def heat_level(count: int, total: int) -> int:
    """How strong a heat map cell looks, 0 (nobody) to 4 (three quarters or more)."""
    if count <= 0 or total <= 0:
        return 0
    return min(4, 1 + int(4 * count / total))


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
            len(polls.respondents(session, poll.id)),
            len(polls.eligible_people(session, poll.id)),
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


# -- a poll -------------------------------------------------------------------------------------


@bp.route("/polls/new", methods=["GET", "POST"])
@login_required
def new_poll(slug: str) -> ResponseReturnValue:
    """A new availability poll: title, time zone, deadline, note."""
    community = community_or_404(slug)
    form = PollForm(timezone=community.timezone)
    if form.validate_on_submit():
        session = db_session()
        try:
            poll_id = polls.create_poll(
                session,
                community.id,
                title=form.title.data or "",
                timezone=form.timezone.data or "",
                deadline_at=form.deadline.data,
                note=form.note.data or "",
                actor=_actor(),
            )
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "title")
        else:
            session.commit()
            flash(_("Poll created: add its slots."), "success")
            return _back("meetings.poll", slug, "add-slot-title", poll_id=poll_id)
    status = 400 if form.is_submitted() else 200
    return render_template("meetings/new_poll.html", community=community, form=form), status


def _poll_or_404(community: Community, poll_id: int) -> Poll:
    try:
        return polls.poll_of(db_session(), poll_id, community_id=community.id)
    except NotFound:
        abort(404)


def _campaigns_about(session: Session, **about: int) -> list[Campaign]:
    """The campaigns about a poll or a meeting (``poll_id=`` or ``meeting_id=``), newest first."""
    query = select(Campaign).order_by(Campaign.id.desc())
    for column, value in about.items():
        query = query.where(getattr(Campaign, column) == value)
    return list(session.scalars(query))


def _render_poll(
    community: Community,
    poll: Poll,
    *,
    slot_form: SlotForm | None = None,
    role_form: RoleForm | None = None,
    deadline_form: DeadlineForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    session = db_session()
    slots = polls.slots_of(session, poll.id)
    eligible = polls.eligible_people(session, poll.id)
    role_form = role_form or RoleForm(formdata=None)
    role_form.offer([(p.person_id, p.name) for p in eligible])
    return render_template(
        "meetings/poll.html",
        community=community,
        poll=poll,
        state=poll_state(poll),
        poll_states=POLL_STATES,
        deadline=moment(poll.deadline_at, poll.timezone) if poll.deadline_at else "",
        slots=[(slot, slot_text(slot)) for slot in slots],
        roles=polls.roles_of(session, poll.id),
        role_names=ROLES,
        number=number,
        eligible=eligible,
        answered=len(polls.respondents(session, poll.id)),
        slot_form=slot_form or SlotForm(formdata=None),
        role_form=role_form,
        deadline_form=deadline_form or DeadlineForm(formdata=None),
        campaigns=_campaigns_about(session, poll_id=poll.id),
        meetings=[m for m in meetings.meetings_of(session, community.id) if m.poll_id == poll.id],
    ), status


@bp.get("/polls/<int:poll_id>")
@login_required
def poll(slug: str, poll_id: int) -> ResponseReturnValue:
    """A poll: its slots, its key people, its deadline, and asking the founding group."""
    community = community_or_404(slug)
    return _render_poll(community, _poll_or_404(community, poll_id))


@bp.post("/polls/<int:poll_id>/slots")
@login_required
def add_slot(slug: str, poll_id: int) -> ResponseReturnValue:
    """Add a candidate slot, timed or for a whole day."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    form = SlotForm()
    if form.validate_on_submit():
        session = db_session()
        start = form.start.data
        try:
            polls.add_slot(
                session,
                poll_id,
                start_local=datetime.combine(form.day.data, start) if start else None,
                day=None if start else form.day.data,
                duration_minutes=form.duration.data or 0,
                place=form.place.data or "",
                capacity=form.capacity.data,
                actor=_actor(),
            )
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "day")
        else:
            session.commit()
            flash(_("Slot added."), "success")
            return _back("meetings.poll", slug, "add-slot-title", poll_id=poll_id)
    return _render_poll(community, found, slot_form=form, status=400)


@bp.post("/polls/<int:poll_id>/slots/<int:slot_id>/remove")
@login_required
def remove_slot(slug: str, poll_id: int, slot_id: int) -> ResponseReturnValue:
    """Remove a slot and the answers given for it."""
    community = community_or_404(slug)
    _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    try:
        removed = polls.remove_slot(session, poll_id, slot_id, actor=_actor())
    except NotFound:
        abort(404)
    session.commit()
    flash(
        ngettext(
            "Slot removed, with %(num)d answer.", "Slot removed, with %(num)d answers.", removed
        ),
        "success",
    )
    return _back("meetings.poll", slug, "slots-title", poll_id=poll_id)


@bp.post("/polls/<int:poll_id>/roles")
@login_required
def set_role(slug: str, poll_id: int) -> ResponseReturnValue:
    """Make someone of the founding group the facilitator or the sponsor, with a weight."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    session = db_session()
    form = RoleForm().offer(
        [(p.person_id, p.name) for p in polls.eligible_people(session, poll_id)]
    )
    if form.validate_on_submit():
        try:
            polls.set_role(
                session,
                poll_id,
                form.person.data,
                form.role.data or "",
                float(form.weight.data or 0),
                actor=_actor(),
            )
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "person")
        else:
            session.commit()
            flash(_("Key person saved."), "success")
            return _back("meetings.poll", slug, "roles-title", poll_id=poll_id)
    return _render_poll(community, found, role_form=form, status=400)


@bp.post("/polls/<int:poll_id>/roles/<int:person_id>/remove")
@login_required
def remove_role(slug: str, poll_id: int, person_id: int) -> ResponseReturnValue:
    """The person is no longer a key person of the poll."""
    community = community_or_404(slug)
    _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    if polls.remove_role(session, poll_id, person_id, actor=_actor()):
        session.commit()
        flash(_("Key person removed."), "success")
    return _back("meetings.poll", slug, "roles-title", poll_id=poll_id)


@bp.post("/polls/<int:poll_id>/deadline")
@login_required
def set_deadline(slug: str, poll_id: int) -> ResponseReturnValue:
    """Move the poll's deadline, or remove it."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    form = DeadlineForm()
    if form.validate_on_submit():
        session = db_session()
        try:
            polls.set_deadline(session, poll_id, form.deadline.data, actor=_actor())
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "deadline")
        else:
            session.commit()
            flash(_("Deadline saved."), "success")
            return _back("meetings.poll", slug, poll_id=poll_id)
    return _render_poll(community, found, deadline_form=form, status=400)


@bp.post("/polls/<int:poll_id>/<any(close, reopen):action>")
@login_required
def open_or_close(slug: str, poll_id: int, action: str) -> ResponseReturnValue:
    """Stop the answers, or let the founding group answer again."""
    community = community_or_404(slug)
    _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    change = polls.close_poll if action == "close" else polls.reopen_poll
    try:
        changed = change(session, poll_id, actor=_actor())
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return _back("meetings.poll", slug, "deadline-title", poll_id=poll_id)
    session.commit()
    if changed:
        flash(_("The poll is closed.") if action == "close" else _("The poll is open."), "success")
    return _back("meetings.poll", slug, poll_id=poll_id)


def _prepare(
    community: Community, kind: str, name: str, back: str, **about: int
) -> ResponseReturnValue:
    """The draft campaign of this kind about the poll or the meeting (``poll_id=`` or
    ``meeting_id=``): the one already prepared, else a new one; then its page, which sends it."""
    session = db_session()
    campaign_id = next(
        (
            c.id
            for c in _campaigns_about(session, **about)
            if c.kind == kind and c.state == CampaignState.DRAFT
        ),
        None,
    )
    if campaign_id is None:
        try:
            campaign_id = campaigns.create_campaign(
                session,
                community.id,
                kind=kind,
                name=name,
                user_id=int(current_user.id),
                poll_id=about.get("poll_id"),
                meeting_id=about.get("meeting_id"),
            )
        except DomainError as exc:
            session.rollback()
            flash(error_text(exc), "error")
            return redirect(back, code=303)
        session.commit()
    flash(_("Check the email, send yourself a test, then launch it."), "success")
    return redirect(
        url_for("campaigns.show", slug=community.slug, campaign_id=campaign_id), code=303
    )


@bp.post("/polls/<int:poll_id>/ask")
@login_required
def ask(slug: str, poll_id: int) -> ResponseReturnValue:
    """Prepare the email asking the founding group for their availability (a draft campaign,
    reused while it is one); its page sends it."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = _("Availability: %(title)s", title=found.title)
    back = url_for("meetings.poll", slug=slug, poll_id=poll_id, _anchor="ask-title")
    return _prepare(community, CampaignKind.AVAILABILITY, name, back, poll_id=poll_id)


# -- the heat map and the choice of a slot ------------------------------------------------------


@dataclass(frozen=True)
class HeatCell:
    """Who gave one answer for a slot, and how strong the cell looks."""

    column: str
    people: tuple[polls.Participant, ...]
    level: int


@dataclass(frozen=True)
class HeatRow:
    """A slot in the heat map: its answers, its score and why."""

    slot: polls.Slot
    text: str
    cells: tuple[HeatCell, ...]
    score: str
    reasons: tuple[str, ...]
    recommended: bool


def reason_text(reason: polls.Reason) -> str:
    """A line of the recommendation's reasoning, in the reader's language."""
    return _(reason.msgid, **dict(reason.params))


def heat_rows(heat: polls.HeatMap, recommendation: polls.Recommendation) -> list[HeatRow]:
    """One row per slot, in order."""
    total = len(heat.eligible)
    rows = []
    for column, score in zip(heat.slots, recommendation.scores, strict=True):
        groups = {
            "yes": column.yes,
            "if_need_be": column.if_need_be,
            "no": column.no,
            "unanswered": column.unanswered,
        }
        cells = tuple(
            HeatCell(key, groups[key], heat_level(len(groups[key]), total))
            for key, _label in HEAT_COLUMNS
        )
        rows.append(
            HeatRow(
                column.slot,
                slot_text(column.slot),
                cells,
                number(score.score),
                tuple(reason_text(r) for r in score.reasons),
                column.slot.id == recommendation.slot_id,
            )
        )
    return rows


def _render_answers(
    community: Community, poll: Poll, form: ChoiceForm | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    heat, recommendation = polls.recommendation_for(session, poll.id)
    rows = heat_rows(heat, recommendation)
    if form is None:
        title = translations_for(community.language).gettext(FOUNDING_TITLE)
        form = ChoiceForm(formdata=None, slot=recommendation.slot_id, title=title)
    recommended = _("(recommended)")
    form.offer([(r.slot.id, f"{r.text} {recommended}" if r.recommended else r.text) for r in rows])
    return render_template(
        "meetings/answers.html",
        community=community,
        poll=poll,
        state=poll_state(poll),
        poll_states=POLL_STATES,
        heat=heat,
        rows=rows,
        columns=HEAT_COLUMNS,
        best=next((r for r in rows if r.recommended), None),
        reasons=[reason_text(r) for r in recommendation.reasons],
        form=form,
        whole_day=any(r.slot.all_day for r in rows),
        meetings=[m for m in meetings.meetings_of(session, community.id) if m.poll_id == poll.id],
    ), status


@bp.get("/polls/<int:poll_id>/answers")
@login_required
def answers(slug: str, poll_id: int) -> ResponseReturnValue:
    """The heat map of the answers, the recommended slot and why, and the choice of a slot."""
    community = community_or_404(slug)
    return _render_answers(community, _poll_or_404(community, poll_id))


@bp.post("/polls/<int:poll_id>/confirm")
@login_required
def confirm(slug: str, poll_id: int) -> ResponseReturnValue:
    """The meeting takes place at the chosen slot; the poll closes."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    session = db_session()
    slots = {s.id: s for s in polls.slots_of(session, poll_id)}
    form = ChoiceForm().offer([(sid, slot_text(s)) for sid, s in slots.items()])
    if form.validate_on_submit():
        slot = slots[form.slot.data]
        start = form.start.data
        try:
            meeting_id = meetings.schedule_from_slot(
                session,
                poll_id,
                slot.id,
                title=form.title.data or "",
                start_local=datetime.combine(slot.local_day, start) if start else None,
                actor=_actor(),
            )
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "slot")
        else:
            session.commit()
            flash(
                _("The meeting is set and the poll is closed. Check the agenda, then invite."),
                "success",
            )
            return _back("meetings.meeting", slug, meeting_id=meeting_id)
    return _render_answers(community, found, form, 400)


# -- a meeting ----------------------------------------------------------------------------------


def _data(form: MeetingForm) -> meetings.MeetingData:
    """What was typed, the start read in the chosen zone (may raise DomainError)."""
    zone_name = form.timezone.data or ""
    return meetings.MeetingData(
        title=form.title.data or "",
        starts_at=polls.local_to_utc(form.local_start(), zone_name),
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
            meeting_id = meetings.schedule(session, community.id, _data(form), actor=_actor())
        except DomainError as exc:
            session.rollback()
            _refuse(form, exc, "day")
        else:
            session.commit()
            flash(_("The meeting is set. Check the agenda, then invite."), "success")
            return _back("meetings.meeting", slug, meeting_id=meeting_id)
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
    sent = _campaigns_about(session, meeting_id=meeting.id)
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
        locale=_locale(),
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
    moved = meetings.change(session, meeting.id, data, actor=_actor())
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
            _refuse(form, exc, "day")
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
            return _back(
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
            _refuse(form, exc, "agenda_fr")
        else:
            flash(_("Agenda saved."), "success")
            return _back("meetings.meeting", slug, "agenda-title", meeting_id=meeting_id)
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
            _refuse(form, exc, "other")
        else:
            flash(_("Reminders saved."), "success")
            return _back("meetings.meeting", slug, "reminders-title", meeting_id=meeting_id)
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
        if meetings.cancel(session, meeting_id, actor=_actor()):
            session.commit()
            flash(
                _("The meeting is cancelled. Send the cancellation so that calendars remove it."),
                "success",
            )
        return _back("meetings.meeting", slug, "send-title", meeting_id=meeting_id)
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
    return _prepare(community, CampaignKind.INVITATION, name, back, meeting_id=meeting_id)


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
        return _back("meetings.check_in", slug, f"person-{person.person_id}", meeting_id=meeting_id)
    return render_template(
        "meetings/check_in.html",
        community=community,
        meeting=found,
        when=moment(found.starts_at, found.timezone),
        invitees=invitees,
        present=sum(1 for i in invitees if i.checked_in),
        rsvp_states=RSVP_STATES,
    )
