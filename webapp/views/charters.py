"""The coordinators' side of the charter: where the drafting stands, the sections asked, the
emails to the founding group, and the follow-up of the founding meeting."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from forms.charters import FollowUpForm
from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import (
    CampaignKind,
    CharterStage,
    Meeting,
)
from webapp.services import charters, meetings
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text
from .meeting_helpers import actor, back_to, campaigns_about, moment, prepare_campaign

bp = Blueprint("charters", __name__, url_prefix="/communities/<slug>/charter")

STAGES = {
    CharterStage.COLLECTING: _l("Collecting the answers"),
    CharterStage.VOTING: _l("Voting on the statements"),
    CharterStage.AMENDING: _l("Amending the draft"),
    CharterStage.CONSENT: _l("Consent round"),
    CharterStage.ADOPTED: _l("Adopted"),
}
SEND_LABELS = {
    CharterStage.COLLECTING: _l("Send the charter questionnaire"),
    CharterStage.VOTING: _l("Ask the members to vote"),
    CharterStage.AMENDING: _l("Send the draft charter"),
    CharterStage.CONSENT: _l("Ask for consent"),
}


@bp.get("")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """Where the charter stands, the sections members answer, and the emails about it."""
    community = community_or_404(slug)
    session = db_session()
    charter = charters.charter_of(session, community.id)
    locale = reader_locale()
    answered = charters.sent_answers(session, community.id)
    page = render_template(
        "charter/index.html",
        community=community,
        charter=charter,
        stage_name=STAGES[CharterStage(charter.stage)],
        stages=CharterStage,
        sections=charters.sections(session, community.id, locale),
        per_section=charters.answers_per_section(answered),
        optional={
            key: charters.heading(key, locale)
            for key in charters.missing_optional(session, community.id)
        },
        group=charters.founding_group_size(session, community.id),
        answered=len(answered),
        confirmed=charters.confirmed_count(session, community.id),
        campaigns=[
            c
            for c in campaigns_about(session, community_id=community.id)
            if c.kind == CampaignKind.CHARTER
        ],
        send_label=SEND_LABELS.get(CharterStage(charter.stage)),
        meetings=meetings.meetings_of(session, community.id),
        form=ConfirmForm(),
    )
    session.commit()  # the charter and its questionnaire, made on first use
    return page


@bp.post("/sections")
@login_required
def add_section(slug: str) -> ResponseReturnValue:
    """Ask one of the optional sections in the charter questionnaire."""
    community = community_or_404(slug)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    key = request.form.get("section", "")
    try:
        charters.add_optional_section(session, community.id, key, actor=actor())
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return back_to("charters.index", slug, "sections-title")
    session.commit()
    flash(
        _(
            "The section “%(section)s” is added to the questionnaire.",
            section=charters.heading(key, reader_locale()),
        ),
        "success",
    )
    return back_to("charters.index", slug, "sections-title")


@bp.post("/send")
@login_required
def send(slug: str) -> ResponseReturnValue:
    """Prepare the email of the charter's stage (a draft campaign, reused while it is one)."""
    community = community_or_404(slug)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    charter = charters.charter_of(db_session(), community.id)
    label = SEND_LABELS.get(CharterStage(charter.stage))
    if label is None:
        flash(_("The charter is adopted: there is nothing to ask the members."), "error")
        return back_to("charters.index", slug)
    back = url_for("charters.index", slug=slug)
    return prepare_campaign(
        community,
        CampaignKind.CHARTER,
        str(label),
        back,
        community_id=community.id,
        meeting_id=None,
        charter_stage=charter.stage,
    )


@bp.route("/follow-up/<int:meeting_id>", methods=["GET", "POST"])
@login_required
def follow_up(slug: str, meeting_id: int) -> ResponseReturnValue:
    """After the founding meeting: the commitments agreed there, then the email that thanks the
    members, asks them to confirm the commitments and opens the charter questionnaire."""
    community = community_or_404(slug)
    session = db_session()
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.community_id != community.id:
        abort(404)
    form = FollowUpForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        form.commitments.data = community.commitment
    reason = charters.follow_up_refusal(meeting)
    refusal = _(reason) if reason else ""
    if request.method == "POST" and not refusal and form.validate_on_submit():
        try:
            charters.set_commitments(
                session,
                community.id,
                form.commitments.data or "",
                meeting_id=meeting.id,
                actor=actor(),
            )
        except DomainError as exc:
            session.rollback()
            refusal = error_text(exc)
        else:
            session.commit()
            back = url_for("charters.follow_up", slug=slug, meeting_id=meeting_id)
            name = _("Follow-up · %(title)s", title=meeting.title)
            return prepare_campaign(
                community, CampaignKind.CHARTER, name, back, meeting_id=meeting.id
            )
    return render_template(
        "charter/follow_up.html",
        community=community,
        meeting=meeting,
        when=moment(meeting.starts_at, meeting.timezone),
        attended=len(meetings.attendees(session, meeting.id)),
        form=form,
        refusal=refusal,
    ), (400 if request.method == "POST" else 200)
