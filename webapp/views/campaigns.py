"""Coordinator pages: compose, preview, test, launch and follow a campaign."""

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
from flask_login import current_user, login_required

from forms.campaigns import CampaignForm, TestSendForm
from webapp.extensions import db_session, state
from webapp.mail import RenderedEmail
from webapp.models import Campaign, CampaignState
from webapp.services import campaigns as service
from webapp.services import messages
from webapp.services.errors import DomainError, NotFound
from workers.dispatch import queue_pending, queue_test_send

from .communities import community_or_404
from .errors import error_text

bp = Blueprint("campaigns", __name__, url_prefix="/communities/<slug>/campaigns")

PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def campaign_or_404(slug: str, campaign_id: int) -> tuple[object, Campaign]:
    """The community and its campaign; 404 when either is not the coordinator's."""
    community = community_or_404(slug)
    campaign = db_session().get(Campaign, campaign_id)
    if campaign is None or campaign.community_id != community.id:
        abort(404)
    return community, campaign


@bp.post("/new")
@login_required
def create(slug: str) -> ResponseReturnValue:
    """A draft recruitment campaign with the default bilingual texts."""
    community = community_or_404(slug)
    session = db_session()
    campaign_id = service.create_campaign(
        session,
        community.id,
        kind="recruitment",
        user_id=int(current_user.id),
        name=_("Recruitment"),
    )
    session.commit()
    return redirect(url_for("campaigns.edit", slug=slug, campaign_id=campaign_id))


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Write the subject and message in both languages."""
    community, campaign = campaign_or_404(slug, campaign_id)
    if campaign.state != CampaignState.DRAFT:
        return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))
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
                return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))
            campaign.name = form.name.data or ""
            session.commit()
            flash(_("Campaign saved."), "success")
            return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))
    return render_template("campaigns/edit.html", community=community, campaign=campaign, form=form)


@bp.get("/<int:campaign_id>")
@login_required
def show(slug: str, campaign_id: int) -> ResponseReturnValue:
    """The campaign: audience, preview, test send, launch, then live progress."""
    community, campaign = campaign_or_404(slug, campaign_id)
    session = db_session()
    plan = service.plan_audience(session, campaign.id) if campaign.state == "draft" else None
    counts = service.campaign_counts(session, campaign.id)
    recipients = service.audience_sample(session, campaign.id)
    test_form = TestSendForm(email=current_user.email, language=community.language)  # type: ignore[attr-defined]
    missing = service.missing_sender_identity(community)  # type: ignore[arg-type]
    identity_problem = None
    if missing:
        identity_problem = _(
            "Complete the community's sender identity before launching (%(missing)s): "
            "the law requires it in every message.",
            missing=", ".join(_(label) for label in missing),
        )
    return render_template(
        "campaigns/show.html",
        community=community,
        campaign=campaign,
        plan=plan,
        counts=counts,
        recipients=recipients,
        test_form=test_form,
        identity_problem=identity_problem,
        person_id=request.args.get("person", type=int),
        lang=request.args.get("lang"),
    )


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
    return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/launch")
@login_required
def launch(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Write the outbox, commit, then queue the sending; a second click changes nothing."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    app_state = state()
    session = db_session()
    try:
        result = service.launch_campaign(session, campaign.id, actor=f"user:{current_user.id}")
    except DomainError as exc:
        flash(error_text(exc), "error")
        return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))
    session.commit()
    if result.already_launched:
        flash(_("This campaign was already launched."), "info")
    else:
        queue_pending(app_state.celery, session, campaign.id, app_state.config.batch_size)
        flash(_("Campaign launched: %(count)d messages queued.", count=result.created), "success")
    return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/pause")
@login_required
def pause(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Stop sending after the messages in flight."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    session = db_session()
    if service.pause_campaign(session, campaign.id, actor=f"user:{current_user.id}"):
        session.commit()
        flash(_("Campaign paused: no more messages leave until you resume it."), "success")
    return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/resume")
@login_required
def resume(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Send again from where the campaign stopped."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    app_state = state()
    session = db_session()
    if service.resume_campaign(session, campaign.id, actor=f"user:{current_user.id}"):
        session.commit()
        queue_pending(app_state.celery, session, campaign.id, app_state.config.batch_size)
        flash(_("Campaign resumed."), "success")
    return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id))


@bp.get("/<int:campaign_id>/status.json")
@login_required
def status(slug: str, campaign_id: int) -> ResponseReturnValue:
    """Counts for the live progress bar."""
    _community, campaign = campaign_or_404(slug, campaign_id)
    counts = service.campaign_counts(db_session(), campaign.id)
    return jsonify(state=campaign.state, counts=counts)
