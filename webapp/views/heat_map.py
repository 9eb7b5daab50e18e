"""How the poll pages word a slot and draw the heat map of the answers: the slot in the poll's
zone, the weights, each cell's people and shade, and the reasons for the recommended slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webapp.i18n import reader_locale
from webapp.services import poll_answers, poll_results, poll_scores, poll_slots

from .meeting_helpers import moment

# The columns of the heat map: who can, who can if need be, who cannot, who has not answered.
HEAT_COLUMNS = (
    ("yes", _l("Yes")),
    ("if_need_be", _l("If need be")),
    ("no", _l("No")),
    ("unanswered", _l("Not answered")),
)


# -- words for slots --------------------------------------------------------------------------


def day_text(value: date) -> str:
    """A day in full, in the reader's language."""
    return str(format_date(value, format="full", locale=reader_locale()))


def slot_text(slot: poll_slots.Slot) -> str:
    """A slot as the poll's zone reads it: its day and hours, or its whole day."""
    local = poll_slots.slot_in_zone(slot, slot.timezone)
    if local.start is None or local.end is None:
        return _("%(day)s, whole day", day=day_text(local.day))
    zone = ZoneInfo(local.zone)
    if local.start.date() != local.end.date():
        return _(
            "%(start)s to %(end)s",
            start=moment(local.start, local.zone),
            end=moment(local.end, local.zone),
        )
    return _(
        "%(day)s, %(start)s to %(end)s (%(zone)s)",
        day=day_text(local.day),
        start=format_time(local.start, format="short", tzinfo=zone, locale=reader_locale()),
        end=format_time(local.end, format="short", tzinfo=zone, locale=reader_locale()),
        zone=local.zone,
    )


def number(value: float) -> str:
    """A weight without useless decimals, as the reader writes it."""
    return str(format_decimal(value, format="0.##", locale=reader_locale()))


# -- the heat map -----------------------------------------------------------------------------


def heat_level(count: int, total: int) -> int:
    """How strong a heat map cell looks, 0 (nobody) to 4 (three quarters or more)."""
    if count <= 0 or total <= 0:
        return 0
    return min(4, 1 + int(4 * count / total))


@dataclass(frozen=True)
class HeatCell:
    """Who gave one answer for a slot, and how strong the cell looks."""

    column: str
    people: tuple[poll_answers.Participant, ...]
    level: int


@dataclass(frozen=True)
class HeatRow:
    """A slot in the heat map: its answers, its score and why."""

    slot: poll_slots.Slot
    text: str
    cells: tuple[HeatCell, ...]
    score: str
    reasons: tuple[str, ...]
    recommended: bool


def reason_text(reason: poll_scores.Reason) -> str:
    """A line of the recommendation's reasoning, in the reader's language."""
    return _(reason.msgid, **dict(reason.params))


def heat_rows(
    heat: poll_results.HeatMap, recommendation: poll_scores.Recommendation
) -> list[HeatRow]:
    """One row per slot, in order."""
    total = len(heat.eligible)
    rows = []
    for column, score in zip(heat.slots, recommendation.scores, strict=True):
        groups = {
            "yes": column.yes,
            "if_need_be": column.if_need_be,
            "no": column.no,
            "unanswered": column.unanswered,
        }
        cells = tuple(
            HeatCell(key, groups[key], heat_level(len(groups[key]), total))
            for key, _label in HEAT_COLUMNS
        )
        rows.append(
            HeatRow(
                column.slot,
                slot_text(column.slot),
                cells,
                number(score.score),
                tuple(reason_text(r) for r in score.reasons),
                column.slot.id == recommendation.slot_id,
            )
        )
    return rows
