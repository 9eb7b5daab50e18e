"""Coordinator pages on the applications as a whole: what the selected (or a suggested) group
covers and lacks, and the applications with their scores as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from webapp import exports
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import Community
from webapp.services import application_reports as reports
from webapp.services import applications

from .applications import formats_context, suggestion_from_args
from .communities import community_or_404

bp = Blueprint("application_reports", __name__)


@dataclass(frozen=True)
class Line:
    """A row of a coverage table: what is counted, and the count in each group."""

    value: str
    label: str
    counts: tuple[int, ...]
    offered: bool = True


@dataclass(frozen=True)
class ChoiceTable:
    """A choice question across the groups shown: a line per answer, and per group the answers
    nobody gives and how many gave none."""

    question: str
    label: str
    several: bool
    lines: list[Line]
    missing: list[list[str]]
    unanswered: list[int]


def _choice_tables(groups: Sequence[reports.Coverage]) -> list[ChoiceTable]:
    """The choice questions, each group's counts side by side (an answer no longer offered
    that only one group gave is counted 0 in the other)."""
    tables = []
    for index, first in enumerate(groups[0].choices):
        answers: dict[str, reports.ChoiceCount] = {}
        for group in groups:
            for count in group.choices[index].counts:
                answers.setdefault(count.value, count)
        lines = [
            Line(v, c.label, tuple(g.choices[index].count(v) for g in groups), c.offered)
            for v, c in answers.items()
        ]
        missing = [[c.label for c in g.choices[index].missing] for g in groups]
        unanswered = [g.choices[index].unanswered for g in groups]
        tables.append(
            ChoiceTable(first.question, first.label, first.several, lines, missing, unanswered)
        )
    return tables


def _organization_lines(groups: Sequence[reports.Coverage]) -> list[Line]:
    """The organisations of every group shown, the most represented first."""
    names = {o.key: o.name for g in reversed(groups) for o in g.organizations}
    counts = {
        key: tuple(next((o.count for o in g.organizations if o.key == key), 0) for g in groups)
        for key in names
    }
    order = sorted(names, key=lambda key: (-sum(counts[key]), names[key].lower()))
    return [Line(key, names[key], counts[key]) for key in order]


@bp.get("/communities/<slug>/applications/coverage")
@login_required
def coverage(slug: str) -> ResponseReturnValue:
    """What the selected group (and the suggested one, when caps are given) covers and lacks:
    the answers to each choice question, the organisations, the totals of number questions."""
    community = community_or_404(slug)
    session = db_session()
    ranked = applications.applicants(session, community.id)
    form, suggested = suggestion_from_args(ranked)
    groups = [reports.selected_group(ranked)]
    titles = [_("Selected group")]
    if suggested is not None:
        by_id = {a.person_id: a for a in ranked}
        groups.append([by_id[i] for i in suggested])
        titles.append(_("Suggested group"))
    covered = reports.coverages(session, community.id, groups, reader_locale())
    return render_template(
        "applications/coverage.html",
        community=community,
        criteria=applications.rubric(session, community.id),
        applicants=ranked,
        form=form,
        suggested=suggested,
        titles=titles,
        groups=covered,
        choice_tables=_choice_tables(covered),
        organizations=_organization_lines(covered),
        **formats_context(),
    )


def _today(community: Community) -> str:
    """Today's date where the community is, for the name of a file."""
    try:
        zone = ZoneInfo(community.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date().isoformat()


@bp.get("/communities/<slug>/applications/export.<any(csv, xlsx):kind>")
@login_required
def export(slug: str, kind: str) -> ResponseReturnValue:
    """The applications and their scores, one row per applicant, as CSV or XLSX."""
    community = community_or_404(slug)
    headers, rows = reports.export_rows(db_session(), community.id, reader_locale())
    if kind == "csv":
        data, mimetype = exports.to_csv(headers, rows), exports.CSV_MIMETYPE
    else:
        data = exports.to_xlsx(headers, rows, title=_("Applications"))
        mimetype = exports.XLSX_MIMETYPE
    filename = f"{community.slug}-applications-{_today(community)}.{kind}"
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
