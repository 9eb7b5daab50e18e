"""A member's side of the recurring activities, through the personal link of an activity email:
the needs survey, feedback after an activity they came to, the facilitator's summary, the topics
for the next ones, and the coming activities to answer; on each page, the whole series for their
calendar.

The needs survey's writes carry ``resume`` like the application's (see :mod:`.apply`): answers
typed while the session expired are still saved. The other forms carry their CSRF token; a
refusal comes back with what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from forms.activity_respond import FeedbackForm, RsvpForm, SummaryForm, TopicForm
from forms.questionnaires import answers_from_form, build_form_class, form_data, localised
from webapp.extensions import csrf, db_session, state
from webapp.i18n import reader_locale
from webapp.mail import envelope_address
from webapp.models import (
    ActivitySeries,
    ActivityStep,
    Campaign,
    CampaignKind,
    Community,
    Meeting,
    MeetingState,
    RsvpStatus,
    SeriesState,
    utcnow,
)
from webapp.services import (
    activities,
    activity_feedback,
    activity_series,
    apply,
    meetings,
    tokens,
)
from webapp.services.errors import DomainError, NotFound
from webapp.services.messages import moment_text
from webapp.services.reminders import zone as zone_or_utc

from .apply import autosaved, posted_grant, resume_value, saved_for_later, sent_or_saved
from .errors import error_text
from .respond import community_and_person, invalid_link, respondent

bp = Blueprint("activity_respond", __name__)
ANSWERS = {"yes": RsvpStatus.ACCEPTED, "maybe": RsvpStatus.TENTATIVE, "no": RsvpStatus.DECLINED}
RSVP_DONE = {  # the same thanks as the meeting page's
    RsvpStatus.ACCEPTED: _l("Thank you: you are expected."),
    RsvpStatus.TENTATIVE: _l("Noted: maybe. Tell us when you know."),
    RsvpStatus.DECLINED: _l("Noted: you cannot come. Thank you for telling us."),
    RsvpStatus.WAITLISTED: _l(
        "The room is full: you are on the waiting list, and we will write to you if a seat "
        "frees up."
    ),
}


@dataclass(frozen=True)
class Visit:
    """Whose link it is, the activity email it came from, and what that email asks."""

    grant: tokens.TokenGrant
    campaign: Campaign
    step: str
    meeting: Meeting | None  # the occurrence the email follows, if it follows one


def _visit(grant: tokens.TokenGrant | None, step: str | None = None) -> Visit | None:
    """The visit of a member whose link came with an activity email (None otherwise); ``step``
    overrides the email's for the needs survey, open to every member."""
    if grant is None:
        return None
    db = db_session()
    campaign = apply.campaign_of(db, grant.delivery_id)
    if campaign is None or campaign.kind != CampaignKind.ACTIVITY:
        return None
    if not meetings.is_invited(db, grant.community_id, grant.person_id):
        return None
    meeting = None
    if campaign.meeting_id is not None:
        try:
            meeting = activity_feedback.occurrence_of(db, grant.community_id, campaign.meeting_id)
        except NotFound:
            meeting = None
    chosen = campaign.activity_step or ActivityStep.NEEDS
    if step == ActivityStep.NEEDS:
        chosen = ActivityStep.NEEDS
    return Visit(grant, campaign, str(chosen), meeting)


def _elsewhere() -> ResponseReturnValue:
    """Not an activity link (any more): the personal link's own page says where to go."""
    return redirect(url_for("respond.page"), code=303)


def _page_url(visit: Visit, anchor: str | None = None) -> str:
    step = "needs" if visit.step != visit.campaign.activity_step else None
    return url_for("activity_respond.page", step=step, _anchor=anchor)


# -- rendering -----------------------------------------------------------------------------------


def _needs_form(answers: activity_feedback.NeedsAnswers, formdata: Any = None) -> Any:
    form_class = build_form_class(answers.questionnaire.definition, reader_locale())
    return form_class(formdata=formdata, data=form_data(answers.answers), meta={"csrf": False})


def _series(visit: Visit, *, active: bool = False) -> list[ActivitySeries]:
    """The series the page is about: the followed occurrence's (if still ``active``, when
    asked), or every active one of the community."""
    db = db_session()
    if visit.meeting is None:
        return activity_feedback.active_series(db, visit.grant.community_id)
    series = db.get(ActivitySeries, visit.meeting.series_id)
    if series is None or (active and series.state != SeriesState.ACTIVE):
        return []
    return [series]


def _topic_form(visit: Visit, formdata: Any = None) -> TopicForm:
    form = TopicForm(formdata=formdata)
    form.series.choices = [(s.id, s.title) for s in _series(visit, active=True)]
    return form


def _forms(visit: Visit, given: dict[str, Any]) -> dict[str, Any]:
    """The page's forms: those posted (``given``, bound to what was typed) and the others,
    filled with what the member gave before."""
    db = db_session()
    meeting = visit.meeting
    forms: dict[str, Any] = {"topic_form": _topic_form(visit)}
    if visit.step == ActivityStep.FEEDBACK and meeting is not None:
        mine = activity_feedback.feedback_of(db, meeting.id, visit.grant.person_id)
        forms["feedback"] = mine
        forms["feedback_form"] = FeedbackForm(
            formdata=None,
            data={"usefulness": mine.usefulness, "comment": mine.comment} if mine else {},
        )
    if visit.step == ActivityStep.SUMMARY and meeting is not None:
        forms["summary_form"] = SummaryForm(formdata=None, data={"summary": meeting.summary})
    if visit.step == ActivityStep.NEEDS:
        answers = activity_feedback.needs_answers(
            db, visit.grant.community_id, visit.grant.person_id
        )
        forms["needs"] = answers
        forms["needs_form"] = _needs_form(answers)
    forms.update(given)
    return forms


def _render(
    visit: Visit, status: int = 200, *, refusal: str = "", **given: Any
) -> ResponseReturnValue:
    community, person = community_and_person(visit.grant)
    db = db_session()
    locale = reader_locale()
    zone = zone_or_utc(person.timezone or community.timezone)
    meeting = visit.meeting
    forms = _forms(visit, given)
    needs = forms.get("needs")
    topic_series = _series(visit, active=True)
    definition = needs.questionnaire.definition if needs else None
    return render_template(
        "activities/respond.html",
        heading=localised(definition["title"], locale) if definition else _heading(visit.step),
        community=community,
        person=person,
        zone_name=zone.key,
        step=visit.step,
        steps=ActivityStep,
        email_step=visit.campaign.activity_step,
        meeting=meeting,
        meeting_title=activities.occurrence_title(meeting, locale) if meeting else "",
        when=moment_text(meeting.starts_at, zone, locale) if meeting else "",
        cancelled=meeting is not None and meeting.state == MeetingState.CANCELLED,
        took_place=meeting is not None and meeting.starts_at <= utcnow(),
        may_give_feedback=meeting is not None
        and activity_feedback.may_give_feedback(db, meeting, person.id),
        facilitates=meeting is not None and meeting.facilitator_id == person.id,
        topic_series=topic_series,
        open_topics={s.id: activity_series.open_topics(db, s.id) for s in topic_series},
        calendars=_series(visit),
        coming=activity_feedback.upcoming(db, community.id, person_id=person.id)
        if visit.step == ActivityStep.REENGAGE
        else [],
        moment=lambda value: moment_text(value, zone, locale),
        type_label=lambda code: activities.type_label(code, locale),
        resume=resume_value(visit.grant),
        definition=definition,
        localised=localised,
        locale=locale,
        refusal=refusal,
        **forms,
    ), status


def _heading(step: str) -> str:
    return {
        ActivityStep.FEEDBACK: _("Your feedback on the activity"),
        ActivityStep.SUMMARY: _("The summary of the activity"),
        ActivityStep.TOPICS: _("The next topics"),
    }.get(ActivityStep(step), _("The coming activities"))


@bp.get("/respond/activity")
def page() -> ResponseReturnValue:
    """What the activity email asked (``?step=needs``: the needs survey), with the series'
    calendar."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    visit = _visit(grant, request.args.get("step"))
    if visit is None:
        return _elsewhere()
    shown = _render(visit)
    db_session().commit()  # the needs survey, made on first use
    return shown


# -- the needs survey ----------------------------------------------------------------------------


@bp.post("/respond/activity/needs")
@csrf.exempt  # ``resume`` is the proof (see the module's docstring)
def answer_needs() -> ResponseReturnValue:
    """Save for later, or send: whatever is refused comes back with every answer as typed."""
    grant = posted_grant()
    if grant is None:
        return invalid_link()
    visit = _visit(grant, ActivityStep.NEEDS)
    if visit is None:
        return _elsewhere()
    db = db_session()
    community_id, person_id = grant.community_id, grant.person_id
    answers = activity_feedback.needs_answers(db, community_id, person_id)
    form = _needs_form(answers, formdata=request.form)
    given = answers_from_form(form, answers.questionnaire.definition)
    sending = request.form.get("action") == "send"

    def save(complete: bool) -> None:
        activity_feedback.save_needs(db, community_id, person_id, given, complete=complete)

    def refused(status: int, refusal: str, fresh: bool) -> ResponseReturnValue:
        shown = activity_feedback.needs_answers(db, community_id, person_id) if fresh else answers
        return _render(visit, status, refusal=refusal, needs=shown, needs_form=form)

    def sent() -> ResponseReturnValue:
        flash(
            _(
                "Thank you: your needs and availability are sent. You can come back and "
                "change them at any time."
            ),
            "success",
        )
        return redirect(_page_url(visit), code=303)

    return sent_or_saved(
        sending=sending,
        valid=sending and form.validate(),
        sent_before=answers.sent,
        save=save,
        refused=refused,
        after_send=sent,
        after_save=lambda: saved_for_later(_page_url(visit)),
        already_sent=_("Your answers are already sent: send them again to change them."),
    )


@bp.post("/respond/activity/needs/autosave")
@csrf.exempt  # ``resume`` is the proof (see the module's docstring)
def autosave_needs() -> ResponseReturnValue:
    """What the page's script posts while the member types: the draft, never checked."""

    def save(grant: tokens.TokenGrant) -> datetime:
        db = db_session()
        answers = activity_feedback.needs_answers(db, grant.community_id, grant.person_id)
        form = _needs_form(answers, formdata=request.form)
        given = answers_from_form(form, answers.questionnaire.definition)
        return activity_feedback.save_needs(
            db, grant.community_id, grant.person_id, given, complete=False
        )

    return autosaved(save)


# -- the small forms -----------------------------------------------------------------------------


def _submit(
    form_name: str,
    make_form: Callable[[Visit], Any],
    change: Callable[[Session, Visit, Any], object],
    done: str,
    anchor: str | None = None,
    *,
    needs_meeting: bool = True,
) -> ResponseReturnValue:
    """A member's form of the page (with its CSRF token): checked, made and thanked with
    ``done``; refused, the page comes back with the refusal and what they typed."""
    grant = respondent()
    visit = _visit(grant)
    if visit is None:
        return invalid_link() if grant is None else _elsewhere()
    if needs_meeting and visit.meeting is None:
        return _elsewhere()
    form = make_form(visit)
    if not form.validate():
        return _render(visit, 400, **{form_name: form})
    db = db_session()
    try:
        change(db, visit, form)
    except DomainError as exc:
        db.rollback()
        return _render(visit, 400, refusal=error_text(exc), **{form_name: form})
    db.commit()
    flash(done, "success")
    return redirect(_page_url(visit, anchor), code=303)


def _meeting_id(visit: Visit) -> int:
    assert visit.meeting is not None
    return visit.meeting.id


@bp.post("/respond/activity/feedback")
def give_feedback() -> ResponseReturnValue:
    """Was it useful, a comment, the next topic: given again, it replaces the first."""
    return _submit(
        "feedback_form",
        lambda visit: FeedbackForm(),
        lambda db, visit, form: activity_feedback.record_feedback(
            db,
            visit.grant.community_id,
            _meeting_id(visit),
            visit.grant.person_id,
            usefulness=form.usefulness.data,
            comment=form.comment.data or "",
            next_topic=form.next_topic.data or "",
        ),
        _("Thank you for your feedback: it helps prepare the next activities."),
    )


@bp.post("/respond/activity/summary")
def post_summary() -> ResponseReturnValue:
    """The facilitator posts (or corrects) the summary of the activity."""
    return _submit(
        "summary_form",
        lambda visit: SummaryForm(),
        lambda db, visit, form: activity_feedback.post_summary(
            db,
            visit.grant.community_id,
            _meeting_id(visit),
            visit.grant.person_id,
            form.summary.data or "",
        ),
        _("Thank you: the summary is posted."),
    )


@bp.post("/respond/activity/topics")
def propose_topic() -> ResponseReturnValue:
    """A topic for the coming activities of one of the community's series."""
    return _submit(
        "topic_form",
        lambda visit: _topic_form(visit, formdata=request.form),
        lambda db, visit, form: activity_feedback.propose_topic(
            db,
            visit.grant.community_id,
            form.series.data,
            visit.grant.person_id,
            form.topic.data or "",
        ),
        _("Thank you: your topic is proposed for the next activities."),
        "topics-title",
        needs_meeting=False,
    )


@bp.post("/respond/activity/rsvp")
def answer_occurrence() -> ResponseReturnValue:
    """Yes, maybe or no to a coming activity, from the list of the coming ones."""
    grant = respondent()
    visit = _visit(grant)
    if visit is None:
        return invalid_link() if grant is None else _elsewhere()
    form = RsvpForm()
    if not form.validate():
        flash(_("Your answer was not recorded: choose yes, maybe or no again."), "error")
        return redirect(_page_url(visit, "coming-title"), code=303)
    meeting_id = int(form.meeting.data or 0)
    db = db_session()
    try:
        outcome = activity_feedback.answer_occurrence(
            db,
            visit.grant.community_id,
            meeting_id,
            visit.grant.person_id,
            ANSWERS[form.answer.data],
        )
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return redirect(_page_url(visit, "coming-title"), code=303)
    db.commit()
    flash(str(RSVP_DONE[RsvpStatus(outcome.status)]), "success")
    return redirect(_page_url(visit, f"occurrence-{meeting_id}"), code=303)


# -- the calendar --------------------------------------------------------------------------------


@bp.get("/respond/activity/series.ics")
def series_ics() -> ResponseReturnValue:
    """The whole series (its rule, exceptions and changed occurrences) for the member's
    calendar."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    community = db.get(Community, grant.community_id)
    if community is None or not meetings.is_invited(db, community.id, grant.person_id):
        abort(404)
    organizer = community.contact_email or envelope_address(state().config.mail_from)
    try:
        body = activity_feedback.series_calendar(
            db,
            community.id,
            request.args.get("series", type=int) or 0,
            organizer_email=organizer,
        )
    except NotFound:
        abort(404)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="activities.ics"'},
    )
