"""Telling applicants the decisions: a page that prepares one decision campaign per decision."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.services import decisions as service
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text
from .labels import STATES

bp = Blueprint("decisions", __name__)


@bp.get("/communities/<slug>/applications/decisions")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """Each decision, how many people are not told yet, and the button to prepare the email."""
    community = community_or_404(slug)
    return render_template(
        "decisions/index.html",
        community=community,
        decisions=service.untold(db_session(), community.id),
        states=STATES,
        form=ConfirmForm(),
    )


@bp.post("/communities/<slug>/applications/decisions")
@login_required
def prepare(slug: str) -> ResponseReturnValue:
    """Prepare (or reopen) the draft campaign of one decision; its page sends it."""
    community = community_or_404(slug)
    form = ConfirmForm()
    decision = request.form.get("decision", "")
    if not form.validate():
        return redirect(url_for("decisions.index", slug=slug), code=303)
    db = db_session()
    try:
        campaign_id = service.prepare(
            db,
            community.id,
            decision,
            name=_("Decision: %(decision)s", decision=str(STATES.get(decision, decision))),
            user_id=int(current_user.id),
        )
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("decisions.index", slug=slug), code=303)
    db.commit()
    flash(_("Check the email, send yourself a test, then launch it."), "success")
    return redirect(url_for("campaigns.show", slug=slug, campaign_id=campaign_id), code=303)
