"""Coordinator pages: the people of a community, the CSV import and the CSV export."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from forms.people import ImportForm
from webapp.extensions import db_session
from webapp.models import MembershipState
from webapp.services import imports
from webapp.services import people as service
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text

bp = Blueprint("people", __name__, url_prefix="/communities/<slug>/people")


@bp.get("/")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """Everyone in the community, filterable by state."""
    community = community_or_404(slug)
    state = request.args.get("state") or None
    if state not in {s.value for s in MembershipState}:
        state = None
    rows = list(service.list_people(db_session(), community.id, state=state))
    return render_template(
        "people/index.html", community=community, rows=rows, state=state, states=MembershipState
    )


@bp.get("/export.csv")
@login_required
def export(slug: str) -> ResponseReturnValue:
    """The people list as CSV, with the same columns as ``amorce people list``."""
    community = community_or_404(slug)
    state = request.args.get("state") or None
    if state not in {s.value for s in MembershipState}:
        state = None
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=service.LIST_COLUMNS)
    writer.writeheader()
    for row in service.list_people(db_session(), community.id, state=state):
        writer.writerow(row.as_dict())
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{community.slug}-people.csv"'},
    )


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_people(slug: str) -> ResponseReturnValue:
    """Upload a CSV; the report names every bad line and column."""
    community = community_or_404(slug)
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        raw = upload.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        session = db_session()
        try:
            report = imports.import_people(
                session,
                community.id,
                text,
                source=form.source.data or "network",
                consent=form.consent.data or "express",
                consent_note=form.consent_note.data or "",
                filename=upload.filename or "",
                all_or_nothing=bool(form.all_or_nothing.data),
                actor=f"user:{current_user.id}",
            )
        except DomainError as exc:
            form.consent_note.errors = [*form.consent_note.errors, error_text(exc)]
        else:
            session.commit()
    return render_template("people/import.html", community=community, form=form, report=report)
