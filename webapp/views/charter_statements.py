"""The coordinators' hand on the statements: drawing them from the answers, rewording, merging,
splitting, adding and removing them, the consensus threshold, and the draft they make (with each
statement's support, which the published text hides)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import CharterStage
from webapp.services import charter_draft, charters, statements
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text
from .meeting_helpers import actor, back_to

bp = Blueprint("charter_statements", __name__, url_prefix="/communities/<slug>/charter")


def _checked() -> None:
    if not ConfirmForm().validate_on_submit():
        abort(400)


def _done(slug: str, message: str, anchor: str | None = None) -> ResponseReturnValue:
    db_session().commit()
    flash(message, "success")
    return back_to("charter_statements.statements_page", slug, anchor)


def _refused(slug: str, exc: DomainError, anchor: str | None = None) -> ResponseReturnValue:
    db_session().rollback()
    flash(error_text(exc), "error")
    return back_to("charter_statements.statements_page", slug, anchor)


@bp.get("/statements")
@login_required
def statements_page(slug: str) -> ResponseReturnValue:
    """Every statement by section, its votes and who wrote it; the draft they make."""
    community = community_or_404(slug)
    session = db_session()
    charter = charters.charter_of(session, community.id)
    tallies = statements.tallies(session, community.id)
    grouped: dict[str, list[statements.Statement]] = {}
    for statement in statements.statements_of(session, community.id):
        grouped.setdefault(statement.section, []).append(statement)
    page = render_template(
        "charter/statements.html",
        community=community,
        charter=charter,
        stages=CharterStage,
        sections=charters.sections(session, community.id, reader_locale()),
        grouped=grouped,
        tallies=tallies,
        wordings=statements.wordings(session, community.id),
        answered=charters.answered_count(session, community.id),
        draft=charter_draft.draft(session, community.id)
        if charter.stage != CharterStage.COLLECTING
        else [],
        form=ConfirmForm(),
    )
    session.commit()
    return page


@bp.post("/draw")
@login_required
def draw(slug: str) -> ResponseReturnValue:
    """Close the answers and draw the statements: the vote opens."""
    community = community_or_404(slug)
    _checked()
    try:
        count = statements.draw(db_session(), community.id, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc)
    return _done(
        slug,
        _(
            "%(count)d statements drawn from the answers. Check them, then ask the members "
            "to vote.",
            count=count,
        ),
    )


@bp.post("/statements/add")
@login_required
def add(slug: str) -> ResponseReturnValue:
    """A coordinator's own statement in a section."""
    community = community_or_404(slug)
    _checked()
    section = request.form.get("section", "")
    try:
        if section not in {s.key for s in charters.sections(db_session(), community.id, "fr")}:
            abort(404)
        statements.add(
            db_session(), community.id, section, request.form.get("text", ""), actor=actor()
        )
    except DomainError as exc:
        return _refused(slug, exc, f"section-{section}")
    return _done(slug, _("Statement added."), f"section-{section}")


@bp.post("/statements/<int:statement_id>/edit")
@login_required
def edit(slug: str, statement_id: int) -> ResponseReturnValue:
    """Reword a statement (the votes on the old wording are dropped)."""
    community = community_or_404(slug)
    _checked()
    try:
        statements.edit(
            db_session(), community.id, statement_id, request.form.get("text", ""), actor=actor()
        )
    except DomainError as exc:
        return _refused(slug, exc, f"statement-{statement_id}")
    return _done(slug, _("Statement reworded."), f"statement-{statement_id}")


@bp.post("/statements/<int:statement_id>/remove")
@login_required
def remove(slug: str, statement_id: int) -> ResponseReturnValue:
    """Take a statement out of the vote."""
    community = community_or_404(slug)
    _checked()
    try:
        statements.remove(db_session(), community.id, statement_id, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, f"statement-{statement_id}")
    return _done(slug, _("Statement removed from the vote."))


@bp.post("/statements/<int:statement_id>/split")
@login_required
def split(slug: str, statement_id: int) -> ResponseReturnValue:
    """Split a statement: one new statement per line."""
    community = community_or_404(slug)
    _checked()
    lines = request.form.get("parts", "").splitlines()
    try:
        statements.split(db_session(), community.id, statement_id, lines, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, f"statement-{statement_id}")
    return _done(slug, _("Statement split."))


@bp.post("/statements/merge")
@login_required
def merge(slug: str) -> ResponseReturnValue:
    """Merge the ticked statements into the first, worded as given."""
    community = community_or_404(slug)
    _checked()
    ids = [int(v) for v in request.form.getlist("statement") if v.isdigit()]
    try:
        target = statements.merge(
            db_session(), community.id, ids, request.form.get("text", "").strip(), actor=actor()
        )
    except DomainError as exc:
        return _refused(slug, exc)
    return _done(slug, _("Statements merged."), f"statement-{target}")


@bp.post("/threshold")
@login_required
def threshold(slug: str) -> ResponseReturnValue:
    """The consensus threshold and the votes it needs."""
    community = community_or_404(slug)
    _checked()
    try:
        share = int(request.form.get("threshold", ""))
        votes = int(request.form.get("min_votes", ""))
    except ValueError:
        flash(_("The threshold is a percentage and the votes a whole number."), "error")
        return back_to("charter_statements.statements_page", slug, "threshold-title")
    try:
        statements.set_threshold(db_session(), community.id, share, votes, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, "threshold-title")
    return _done(slug, _("Threshold saved: the draft follows it."), "threshold-title")


@bp.post("/sections/<key>/text")
@login_required
def section_text(slug: str, key: str) -> ResponseReturnValue:
    """Write a section's text by hand (Markdown), or give it back to the statements."""
    community = community_or_404(slug)
    _checked()
    reset = request.form.get("action") == "reset"
    try:
        charter_draft.set_text(
            db_session(),
            community.id,
            key,
            None if reset else request.form.get("text", ""),
            actor=actor(),
        )
    except DomainError as exc:
        return _refused(slug, exc, f"draft-{key}")
    message = _("The section follows the statements again.") if reset else _("Section saved.")
    return _done(slug, message, f"draft-{key}")


@bp.post("/close-vote")
@login_required
def close_vote(slug: str) -> ResponseReturnValue:
    """Close the vote: the draft goes out for amendments."""
    community = community_or_404(slug)
    _checked()
    try:
        reached = statements.close_vote(db_session(), community.id, actor=actor())
    except DomainError as exc:
        return _refused(slug, exc, "draft-title")
    return _done(
        slug,
        _(
            "The vote is closed: %(count)d statements make up the draft. Send it to the members "
            "for amendments.",
            count=reached,
        ),
        "draft-title",
    )
