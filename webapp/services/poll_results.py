"""What a poll's answers say, slot by slot: the heat map of who can come (every name), and
each slot's counts, from SQL, for the recommendation (no name).

Both count only the answers of those who may answer (:func:`.poll_answers.eligible_people`):
someone who withdrew no longer counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.models import (
    Availability,
    Membership,
    Poll,
    PollAnswer,
    PollComment,
    PollRole,
    PollSlot,
)

from .poll_answers import ANSWERING, Participant, eligible_people
from .poll_slots import Slot, slots_of
from .polls import KeyPerson, poll_of


@dataclass(frozen=True)
class SlotAnswers:
    """One column of the heat map: who said what for a slot, names sorted."""

    slot: Slot
    yes: tuple[Participant, ...]
    if_need_be: tuple[Participant, ...]
    no: tuple[Participant, ...]
    unanswered: tuple[Participant, ...]  # eligible people with no answer for this slot
    answers: Mapping[int, Availability] = field(default_factory=dict)  # by person id

    @property
    def counts(self) -> dict[str, int]:
        """How many said yes, if need be and no, and how many did not answer."""
        return {
            "yes": len(self.yes),
            "if_need_be": len(self.if_need_be),
            "no": len(self.no),
            "unanswered": len(self.unanswered),
        }

    def tally(self, roles: Sequence[KeyPerson] = ()) -> SlotCounts:
        """The column as the recommendation sees it: its counts and the key people's answers."""
        keys = {key.person_id for key in roles}
        return SlotCounts(
            self.slot,
            len(self.yes),
            len(self.if_need_be),
            len(self.no),
            {pid: given for pid, given in self.answers.items() if pid in keys},
        )


@dataclass(frozen=True)
class SlotCounts:
    """What the recommendation needs of a slot: how many of those who may answer said yes, if
    need be and no, and what each key person among them said (by person id; absent: no answer)."""

    slot: Slot
    yes: int
    if_need_be: int
    no: int
    key_answers: Mapping[int, Availability] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        """Whether anyone who may answer has answered for this slot."""
        return bool(self.yes or self.if_need_be or self.no)


@dataclass(frozen=True)
class HeatMap:
    """Every slot with its answers, in order, and who may answer."""

    poll_id: int
    timezone: str
    slots: tuple[SlotAnswers, ...]
    eligible: tuple[Participant, ...]
    not_answered: tuple[Participant, ...]  # eligible people who answered no slot at all
    comments: tuple[tuple[Participant, str], ...] = ()


# -- the heat map ------------------------------------------------------------------------------


def slot_answers(
    slot: Slot, eligible: Sequence[Participant], answers: Mapping[int, Availability]
) -> SlotAnswers:
    """A slot's column of the heat map from each eligible person's answer (by person id);
    answers of anyone else are left out."""
    grouped: dict[Availability | None, list[Participant]] = {
        Availability.YES: [],
        Availability.IF_NEED_BE: [],
        Availability.NO: [],
        None: [],
    }
    kept: dict[int, Availability] = {}
    for person in eligible:
        given = answers.get(person.person_id)
        grouped[given].append(person)
        if given is not None:
            kept[person.person_id] = given
    return SlotAnswers(
        slot,
        tuple(grouped[Availability.YES]),
        tuple(grouped[Availability.IF_NEED_BE]),
        tuple(grouped[Availability.NO]),
        tuple(grouped[None]),
        kept,
    )


def heat_map(session: Session, poll_id: int) -> HeatMap:
    """Who can come to each slot, who can if need be, who cannot, who has not answered;
    only the answers of people who may answer (someone who withdrew no longer counts)."""
    poll = poll_of(session, poll_id)
    slots = slots_of(session, poll_id)
    eligible = eligible_people(session, poll_id)
    ids = {p.person_id for p in eligible}
    by_slot: dict[int, dict[int, Availability]] = {slot.id: {} for slot in slots}
    answered: set[int] = set()
    for slot_id, person_id, value in session.execute(
        select(PollAnswer.slot_id, PollAnswer.person_id, PollAnswer.answer).where(
            PollAnswer.poll_id == poll_id
        )
    ):
        if person_id in ids and slot_id in by_slot:
            by_slot[slot_id][person_id] = Availability(value)
            answered.add(person_id)
    names = {p.person_id: p for p in eligible}
    comments = tuple(
        (names[person_id], text)
        for person_id, text in session.execute(
            select(PollComment.person_id, PollComment.comment)
            .where(PollComment.poll_id == poll_id)
            .order_by(PollComment.updated_at, PollComment.id)
        )
        if person_id in names and text
    )
    return HeatMap(
        poll_id=poll.id,
        timezone=poll.timezone,
        slots=tuple(slot_answers(slot, eligible, by_slot[slot.id]) for slot in slots),
        eligible=tuple(eligible),
        not_answered=tuple(p for p in eligible if p.person_id not in answered),
        comments=comments,
    )


# -- the counts, in SQL ------------------------------------------------------------------------

_IN_CHUNK = 500  # person ids per IN (...) list


def _may_answer(poll: Poll, person_id: Any) -> ColumnElement[bool]:
    """SQL: whether the person ``person_id`` (a column) may answer the poll, as in
    :func:`eligible_people`."""
    key_people = select(PollRole.person_id).where(PollRole.poll_id == poll.id)
    return (
        select(Membership.id)
        .where(
            Membership.community_id == poll.community_id,
            Membership.person_id == person_id,
            or_(Membership.state.in_(ANSWERING), Membership.person_id.in_(key_people)),
        )
        .exists()
    )


def _others_who_answered(session: Session, poll: Poll) -> list[int]:
    """The people who answered the poll but may no longer answer it (who withdrew, whose key
    role went): usually none. The answerers are found by one index probe each on
    ``(poll_id, person_id)``, not by reading every answer."""
    following = aliased(PollAnswer)
    first = select(func.min(PollAnswer.person_id).label("person_id")).where(
        PollAnswer.poll_id == poll.id
    )
    answerers = first.cte("answerers", recursive=True)
    step = (
        select(func.min(following.person_id))
        .where(following.poll_id == poll.id, following.person_id > answerers.c.person_id)
        .scalar_subquery()
    )
    answerers = answerers.union_all(select(step).where(answerers.c.person_id.is_not(None)))
    return list(
        session.scalars(
            select(answerers.c.person_id).where(
                answerers.c.person_id.is_not(None), ~_may_answer(poll, answerers.c.person_id)
            )
        )
    )


def _answer_totals(session: Session, poll_id: int) -> dict[int, dict[Availability, int]]:
    """How many answered yes, if need be and no for each slot of the poll, whoever they are:
    three counts per slot, each one range of the index on ``(poll_id, slot_id, answer)``."""

    def count(value: Availability) -> Any:
        return (
            select(func.count())
            .select_from(PollAnswer)
            .where(
                PollAnswer.poll_id == poll_id,
                PollAnswer.slot_id == PollSlot.id,
                PollAnswer.answer == str(value),
            )
            .correlate(PollSlot)
            .scalar_subquery()
        )

    order = (Availability.YES, Availability.IF_NEED_BE, Availability.NO)
    return {
        slot_id: dict(zip(order, numbers, strict=True))
        for slot_id, *numbers in session.execute(
            select(PollSlot.id, *(count(value) for value in order)).where(
                PollSlot.poll_id == poll_id
            )
        )
    }


def _take_off(
    session: Session, poll_id: int, people: list[int], totals: dict[int, dict[Availability, int]]
) -> None:
    """Take the answers of ``people`` off ``totals``."""
    for start in range(0, len(people), _IN_CHUNK):
        for slot_id, value, number in session.execute(
            select(PollAnswer.slot_id, PollAnswer.answer, func.count())
            .where(
                PollAnswer.poll_id == poll_id,
                PollAnswer.person_id.in_(people[start : start + _IN_CHUNK]),
            )
            .group_by(PollAnswer.slot_id, PollAnswer.answer)
        ):
            if slot_id in totals and value in totals[slot_id]:
                totals[slot_id][Availability(value)] -= number


def _key_answers(session: Session, poll: Poll) -> dict[int, dict[int, Availability]]:
    """The key people's answers, by slot id then person id; a key person may answer whatever
    their state, while they are in the community."""
    key_people = list(
        session.scalars(
            select(PollRole.person_id)
            .join(
                Membership,
                (Membership.community_id == poll.community_id)
                & (Membership.person_id == PollRole.person_id),
            )
            .where(PollRole.poll_id == poll.id)
        )
    )
    found: dict[int, dict[int, Availability]] = {}
    if key_people:
        for slot_id, person_id, value in session.execute(
            select(PollAnswer.slot_id, PollAnswer.person_id, PollAnswer.answer).where(
                PollAnswer.poll_id == poll.id, PollAnswer.person_id.in_(key_people)
            )
        ):
            found.setdefault(slot_id, {})[person_id] = Availability(value)
    return found


def slot_counts(session: Session, poll_id: int) -> list[SlotCounts]:
    """Each slot's counts, in order, for the recommendation: only the answers of those who may
    answer (as in :func:`heat_map`), and the key people's own answers; counted in SQL.

    Every answer of the poll is counted, per slot and answer, on the index on
    ``(poll_id, slot_id, answer)``; then the answers of those who answered but may no longer
    answer (usually nobody) are taken off. Neither reads every answer row, nor any name."""
    poll = poll_of(session, poll_id)
    slots = slots_of(session, poll_id)
    totals = _answer_totals(session, poll_id)
    _take_off(session, poll_id, _others_who_answered(session, poll), totals)
    keys = _key_answers(session, poll)
    return [
        SlotCounts(
            slot,
            totals[slot.id][Availability.YES],
            totals[slot.id][Availability.IF_NEED_BE],
            totals[slot.id][Availability.NO],
            keys.get(slot.id, {}),
        )
        for slot in slots
    ]
