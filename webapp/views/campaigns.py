"""Coordinator pages: create, compose, set the sending, preview, test, launch and follow a
campaign."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required

from forms.campaigns import CampaignForm, CancelForm, NewCampaignForm, PolicyForm, TestSendForm
from webapp.extensions import db_session, state
from webapp.i18n import reader_locale
from webapp.mail import RenderedEmail
from webapp.models import Campaign, CampaignState, Community, utcnow
from webapp.services import campaigns as service
from webapp.services import messages
from webapp.services.errors import DomainError, NotFound
from webapp.services.reminders import zone
from workers.dispatch import queue_pending, queue_test_send

from .campaign_summary import notice, sending_facts, when
from .communities import community_or_404
from .errors import error_text
from .labels import CAMPAIGN_STATES, STATES

bp = Blueprint("campaigns", __name__, url_prefix="/communities/<slug>/campaigns")

PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
KIND_NAMES = {
    "recruitment": _l("Recruitment"),
    "application": _l("Application"),
    "decision": _l("Decision"),
    "availability": _l("Availability poll"),
    "invitation": _l("Invitation"),
    "announcement": _l("Announcement"),
}


def campaign_or_404(slug: str, campaign_id: int) -> tuple[Community, Campaign]:
    """The community and its campaign; 404 when either is not the coordinator's."""
    community = community_or_404(slug)
    campaign = db_session().get(Campaign, campaign_id)
    if campaign is None or campaign.community_id != community.id:
        abort(404)
    return community, campaign


def _back(slug: str, campaign_id: int, anchor: str | None = None) -> ResponseReturnValue:
    return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id, _anchor=anchor))


def _actor() -> str:
    return f"user:{current_user.id}"


# -- create and compose ---------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create(slug: str) -> ResponseReturnValue:
    """Choose the kind and the audience; a draft with the default bilingual texts."""
    community = community_or_404(slug)
    form = NewCampaignForm()
    form.offer(STATES, reader_locale())
    if form.validate_on_submit():
        kind = form.kind.data or "recruitment"
        session = db_session()
        try:
            campaign_id = service.create_campaign(
                session,
                community.id,
                kind=kind,
                audience_state=form.audience.data or None,
                audience_filter=form.audience_filter(),
                user_id=int(current_user.id),
                name=form.name.data or str(KIND_NAMES.get(kind, kind)),
            )
        except DomainError as exc:
            form.kind.errors = [*form.kind.errors, error_text(exc)]
        else:
            session.commit()
            flash(_("Campaign created: check its message, then who receives it."), "success")
            return redirect(url_for("campaigns.edit", slug=slug, campaign_id=campaign_id))
    return render_template("campaigns/new.html", community=community, form=form)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Write the subject and message in both languages."""
    community, campaign = campaign_or_404(slug, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        return _back(slug, campaign_id)
    form = CampaignForm()
    if not form.is_submitted():
        form.name.data = campaign.name
        for locale in ("fr", "en"):
            form[f"subject_{locale}"].data = campaign.content.get(locale, {}).get("subject", "")
            form[f"message_{locale}"].data = campaign.content.get(locale, {}).get("message", "")
    if form.validate_on_submit():
        content = form.content()
        problems = service.check_content(content)
        for key, problem in problems.items():
            locale, part = key.split(".")
            form[f"{part}_{locale}"].errors = [*form[f"{part}_{locale}"].errors, _(problem)]
        if not problems:
            session = db_session()
            try:
                service.update_content(session, campaign.id, content)
            except DomainError as exc:
                flash(error_text(exc), "error")
                return _back(slug, campaign_id)
            campaign.name = form.name.data or ""
            session.commit()
            flash(_("Campaign saved."), "success")
            return _back(slug, campaign_id)
    return render_template("campaigns/edit.html", community=community, campaign=campaign, form=form)


# -- the sending policy -----------------------------------------------------------------------


@bp.post("/<int:campaign_id>/sending")
@login_required
def sending(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Save when the draft starts, its reminders and its lost-outcome policy."""
    community, campaign = campaign_or_404(slug, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        flash(_("A launched campaign can no longer be edited."), "error")
        return _back(slug, campaign_id)
    form = PolicyForm()
    if form.validate_on_submit():
        policy = form.policy(zone(community.timezone))
        problems = service.check_policy(policy)
        form.add_problems(problems)
        if not problems:
            session = db_session()
            try:
                service.set_policy(session, campaign.id, policy)
            except DomainError as exc:
                flash(error_text(exc), "error")
                return _back(slug, campaign_id)
            session.commit()
            flash(_("Sending settings saved."), "success")
            return _back(slug, campaign_id, "sending-title")
    return _render_show(community, campaign, policy_form=form)


# -- the campaign page ----------------------------------------------------------------------


def _render_show(
    community: Community, campaign: Campaign, *, policy_form: PolicyForm | None = None
) -> str:
    session = db_session()
    tz = zone(community.timezone)
    draft = campaign.state == CampaignState.DRAFT
    missing = service.missing_sender_identity(community)
    identity_problem = None
    if missing:
        identity_problem = _(
            "Complete the community's sender identity before launching (%(missing)s): "
            "the law requires it in every message.",
            missing=", ".join(_(label) for label in missing),
        )
    policy_form = policy_form or (PolicyForm.of(service.policy_of(campaign), tz) if draft else None)
    if policy_form is not None:
        policy_form.scheduled_at.description = _(
            "In the community's time zone: %(zone)s.", zone=community.timezone
        )
    return render_template(
        "campaigns/show.html",
        community=community,
        campaign=campaign,
        kind_name=KIND_NAMES.get(campaign.kind, campaign.kind),
        plan=service.plan_audience(session, campaign.id) if draft else None,
        counts=service.campaign_counts(session, campaign.id),
        facts=sending_facts(campaign, tz),
        timezone=community.timezone,
        notice=notice(campaign),
        recipients=service.audience_sample(session, campaign.id),
        test_form=TestSendForm(
            formdata=None,
            email=current_user.email,
            language=community.language,
        ),
        policy_form=policy_form,
        cancel_form=CancelForm(formdata=None),
        identity_problem=identity_problem,
        person_id=request.args.get("person", type=int),
        lang=request.args.get("lang"),
    )


@bp.get("/<int:campaign_id>")
@login_required
def show(slug: str, campaign_id: int) -> ResponseReturnValue:
    """The campaign: audience, sending, preview, test send, launch, then live progress."""
    community, campaign = campaign_or_404(slug, campaign_id)
    return _render_show(community, campaign)


@bp.get("/<int:campaign_id>/preview.html")
@login_required
def preview_html(slug: str, campaign_id: int) -> ResponseReturnValue:
    """The HTML part as a recipient would see it, in a sandboxed frame."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    rendered = _preview(campaign)
    response = Response(rendered.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<int:campaign_id>/preview.txt")
@login_required
def preview_text(slug: str, campaign_id: int) -> ResponseReturnValue:
    """The subject and text part as a recipient would see them."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    rendered = _preview(campaign)
    return Response(f"{rendered.subject}\n\n{rendered.text}", mimetype="text/plain")


def _preview(campaign: Campaign) -> RenderedEmail:
    person_id = request.args.get("person", type=int)
    lang = request.args.get("lang")
    app_state = state()
    try:
        return messages.preview(
            db_session(),
            app_state.config,
            app_state.renderer,
            campaign.id,
            person_id,
            lang if lang in ("fr", "en") else None,
        )
    except NotFound:
        abort(404)


@bp.post("/<int:campaign_id>/test")
@login_required
def test_send(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Queue a test email to the coordinator."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    form = TestSendForm()
    if form.validate_on_submit():
        queued = queue_test_send(
            state().celery,
            campaign.id,
            form.email.data or "",
            current_user.name or "",
            form.language.data or "fr",
        )
        if queued:
            flash(_("Test email queued for %(email)s.", email=form.email.data), "success")
        else:
            flash(_("The worker queue is unreachable; try again in a moment."), "error")
    else:
        flash(_("Enter a valid email address for the test."), "error")
    return _back(slug, campaign_id)


# -- launch and steer -----------------------------------------------------------------------


def _commit_and_queue(campaign_id: int) -> None:
    """Commit what the service wrote, then queue send tasks for the pending rows."""
    app_state, session = state(), db_session()
    session.commit()
    queue_pending(app_state.celery, session, campaign_id, app_state.config.batch_size)


@bp.post("/<int:campaign_id>/launch")
@login_required
def launch(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Write the outbox, commit, then queue the sending; a second click changes nothing."""
    community, campaign = campaign_or_404(slug, campaign_id)
    session = db_session()
    try:
        result = service.launch_campaign(session, campaign.id, actor=_actor())
    except DomainError as exc:
        flash(error_text(exc), "error")
        return _back(slug, campaign_id)
    session.commit()
    scheduled = campaign.scheduled_at
    if result.already_launched:
        flash(_("This campaign was already launched."), "info")
    elif scheduled is not None and scheduled > utcnow():  # the sweep queues them when due
        flash(
            ngettext(
                "Campaign scheduled: %(num)d message will leave on %(when)s.",
                "Campaign scheduled: %(num)d messages will leave on %(when)s.",
                result.created,
                when=when(scheduled, zone(community.timezone)),
            ),
            "success",
        )
    else:
        _commit_and_queue(campaign.id)
        flash(_("Campaign launched: %(count)d messages queued.", count=result.created), "success")
    return _back(slug, campaign_id)


@bp.post("/<int:campaign_id>/pause")
@login_required
def pause(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Stop sending after the messages in flight."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    session = db_session()
    if service.pause_campaign(session, campaign.id, actor=_actor()):
        session.commit()
        flash(_("Campaign paused: no more messages leave until you resume it."), "success")
    return _back(slug, campaign_id)


@bp.post("/<int:campaign_id>/resume")
@login_required
def resume(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Send again from where the campaign stopped."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    if service.resume_campaign(db_session(), campaign.id, actor=_actor()):
        _commit_and_queue(campaign.id)
        flash(_("Campaign resumed."), "success")
    return _back(slug, campaign_id)


@bp.post("/<int:campaign_id>/cancel")
@login_required
def cancel(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Stop for good once the coordinator has ticked the confirmation."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    if not CancelForm().validate_on_submit():
        flash(_("Tick the box to confirm the cancellation: nothing was changed."), "error")
        return _back(slug, campaign_id, "cancel-title")
    session = db_session()
    cancelled = service.cancel_campaign(session, campaign.id, actor=_actor())
    if cancelled is None:
        flash(_("This campaign has already ended."), "info")
    else:
        session.commit()
        flash(
            ngettext(
                "Campaign cancelled: %(num)d message will not be sent.",
                "Campaign cancelled: %(num)d messages will not be sent.",
                cancelled,
            ),
            "success",
        )
    return _back(slug, campaign_id)


@bp.post("/<int:campaign_id>/resend")
@login_required
def resend(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Send again the messages whose outcome was lost and held for the coordinator."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    try:
        count = service.resend_unknown(db_session(), campaign.id, actor=_actor())
    except DomainError as exc:
        flash(error_text(exc), "error")
        return _back(slug, campaign_id)
    if count:
        _commit_and_queue(campaign.id)
        flash(
            ngettext(
                "%(num)d message will be sent again.",
                "%(num)d messages will be sent again.",
                count,
            ),
            "success",
        )
    else:
        flash(_("No message was waiting for your decision."), "info")
    return _back(slug, campaign_id)


@bp.get("/<int:campaign_id>/status.json")
@login_required
def status(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Counts for the live progress: every state, due later, resent, answered."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    counts = service.campaign_counts(db_session(), campaign.id)
    return jsonify(
        state=campaign.state,
        state_label=str(CAMPAIGN_STATES.get(campaign.state, campaign.state)),
        paused_reason=campaign.paused_reason,
        consecutive_errors=campaign.consecutive_errors,
        notice=notice(campaign),
        done=counts["total"] - counts["pending"] - counts["sending"],
        counts=counts,
    )
