"""The coordinators' end of the charter: deciding the amendments, the consent round, adoption
with a review date, a revision of the adopted charter, and every version with its diff."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.models import CharterStage
from webapp.services import amendments, charter_draft, charter_versions, charters
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text
from .meeting_helpers import actor, back_to

bp = Blueprint("charter_adoption", __name__, url_prefix="/communities/<slug>/charter")


def _checked() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _after(slug: str, message: str, anchor: str | None = None) -> ResponseReturnValue:
    db_session().commit()
    flash(message, "success")
    return back_to("charter_adoption.adoption", slug, anchor)


def _refused(slug: str, exc: DomainError, anchor: str | None = None) -> ResponseReturnValue:
    db_session().rollback()
    flash(error_text(exc), "error")
    return back_to("charter_adoption.adoption", slug, anchor)


@bp.get("/adoption")
@login_required
def adoption(slug: str) -> ResponseReturnValue:
    """Amendments, the consent round, adoption and the versions."""
    community = community_or_404(slug)
    session = db_session()
    charter = charters.charter_of(session, community.id)
    versions = charter_versions.versions(session, community.id)
    page = render_template(
        "charter/adoption.html",
        community=community,
        charter=charter,
        stages=CharterStage,
        draft=charter_draft.draft(session, community.id)
        if charter.stage != CharterStage.COLLECTING
        else [],
        amendments=amendments.amendments_of(session, community.id),
        consent=charter_versions.consent_state(session, community.id),
        versions=[(v, charter_versions.diff_to_previous(session, v)) for v in versions],
        review_default=(date.today() + timedelta(days=365)).isoformat(),
        form=ConfirmForm(),
    )
    session.commit()
    return page


@bp.post("/amendments/<int:amendment_id>/decide")
@login_required
def decide(slug: str, amendment_id: int) -> ResponseReturnValue:
    """Apply an amendment to the draft, or set it aside."""
    community = community_or_404(slug)
    _checked()
    accept = request.form.get("decision") == "accept"
    try:
        amendments.decide(db_session(), community.id, amendment_id, accept, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, f"amendment-{amendment_id}")
    message = _("Amendment applied to the draft.") if accept else _("Amendment set aside.")
    return _after(slug, message, "amendments-title")


@bp.post("/consent/open")
@login_required
def open_consent(slug: str) -> ResponseReturnValue:
    """Put the whole charter to the members' consent."""
    community = community_or_404(slug)
    _checked()
    try:
        charter_versions.open_consent(db_session(), community.id, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, "consent-title")
    return _after(
        slug,
        _("The consent round is open: ask the members for their consent."),
        "consent-title",
    )


@bp.post("/consent/reopen")
@login_required
def reopen(slug: str) -> ResponseReturnValue:
    """Back to amendments, to meet an objection."""
    community = community_or_404(slug)
    _checked()
    try:
        charter_versions.reopen_amendments(db_session(), community.id, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, "consent-title")
    return _after(slug, _("The draft is open for amendments again."), "amendments-title")


@bp.post("/adopt")
@login_required
def adopt(slug: str) -> ResponseReturnValue:
    """Adopt the charter, with its review date."""
    community = community_or_404(slug)
    _checked()
    try:
        review_on = date.fromisoformat(request.form.get("review_on", ""))
    except ValueError:
        flash(_("Give the review date as a day, e.g. 2027-11-24."), "error")
        return back_to("charter_adoption.adoption", slug, "consent-title")
    try:
        number = charter_versions.adopt(db_session(), community.id, review_on, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, "consent-title")
    return _after(
        slug,
        _(
            "The charter is adopted: version %(number)d. The members will be reminded to "
            "review it.",
            number=number,
        ),
        "versions-title",
    )


@bp.post("/revise")
@login_required
def revise(slug: str) -> ResponseReturnValue:
    """Open the adopted charter for amendments again."""
    community = community_or_404(slug)
    _checked()
    try:
        charter_versions.revise(db_session(), community.id, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, "versions-title")
    return _after(slug, _("The charter is open for amendments again."), "amendments-title")
