"""The founding group's side of a meeting, through their personal link: the availability poll and
the invitation to answer, each shown in the reader's own time zone with the zone written out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from forms.public import ConfirmForm
from forms.questionnaires import localised
from webapp.extensions import db_session
from webapp.models import Meeting, MeetingState, RsvpStatus
from webapp.services import apply, meetings
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


def _locale() -> str:
    return str(get_locale() or "fr")


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
    locale = _locale()
    mine = next(
        (i for i in meetings.invitees(db_session(), found.id) if i.person_id == person.id), None
    )
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
