"""The participation health of the recurring activities: attendance per occurrence over time,
the mix of participation levels, the members going quiet with a one-click re-engagement
campaign, and the needs survey again for the next cycle. The charts are inline SVG drawn here,
each with a table of the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from flask_login import current_user, login_required

from forms.public import ConfirmForm
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import utcnow
from webapp.services import activities, participation
from webapp.services.errors import DomainError

from .communities import community_or_404
from .errors import error_text

bp = Blueprint("activity_health", __name__, url_prefix="/communities/<slug>/activities/health")

# Wenger's names: the core group, the active group, the periphery.
LEVELS = {
    "core": _l("Core group"),
    "active": _l("Active group"),
    "peripheral": _l("Periphery"),
    "quiet": _l("Quiet"),
    "": _l("Not declared"),
}
# The attendance chart shows this many occurrences at most, the latest; the table shows all.
MAX_BARS = 24
# Bars drawn with presentation attributes (the CSP allows no inline style): dark enough to
# stand out from the page (WCAG 1.4.11).
CAME_COLOUR = "#174869"
MAYBE_COLOUR = "#8a5a00"
NO_COLOUR = "#a4161a"
DECLARED_COLOUR = "#5eb67d"
INK = "#1d1d1b"


@dataclass(frozen=True)
class Rect:
    """One bar."""

    x: float
    y: float
    width: float
    height: float
    fill: str


@dataclass(frozen=True)
class Text:
    """One label."""

    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Line:
    """An axis or grid line; dashed when ``dash`` is set."""

    x1: float
    y1: float
    x2: float
    y2: float
    dash: str = ""


@dataclass
class Chart:
    """An SVG picture: its size, its summary in words, its bars, labels and axis lines."""

    width: int
    height: int
    summary: str
    bars: list[Rect] = field(default_factory=list)
    labels: list[Text] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)


# -- words ---------------------------------------------------------------------------------------


def day_text(moment: datetime, zone: str) -> str:
    """The day of an occurrence in its zone, e.g. "5 mars 2030"."""
    return str(format_date(moment.astimezone(ZoneInfo(zone)), "medium", locale=reader_locale()))


def short_day(moment: datetime, zone: str) -> str:
    """The day without the year, for the chart's axis, e.g. "5 mars"."""
    local = moment.astimezone(ZoneInfo(zone))
    return str(format_skeleton("MMMd", local, locale=reader_locale()))


def average_text(tally: participation.OccurrenceTally) -> str:
    """The average usefulness and how many gave one, e.g. "4,5 / 5 (2)"; a dash for none."""
    if tally.feedback_average is None:
        return "—"
    value = format_decimal(tally.feedback_average, format="0.#", locale=reader_locale())
    return _("%(average)s / 5 (%(count)d)", average=value, count=tally.feedback_count)


# -- the charts ----------------------------------------------------------------------------------


def attendance_chart(health: participation.Health) -> Chart:
    """Per occurrence, side by side: those who came (or said yes), maybe, no."""
    shown = health.occurrences[-MAX_BARS:]
    members = shown[-1].invited
    top = max([members, *(max(t.came_or_yes, t.maybe, t.no) for t in shown), 1])
    left, right, upper, lower = 44, 12, 36, 44
    width, height = 760, 300
    plot_w, plot_h = width - left - right, height - upper - lower
    group = plot_w / len(shown)
    bar = min(group * 0.8 / 3, 22)
    chart = Chart(width, height, attendance_summary(shown))
    base = upper + plot_h
    every = -(-len(shown) // 12)  # a date under one group in ``every``, at most 12
    for index, tally in enumerate(shown):
        start = left + index * group + (group - 3 * bar) / 2
        for offset, (value, colour) in enumerate(
            ((tally.came_or_yes, CAME_COLOUR), (tally.maybe, MAYBE_COLOUR), (tally.no, NO_COLOUR))
        ):
            h = plot_h * value / top
            chart.bars.append(Rect(start + offset * bar, base - h, bar, h, colour))
        if index % every == 0 or index == len(shown) - 1:
            centre = left + (index + 0.5) * group
            chart.labels.append(Text(centre, base + 18, short_day(tally.starts_at, tally.timezone)))
    for value in sorted({0, top // 2, top}):
        y = base - plot_h * value / top
        chart.lines.append(Line(left, y, width - right, y))
        chart.labels.append(Text(left - 6, y + 4, str(value), "end"))
    member_y = base - plot_h * members / top
    chart.lines.append(Line(left, member_y, width - right, member_y, "6 4"))
    chart.labels.append(
        Text(
            width - right,
            member_y - 4,
            ngettext("%(num)d member", "%(num)d members", members),
            "end",
        )
    )
    legend = (
        (CAME_COLOUR, _("Came (or said yes)")),
        (MAYBE_COLOUR, _("Maybe")),
        (NO_COLOUR, _("No")),
    )
    x = float(left)
    for colour, words in legend:
        chart.bars.append(Rect(x, 8, 12, 12, colour))
        chart.labels.append(Text(x + 16, 19, words, "start"))
        x += 30 + 8 * len(words)
    return chart


def attendance_summary(tallies: list[participation.OccurrenceTally]) -> str:
    """The attendance at these occurrences (oldest first) in one sentence."""
    last = tallies[-1]
    if len(tallies) == 1:
        return _(
            "Attendance at the one past activity, on %(day)s: %(came)d came or said yes, out "
            "of %(members)d members.",
            day=day_text(last.starts_at, last.timezone),
            came=last.came_or_yes,
            members=last.invited,
        )
    values = [t.came_or_yes for t in tallies]
    return _(
        "Attendance at the %(count)d past activities, from %(first)s to %(last)s: between "
        "%(low)d and %(high)d came or said yes; %(latest)d at the last one, out of %(members)d "
        "members.",
        count=len(tallies),
        first=day_text(tallies[0].starts_at, tallies[0].timezone),
        last=day_text(last.starts_at, last.timezone),
        low=min(values),
        high=max(values),
        latest=last.came_or_yes,
        members=last.invited,
    )


@dataclass(frozen=True)
class LevelRow:
    """One level of the mix: how many members show it, and how many declared it (None: not a
    level one declares, or not one observed)."""

    code: str
    label: str
    observed: int | None
    declared: int | None


def level_rows(health: participation.Health) -> list[LevelRow]:
    """Core, active, peripheral (observed and declared), quiet (observed), not declared."""
    observed = health.observed_levels()
    declared = health.declared_levels()
    return [
        LevelRow(code, str(LEVELS[code]), observed.get(code), declared.get(code))
        for code in ("core", "active", "peripheral", "quiet", "")
    ]


def levels_chart(rows: list[LevelRow]) -> Chart:
    """A row per level: the observed bar above the declared one."""
    top = max([1, *(r.observed or 0 for r in rows), *(r.declared or 0 for r in rows)])
    left, right, row_h, upper = 130, 60, 44, 30
    width = 760
    chart = Chart(width, upper + row_h * len(rows) + 6, levels_summary(rows))
    plot_w = width - left - right
    for index, row in enumerate(rows):
        y = upper + index * row_h
        chart.labels.append(Text(left - 8, y + 20, row.label, "end"))
        for offset, (value, colour) in enumerate(
            ((row.observed, CAME_COLOUR), (row.declared, DECLARED_COLOUR))
        ):
            if value is None:
                continue
            w = plot_w * value / top
            chart.bars.append(Rect(left, y + 4 + offset * 17, w, 15, colour))
            chart.labels.append(Text(left + w + 5, y + 16 + offset * 17, str(value), "start"))
    chart.lines.append(Line(left, upper, left, upper + row_h * len(rows)))
    chart.bars.append(Rect(left, 6, 12, 12, CAME_COLOUR))
    chart.labels.append(Text(left + 16, 17, _("Observed"), "start"))
    chart.bars.append(Rect(left + 130, 6, 12, 12, DECLARED_COLOUR))
    chart.labels.append(Text(left + 146, 17, _("Declared"), "start"))
    return chart


def levels_summary(rows: list[LevelRow]) -> str:
    """The mix of levels in one sentence."""
    parts = []
    for row in rows:
        if row.observed is not None and row.declared is not None:
            parts.append(
                _(
                    "%(level)s: %(observed)d observed, %(declared)d declared",
                    level=row.label,
                    observed=row.observed,
                    declared=row.declared,
                )
            )
        elif row.observed is not None:
            parts.append(_("%(level)s: %(count)d observed", level=row.label, count=row.observed))
        else:
            parts.append(_("%(level)s: %(count)d", level=row.label, count=row.declared or 0))
    return _("Participation levels of the members: %(levels)s.", levels="; ".join(parts))


# -- the pages -----------------------------------------------------------------------------------


@bp.get("")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """The participation health of the community's activities, or why there is none yet."""
    community = community_or_404(slug)
    health = participation.health_of(db_session(), community.id)
    values: dict[str, object] = {"community": community, "health": health}
    if health.occurrences:
        rows = level_rows(health)
        locale = reader_locale()
        values.update(
            attendance=attendance_chart(health),
            truncated=len(health.occurrences) > MAX_BARS,
            max_bars=MAX_BARS,
            levels=rows,
            levels_chart=levels_chart(rows),
            level_names=LEVELS,
            day=day_text,
            average=average_text,
            type_label=lambda code: activities.type_label(code, locale) if code else "—",
            zone=community.timezone or "UTC",
        )
    return render_template("activities/health.html", **values)


@bp.post("/reengage")
@login_required
def reengage(slug: str) -> ResponseReturnValue:
    """The draft campaign to the members going quiet; its page, where the coordinator checks
    and launches it."""
    return _prepare(
        slug, "quiet-title", participation.prepare_reengagement, _l("Members going quiet, %(day)s")
    )


@bp.post("/repoll")
@login_required
def repoll(slug: str) -> ResponseReturnValue:
    """The draft campaign asking every member the needs survey again, for the next cycle; its
    page."""
    return _prepare(
        slug,
        "repoll-title",
        participation.prepare_repoll,
        _l("Needs and availability survey, %(day)s"),
    )


def _prepare(
    slug: str, anchor: str, prepare: Callable[..., int], name: LazyString
) -> ResponseReturnValue:
    """Call ``prepare`` (a service making a draft campaign) for the community, named with
    today's date; then the campaign's page, or this page with the refusal."""
    community = community_or_404(slug)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db_session()
    today = day_text(utcnow(), community.timezone or "UTC")
    try:
        campaign_id = prepare(
            session, community.id, name=str(name) % {"day": today}, user_id=int(current_user.id)
        )
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("activity_health.index", slug=slug, _anchor=anchor), 303)
    session.commit()
    flash(_("Check the email, send yourself a test, then launch it."), "success")
    return redirect(
        url_for("campaigns.show", slug=community.slug, campaign_id=campaign_id), code=303
    )
