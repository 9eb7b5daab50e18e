"""Coordinator pages for the founding meeting's availability poll: its slots, key people and
deadline, asking the founding group, the heat map of the answers with the recommended slot, and
the choice of a slot, which sets the meeting."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import login_required

from forms.meetings import FOUNDING_TITLE, ChoiceForm, DeadlineForm, PollForm, RoleForm, SlotForm
from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.i18n import translations_for
from webapp.models import CampaignKind, Community, Poll
from webapp.services import meetings, poll_answers, poll_scores, poll_slots, polls
from webapp.services.errors import DomainError, NotFound

from .communities import community_or_404
from .errors import error_text
from .heat_map import HEAT_COLUMNS, heat_rows, number, reason_text, slot_text
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

bp = Blueprint("polls", __name__, url_prefix="/communities/<slug>/meetings/polls")

ROLES = {"facilitator": _l("Facilitator"), "sponsor": _l("Sponsor")}


# -- a poll -------------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
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
                actor=actor(),
            )
        except DomainError as exc:
            session.rollback()
            refuse(form, exc, "title")
        else:
            session.commit()
            flash(_("Poll created: add its slots."), "success")
            return back_to("polls.poll", slug, "add-slot-title", poll_id=poll_id)
    status = 400 if form.is_submitted() else 200
    return render_template("polls/new_poll.html", community=community, form=form), status


def _poll_or_404(community: Community, poll_id: int) -> Poll:
    try:
        return polls.poll_of(db_session(), poll_id, community_id=community.id)
    except NotFound:
        abort(404)


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
    slots = poll_slots.slots_of(session, poll.id)
    eligible = poll_answers.eligible_people(session, poll.id)
    role_form = role_form or RoleForm(formdata=None)
    role_form.offer([(p.person_id, p.name) for p in eligible])
    return render_template(
        "polls/poll.html",
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
        answered=len(poll_answers.respondents(session, poll.id)),
        slot_form=slot_form or SlotForm(formdata=None),
        role_form=role_form,
        deadline_form=deadline_form or DeadlineForm(formdata=None),
        campaigns=campaigns_about(session, poll_id=poll.id),
        meetings=[m for m in meetings.meetings_of(session, community.id) if m.poll_id == poll.id],
    ), status


@bp.get("/<int:poll_id>")
@login_required
def poll(slug: str, poll_id: int) -> ResponseReturnValue:
    """A poll: its slots, its key people, its deadline, and asking the founding group."""
    community = community_or_404(slug)
    return _render_poll(community, _poll_or_404(community, poll_id))


@bp.post("/<int:poll_id>/slots")
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
            poll_slots.add_slot(
                session,
                poll_id,
                start_local=datetime.combine(form.day.data, start) if start else None,
                day=None if start else form.day.data,
                duration_minutes=form.duration.data or 0,
                place=form.place.data or "",
                capacity=form.capacity.data,
                actor=actor(),
            )
        except DomainError as exc:
            session.rollback()
            refuse(form, exc, "day")
        else:
            session.commit()
            flash(_("Slot added."), "success")
            return back_to("polls.poll", slug, "add-slot-title", poll_id=poll_id)
    return _render_poll(community, found, slot_form=form, status=400)


@bp.post("/<int:poll_id>/slots/<int:slot_id>/remove")
@login_required
def remove_slot(slug: str, poll_id: int, slot_id: int) -> ResponseReturnValue:
    """Remove a slot and the answers given for it."""
    community = community_or_404(slug)
    _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    try:
        removed = poll_slots.remove_slot(session, poll_id, slot_id, actor=actor())
    except NotFound:
        abort(404)
    session.commit()
    flash(
        ngettext(
            "Slot removed, with %(num)d answer.", "Slot removed, with %(num)d answers.", removed
        ),
        "success",
    )
    return back_to("polls.poll", slug, "slots-title", poll_id=poll_id)


@bp.post("/<int:poll_id>/roles")
@login_required
def set_role(slug: str, poll_id: int) -> ResponseReturnValue:
    """Make someone of the founding group the facilitator or the sponsor, with a weight."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    session = db_session()
    form = RoleForm().offer(
        [(p.person_id, p.name) for p in poll_answers.eligible_people(session, poll_id)]
    )
    if form.validate_on_submit():
        try:
            polls.set_role(
                session,
                poll_id,
                form.person.data,
                form.role.data or "",
                float(form.weight.data or 0),
                actor=actor(),
            )
        except DomainError as exc:
            session.rollback()
            refuse(form, exc, "person")
        else:
            session.commit()
            flash(_("Key person saved."), "success")
            return back_to("polls.poll", slug, "roles-title", poll_id=poll_id)
    return _render_poll(community, found, role_form=form, status=400)


@bp.post("/<int:poll_id>/roles/<int:person_id>/remove")
@login_required
def remove_role(slug: str, poll_id: int, person_id: int) -> ResponseReturnValue:
    """The person is no longer a key person of the poll."""
    community = community_or_404(slug)
    _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    if polls.remove_role(session, poll_id, person_id, actor=actor()):
        session.commit()
        flash(_("Key person removed."), "success")
    return back_to("polls.poll", slug, "roles-title", poll_id=poll_id)


@bp.post("/<int:poll_id>/deadline")
@login_required
def set_deadline(slug: str, poll_id: int) -> ResponseReturnValue:
    """Move the poll's deadline, or remove it."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    form = DeadlineForm()
    if form.validate_on_submit():
        session = db_session()
        try:
            polls.set_deadline(session, poll_id, form.deadline.data, actor=actor())
        except DomainError as exc:
            session.rollback()
            refuse(form, exc, "deadline")
        else:
            session.commit()
            flash(_("Deadline saved."), "success")
            return back_to("polls.poll", slug, poll_id=poll_id)
    return _render_poll(community, found, deadline_form=form, status=400)


@bp.post("/<int:poll_id>/<any(close, reopen):action>")
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
        changed = change(session, poll_id, actor=actor())
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return back_to("polls.poll", slug, "deadline-title", poll_id=poll_id)
    session.commit()
    if changed:
        flash(_("The poll is closed.") if action == "close" else _("The poll is open."), "success")
    return back_to("polls.poll", slug, poll_id=poll_id)


@bp.post("/<int:poll_id>/ask")
@login_required
def ask(slug: str, poll_id: int) -> ResponseReturnValue:
    """Prepare the email asking the founding group for their availability (a draft campaign,
    reused while it is one); its page sends it."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = _("Availability: %(title)s", title=found.title)
    back = url_for("polls.poll", slug=slug, poll_id=poll_id, _anchor="ask-title")
    return prepare_campaign(community, CampaignKind.AVAILABILITY, name, back, poll_id=poll_id)


# -- the answers and the choice of a slot -----------------------------------------------------


def _render_answers(
    community: Community, poll: Poll, form: ChoiceForm | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    heat, recommendation = poll_scores.recommendation_for(session, poll.id)
    rows = heat_rows(heat, recommendation)
    if form is None:
        title = translations_for(community.language).gettext(FOUNDING_TITLE)
        form = ChoiceForm(formdata=None, slot=recommendation.slot_id, title=title)
    recommended = _("(recommended)")
    form.offer([(r.slot.id, f"{r.text} {recommended}" if r.recommended else r.text) for r in rows])
    return render_template(
        "polls/answers.html",
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


@bp.get("/<int:poll_id>/answers")
@login_required
def answers(slug: str, poll_id: int) -> ResponseReturnValue:
    """The heat map of the answers, the recommended slot and why, and the choice of a slot."""
    community = community_or_404(slug)
    return _render_answers(community, _poll_or_404(community, poll_id))


@bp.post("/<int:poll_id>/confirm")
@login_required
def confirm(slug: str, poll_id: int) -> ResponseReturnValue:
    """The meeting takes place at the chosen slot; the poll closes."""
    community = community_or_404(slug)
    found = _poll_or_404(community, poll_id)
    session = db_session()
    slots = {s.id: s for s in poll_slots.slots_of(session, poll_id)}
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
                actor=actor(),
            )
        except DomainError as exc:
            session.rollback()
            refuse(form, exc, "slot")
        else:
            session.commit()
            flash(
                _("The meeting is set and the poll is closed. Check the agenda, then invite."),
                "success",
            )
            return back_to("meetings.meeting", slug, meeting_id=meeting_id)
    return _render_answers(community, found, form, 400)
