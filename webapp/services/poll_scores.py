"""The recommended slot of a poll, with its reasoning, and the poll as the command line prints it.

The recommendation is a pure function of each slot's counts (how many of those who may answer
said *yes*, *if need be* and *no*), the key people's own answers and the key roles
(:func:`recommend_counts`; :func:`recommend` takes a heat map, which gives the same counts). The
counts come from SQL (:func:`.poll_results.slot_counts`): the recommendation never loads
anyone's name. So:

- each person who answers *yes* is worth 1, *if need be* ½, *no* or no answer 0;
- a key person's worth is multiplied by their role's weight (3 by default), so a slot the
  facilitator cannot attend loses what their presence would have added;
- when a slot's place has a capacity, only that many people can come: the seats go first to
  the key people who can come (the most weighty first), then to those who said *yes*, then to
  those who said *if need be*; whoever gets no seat adds nothing.

So, for a slot with ``Y`` *yes* and ``M`` *if need be* among the other people, key people ``k``
who can come with value ``v_k`` (1 or ½) and weight ``w_k``, and ``c`` seats (infinite when the
place has no capacity)::

    score = Σ v_k × w_k  over the first min(c, K) key people, by v_k × w_k, highest first
          + min(Y, c')                      where c' = c − min(c, K)
          + ½ × min(M, c' − min(Y, c'))

With no capacity and no key person this is ``Y + ½ M``. Scores are rounded to three decimals. The
best score wins; ties go to the slot with more *yes*, then fewer *no*, then the earliest. No slot
is recommended when there is none, when nobody has answered, or when nobody can come to any.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from webapp.models import Availability, KeyRole

from .errors import N_
from .poll_results import HeatMap, SlotAnswers, SlotCounts, heat_map, slot_counts
from .poll_slots import Slot
from .poll_zones import zone_named
from .polls import KeyPerson, roles_of

VALUE = {Availability.YES: 1.0, Availability.IF_NEED_BE: 0.5, Availability.NO: 0.0}


class Reason(NamedTuple):
    """One line of reasoning: an English msgid and its ``%(name)s`` parameters; the view
    translates ``msgid`` then applies ``params``."""

    msgid: str
    params: Mapping[str, object]

    def __str__(self) -> str:
        return self.msgid % dict(self.params) if self.params else self.msgid


@dataclass(frozen=True)
class SlotScore:
    """A slot's score, the counts it comes from, and why."""

    slot_id: int
    score: float
    yes: int
    if_need_be: int
    no: int
    over_capacity: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Recommendation:
    """The recommended slot (None when there is nothing to recommend), every slot's score in
    the heat map's order, and the reasoning behind the choice."""

    slot_id: int | None
    scores: tuple[SlotScore, ...]
    reasons: tuple[Reason, ...]

    def score_of(self, slot_id: int) -> SlotScore:
        """The score of one slot."""
        return next(s for s in self.scores if s.slot_id == slot_id)


# -- the recommendation: pure functions --------------------------------------------------------

COUNTS = N_("%(yes)d can come, %(if_need_be)d if need be, %(no)d cannot.")
OVER_CAPACITY = N_("%(expected)d would come: over the room's capacity of %(capacity)d.")
KEY_REASONS: dict[tuple[str, Availability | None], str] = {
    (KeyRole.FACILITATOR, Availability.YES): N_("%(name)s, the facilitator, can come."),
    (KeyRole.FACILITATOR, Availability.IF_NEED_BE): N_(
        "%(name)s, the facilitator, can come only if need be."
    ),
    (KeyRole.FACILITATOR, Availability.NO): N_("%(name)s, the facilitator, cannot come."),
    (KeyRole.FACILITATOR, None): N_("%(name)s, the facilitator, has not answered."),
    (KeyRole.SPONSOR, Availability.YES): N_("%(name)s, the sponsor, can come."),
    (KeyRole.SPONSOR, Availability.IF_NEED_BE): N_(
        "%(name)s, the sponsor, can come only if need be."
    ),
    (KeyRole.SPONSOR, Availability.NO): N_("%(name)s, the sponsor, cannot come."),
    (KeyRole.SPONSOR, None): N_("%(name)s, the sponsor, has not answered."),
}
NO_SLOT = N_("There is no slot to choose from yet.")
NO_ANSWER = N_("Nobody has answered yet.")
NOBODY_CAN_COME = N_("Nobody can come to any slot.")
TIED_MORE_YES = N_("Tied on score with another slot: more people can come to this one.")
TIED_FEWER_NO = N_(
    "Tied on score and on who can come with another slot: fewer people cannot come to this one."
)
TIED_EARLIEST = N_("Tied with another slot on every count: this one is the earliest.")


def score_counts(column: SlotCounts, roles: Sequence[KeyPerson] = ()) -> SlotScore:
    """One slot's score and reasoning from its counts (the formula is in this module's
    docstring)."""
    yes, maybe, no = column.yes, column.if_need_be, column.no
    reasons = [Reason(COUNTS, {"yes": yes, "if_need_be": maybe, "no": no})]
    key_worth: list[float] = []  # value × weight of each key person who can come
    plain_yes, plain_maybe = yes, maybe
    for key in {k.person_id: k for k in roles}.values():  # a person counts once
        given = column.key_answers.get(key.person_id)
        message = KEY_REASONS.get((key.role, given))
        if message:
            reasons.append(Reason(message, {"name": key.name}))
        if given == Availability.YES:
            plain_yes -= 1
        elif given == Availability.IF_NEED_BE:
            plain_maybe -= 1
        if given is not None and VALUE[given] > 0:
            key_worth.append(VALUE[given] * key.weight)
    seats: float = math.inf if column.slot.capacity is None else column.slot.capacity
    score = 0.0
    for worth in sorted(key_worth, reverse=True)[: int(min(seats, len(key_worth)))]:
        score += worth
    seats -= min(seats, len(key_worth))
    seated_yes = min(plain_yes, seats)
    seated_maybe = min(plain_maybe, seats - seated_yes)
    score += seated_yes + 0.5 * seated_maybe
    expected = yes + maybe
    over = column.slot.capacity is not None and expected > column.slot.capacity
    if over:
        reasons.append(
            Reason(OVER_CAPACITY, {"expected": expected, "capacity": column.slot.capacity})
        )
    return SlotScore(column.slot.id, round(score, 3), yes, maybe, no, over, tuple(reasons))


def score_slot(column: SlotAnswers, roles: Sequence[KeyPerson] = ()) -> SlotScore:
    """One slot's score and reasoning from its column of the heat map."""
    return score_counts(column.tally(roles), roles)


def _rank(score: SlotScore, index: int) -> tuple[float, int, int, int]:
    return (-score.score, -score.yes, score.no, index)


def recommend_counts(
    columns: Sequence[SlotCounts], roles: Sequence[KeyPerson] = ()
) -> Recommendation:
    """Score every slot (in order) and pick the best (see this module's docstring for the
    formula and the ties). ``reasons`` explains the choice: the chosen slot's own reasons and,
    when another slot has the same score, what decided between them; or why nothing is
    recommended."""
    scores = tuple(score_counts(column, roles) for column in columns)
    if not scores:
        return Recommendation(None, scores, (Reason(NO_SLOT, {}),))
    if not any(column.answered for column in columns):
        return Recommendation(None, scores, (Reason(NO_ANSWER, {}),))
    ranked = sorted(range(len(scores)), key=lambda i: _rank(scores[i], i))
    best = scores[ranked[0]]
    if best.score <= 0:
        return Recommendation(None, scores, (Reason(NOBODY_CAN_COME, {}),))
    reasons = list(best.reasons)
    tied = [scores[i] for i in ranked[1:] if scores[i].score == best.score]
    if tied:
        if all(best.yes > other.yes for other in tied):
            reasons.append(Reason(TIED_MORE_YES, {}))
        elif all(best.no < other.no for other in tied if other.yes == best.yes):
            reasons.append(Reason(TIED_FEWER_NO, {}))
        else:
            reasons.append(Reason(TIED_EARLIEST, {}))
    return Recommendation(best.slot_id, scores, tuple(reasons))


def recommend(heat_map: HeatMap, roles: Sequence[KeyPerson] = ()) -> Recommendation:
    """The recommendation from a heat map: :func:`recommend_counts` of its columns' counts."""
    return recommend_counts([column.tally(roles) for column in heat_map.slots], roles)


def recommendation_of(session: Session, poll_id: int) -> Recommendation:
    """The poll's recommendation, from the counts in SQL (:func:`slot_counts`): what the
    command line and the coordinator's choice of a slot need, without anyone's name."""
    return recommend_counts(slot_counts(session, poll_id), roles_of(session, poll_id))


def recommendation_for(session: Session, poll_id: int) -> tuple[HeatMap, Recommendation]:
    """The poll's heat map, every name included, and its recommendation (the same as
    :func:`recommendation_of`, scored from the map itself): for a page that shows the names.
    Its cost grows with people × slots in Python; for the recommendation alone, use
    :func:`recommendation_of`."""
    answers = heat_map(session, poll_id)
    return answers, recommend(answers, roles_of(session, poll_id))


# -- the command line --------------------------------------------------------------------------

POLL_COLUMNS = ["slot_id", "start", "yes", "if_need_be", "no", "score", "recommended"]


def slot_start(slot: Slot) -> str:
    """ISO 8601: the start with its offset in the poll's zone, or the day of a date-only slot."""
    if slot.starts_at is None:
        assert slot.day is not None
        return slot.day.isoformat()
    return slot.starts_at.astimezone(zone_named(slot.timezone)).isoformat()


def poll_rows(session: Session, poll_id: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The poll as ``amorce meetings poll`` prints it: the columns, then one row per slot."""
    columns = slot_counts(session, poll_id)
    recommendation = recommend_counts(columns, roles_of(session, poll_id))
    rows = []
    for column, score in zip(columns, recommendation.scores, strict=True):
        rows.append(
            {
                "slot_id": column.slot.id,
                "start": slot_start(column.slot),
                "yes": score.yes,
                "if_need_be": score.if_need_be,
                "no": score.no,
                "score": score.score,
                "recommended": column.slot.id == recommendation.slot_id,
            }
        )
    return list(POLL_COLUMNS), rows
