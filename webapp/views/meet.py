"""The founding group's side of a meeting, through their personal link: the availability poll and
the invitation to answer, each shown in the reader's own time zone with the zone written out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_time
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from forms.public import ConfirmForm
from forms.questionnaires import localised
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import Availability, Meeting, MeetingState, Person, Poll, RsvpStatus
from webapp.services import (
    activities,
    apply,
    meetings,
    poll_answers,
    poll_slots,
    poll_zones,
    polls,
)
from webapp.services.errors import DomainError
from webapp.services.messages import moment_text
from webapp.services.reminders import zone as zone_or_utc

from .errors import error_text
from .respond import community_and_person, invalid_link, respondent

bp = Blueprint("meet", __name__)
ANSWERS = {
    RsvpStatus.ACCEPTED: "yes",
    RsvpStatus.TENTATIVE: "maybe",
    RsvpStatus.DECLINED: "no",
}


@bp.app_template_filter("format_day")
def format_day(value: date | datetime, locale: str) -> str:
    """ "mardi 3 mars 2027": a day as the reader writes it."""
    day = value.date() if isinstance(value, datetime) else value
    return str(format_date(day, format="full", locale=locale))


@bp.app_template_filter("format_hour")
def format_hour(value: datetime, locale: str) -> str:
    """ "09:30" or "9:30 AM": an aware time, in its own zone, as the reader writes it."""
    return str(format_time(value, format="short", tzinfo=value.tzinfo, locale=locale))


def _meeting_for(grant: Any) -> Meeting | None:
    """The meeting the person's invitation is about."""
    db = db_session()
    campaign = apply.campaign_of(db, grant.delivery_id)
    if campaign is None or campaign.meeting_id is None:
        return None
    return db.get(Meeting, campaign.meeting_id)


@bp.get("/respond/meeting")
def meeting() -> ResponseReturnValue:
    """The meeting: when (in the reader's zone), where, the agenda, and the three answers."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    found = _meeting_for(grant)
    if found is None:
        return redirect(url_for("respond.page"), code=303)
    community, person = community_and_person(grant)
    zone = zone_or_utc(person.timezone or community.timezone)
    locale = reader_locale()
    mine = next(
        (i for i in meetings.invitees(db_session(), found.id) if i.person_id == person.id), None
    )
    facilitator = db_session().get(Person, found.facilitator_id) if found.facilitator_id else None
    return render_template(
        "meet/meeting.html",
        community=community,
        person=person,
        meeting=found,
        when=moment_text(found.starts_at, zone, locale),
        ends=moment_text(meetings.meeting_end(found), zone, locale),
        agenda=[localised(item, locale) for item in found.agenda or []],
        cancelled=found.state == MeetingState.CANCELLED,
        status=mine.status if mine else "",
        activity_type=activities.type_label(found.activity_type, locale)
        if found.activity_type
        else "",
        facilitator=facilitator.display_name if facilitator else "",
        form=ConfirmForm(),
    )


@bp.post("/respond/meeting")
def answer_meeting() -> ResponseReturnValue:
    """Yes, maybe or no: recorded at once; a full room puts a yes on the waiting list."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    found = _meeting_for(grant)
    form = ConfirmForm()
    if found is None or not form.validate():
        return redirect(url_for("meet.meeting"), code=303)
    wanted = {v: k for k, v in ANSWERS.items()}.get(request.form.get("answer", ""))
    if wanted is None:
        return redirect(url_for("meet.meeting"), code=303)
    db = db_session()
    try:
        outcome = meetings.answer(
            db,
            found.id,
            grant.person_id,
            wanted,
            source="web",
            comment=request.form.get("comment", "").strip(),
        )
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("meet.meeting"), code=303)
    db.commit()
    messages = {
        RsvpStatus.ACCEPTED: _("Thank you: you are expected."),
        RsvpStatus.TENTATIVE: _("Noted: maybe. Tell us when you know."),
        RsvpStatus.DECLINED: _("Noted: you cannot come. Thank you for telling us."),
        RsvpStatus.WAITLISTED: _(
            "The room is full: you are on the waiting list, and we will write to you if a seat "
            "frees up."
        ),
    }
    flash(messages[RsvpStatus(outcome.status)], "success")
    return redirect(url_for("meet.meeting"), code=303)


# -- the availability poll -----------------------------------------------------------------------


def _poll_for(grant: Any) -> Poll | None:
    """The poll the person's email asked them to answer."""
    db = db_session()
    campaign = apply.campaign_of(db, grant.delivery_id)
    if campaign is None or campaign.poll_id is None:
        return None
    return db.get(Poll, campaign.poll_id)


def _render_poll(
    grant: Any, found: Poll, chosen: dict[int, str], comment: str, status: int = 200
) -> Any:
    db = db_session()
    community, person = community_and_person(grant)
    wanted = request.args.get("zone", "")
    reader_zone = wanted or person.timezone or community.timezone
    locale = reader_locale()
    slots = poll_slots.slots_of(db, found.id)
    shown = [(slot, poll_slots.slot_in_zone(slot, reader_zone)) for slot in slots]
    zone_name = shown[0][1].zone if shown else reader_zone
    return render_template(
        "meet/poll.html",
        community=community,
        person=person,
        poll=found,
        slots=shown,
        zone=zone_name,
        zones=sorted(poll_zones.known_zones()),
        open=polls.is_open(found),
        deadline=moment_text(found.deadline_at, zone_or_utc(zone_name), locale)
        if found.deadline_at
        else "",
        chosen=chosen,
        comment=comment,
        answers=[a.value for a in Availability],
        locale=locale,
        form=ConfirmForm(),
    ), status


@bp.get("/respond/poll")
def poll() -> ResponseReturnValue:
    """The slots in the reader's time zone (written out), each answered yes, if need be or no."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    found = _poll_for(grant)
    if found is None:
        return redirect(url_for("respond.page"), code=303)
    db = db_session()
    given = poll_answers.answers_of(db, found.id, grant.person_id)
    chosen = {slot_id: str(answer) for slot_id, answer in given.items()}
    return _render_poll(
        grant, found, chosen, poll_answers.comment_of(db, found.id, grant.person_id)
    )


@bp.post("/respond/poll")
def answer_poll() -> ResponseReturnValue:
    """Save the answers; refused ones come back with every choice kept."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    found = _poll_for(grant)
    if found is None:
        return redirect(url_for("respond.page"), code=303)
    db = db_session()
    known = {slot.id for slot in poll_slots.slots_of(db, found.id)}
    chosen = {}
    for slot_id in known:
        value = request.form.get(f"slot_{slot_id}", "")
        if value in {a.value for a in Availability}:
            chosen[slot_id] = value
    comment = request.form.get("comment", "").strip()
    form = ConfirmForm()
    if not form.validate():
        flash(_("Your session expired: your choices are kept below, send them again."), "error")
        return _render_poll(grant, found, chosen, comment, 400)
    try:
        poll_answers.answer(db, found.id, grant.person_id, dict(chosen.items()), comment=comment)
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return _render_poll(grant, found, chosen, comment, 400)
    db.commit()
    flash(
        _("Thank you: your availability is saved. You can change it until the deadline."), "success"
    )
    zone = request.form.get("zone", "")
    return redirect(url_for("meet.poll", zone=zone or None), code=303)
