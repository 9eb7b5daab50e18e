"""The availability poll (issue 6): slots in the poll's time zone, answers, the heat map and the
recommended slot, whose arithmetic is exactly what ``webapp.services.poll_scores`` documents."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from builders import community_with_people
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from webapp.db import Database
from webapp.models import (
    AuditLog,
    Availability,
    Membership,
    Person,
    PollAnswer,
    PollComment,
    PollSlot,
)
from webapp.services import poll_answers, poll_results, poll_scores, poll_slots, polls
from webapp.services.errors import DomainError, NotFound
from webapp.services.poll_answers import Participant
from webapp.services.poll_results import HeatMap, slot_answers
from webapp.services.poll_scores import Reason, recommend
from webapp.services.poll_slots import Slot, slot_in_zone
from webapp.services.polls import KeyPerson

YES, MAYBE, NO = Availability.YES, Availability.IF_NEED_BE, Availability.NO
CODES = {"Y": YES, "M": MAYBE, "N": NO}

# -- the recommendation, without a database ----------------------------------------------------


def heat(*grid: str, capacities: Sequence[int | None] = (), people: int | None = None) -> HeatMap:
    """A heat map from one string per slot, one letter per person (person ``i + 1``):
    Y yes, M if need be, N no, - no answer."""
    count = people if people is not None else max((len(row) for row in grid), default=0)
    eligible = [Participant(i + 1, f"P{i + 1}") for i in range(count)]
    columns = []
    for index, row in enumerate(grid):
        capacity = capacities[index] if index < len(capacities) else None
        slot = Slot(
            id=index + 1,
            poll_id=1,
            starts_at=datetime(2030, 2, 1 + index, 18, tzinfo=UTC),
            day=None,
            duration_minutes=120,
            place="",
            capacity=capacity,
            position=index,
            timezone="America/Toronto",
        )
        answers = {i + 1: CODES[code] for i, code in enumerate(row) if code in CODES}
        columns.append(slot_answers(slot, eligible, answers))
    return HeatMap(1, "America/Toronto", tuple(columns), tuple(eligible), ())


def facilitator(person_id: int = 1, weight: float = 3.0) -> KeyPerson:
    return KeyPerson(person_id, f"P{person_id}", "facilitator", weight)


def scores(grid: HeatMap, roles: Sequence[KeyPerson] = ()) -> list[float]:
    return [s.score for s in recommend(grid, roles).scores]


def test_if_need_be_counts_half() -> None:
    grid = heat("YYMM", "YMMN", "MMMM")
    recommendation = recommend(grid)
    assert scores(grid) == [3.0, 2.0, 2.0]  # 2 + ½ × 2; 1 + ½ × 2; ½ × 4
    assert recommendation.slot_id == 1
    first = recommendation.scores[0].reasons[0]
    assert first == Reason(poll_scores.COUNTS, {"yes": 2, "if_need_be": 2, "no": 0})
    assert str(first) == "2 can come, 2 if need be, 0 cannot."
    assert recommendation.reasons[0] == first  # the choice is explained by its own counts


def test_a_slot_the_facilitator_cannot_attend_sinks() -> None:
    grid = heat("NYYYYYY", "YYYYYNN")
    assert recommend(grid).slot_id == 1  # 6 against 5 when everyone counts the same
    recommendation = recommend(grid, [facilitator(1, 3.0)])
    assert scores(grid, [facilitator(1, 3.0)]) == [6.0, 7.0]  # 6; 3 × 1 + 4
    assert recommendation.slot_id == 2
    cannot = Reason(poll_scores.KEY_REASONS[("facilitator", NO)], {"name": "P1"})
    assert cannot in recommendation.scores[0].reasons
    assert str(cannot) == "P1, the facilitator, cannot come."
    # A facilitator who comes only if need be counts half their weight.
    assert scores(heat("MYY"), [facilitator(1, 4.0)]) == [4.0]  # ½ × 4 + 2
    # One who has not answered adds nothing, and the reasoning says so.
    quiet = recommend(heat("-YY"), [facilitator()])
    assert quiet.scores[0].score == 2.0
    assert Reason(poll_scores.KEY_REASONS[("facilitator", None)], {"name": "P1"}) in quiet.reasons


def test_only_as_many_as_the_room_holds_count() -> None:
    grid = heat("YYYYYMM", "YYYMNNN", capacities=[3, None])
    recommendation = recommend(grid)
    assert scores(grid) == [3.0, 3.5]  # min(3, 5 yes); 3 + ½
    assert recommendation.slot_id == 2
    assert recommendation.scores[0].over_capacity
    over = Reason(poll_scores.OVER_CAPACITY, {"expected": 7, "capacity": 3})
    assert over in recommendation.scores[0].reasons
    assert str(over) == "7 would come: over the room's capacity of 3."
    # The seats left after those who said yes go to those who said if need be.
    assert scores(heat("YYYMMM", capacities=[4])) == [3.5]  # 3 + ½ × min(3, 1)
    # A key person who can come is seated first.
    assert scores(heat("YYYY", capacities=[2]), [facilitator(1, 3.0)]) == [4.0]  # 3 + 1
    assert scores(heat("YYYY", capacities=[2])) == [2.0]


def test_ties_go_to_more_yes_then_fewer_no_then_the_earliest() -> None:
    more_yes = recommend(heat("YY--", "YMM-"))  # 2 and 2
    assert more_yes.slot_id == 1 and more_yes.reasons[-1] == Reason(poll_scores.TIED_MORE_YES, {})
    fewer_no = recommend(heat("YYN", "YY-"))  # 2 and 2, as many yes
    assert fewer_no.slot_id == 2 and fewer_no.reasons[-1] == Reason(poll_scores.TIED_FEWER_NO, {})
    earliest = recommend(heat("YN", "NY"))
    assert earliest.slot_id == 1 and earliest.reasons[-1] == Reason(poll_scores.TIED_EARLIEST, {})
    assert len(recommend(heat("YYY", "YN-")).reasons) == 1  # no tie, nothing to add


def test_nothing_is_recommended_without_slots_answers_or_anyone_who_can_come() -> None:
    assert recommend(heat()).slot_id is None
    assert recommend(heat()).reasons == (Reason(poll_scores.NO_SLOT, {}),)
    assert recommend(heat("---", "---")).reasons == (Reason(poll_scores.NO_ANSWER, {}),)
    assert recommend(heat("NNN", "N--")).reasons == (Reason(poll_scores.NOBODY_CAN_COME, {}),)


answer_rows = st.integers(0, 7).flatmap(
    lambda people: st.lists(st.text("YMN-", min_size=people, max_size=people), max_size=5)
)
capacity_lists = st.lists(st.none() | st.integers(1, 8), min_size=5, max_size=5)
role_lists = st.lists(
    st.tuples(st.integers(1, 8), st.sampled_from(["facilitator", "sponsor"]), st.floats(1.0, 10.0)),
    max_size=3,
)


def key_people(roles: list[tuple[int, str, float]]) -> list[KeyPerson]:
    return [KeyPerson(pid, f"P{pid}", role, weight) for pid, role, weight in roles]


@given(answer_rows, capacity_lists, role_lists)
def test_the_recommended_slot_has_the_best_score(
    grid: list[str], capacities: list[int | None], roles: list[tuple[int, str, float]]
) -> None:
    recommendation = recommend(heat(*grid, capacities=capacities), key_people(roles))
    values = [s.score for s in recommendation.scores]
    if recommendation.slot_id is None:
        assert not values or max(values) == 0
    else:
        assert recommendation.score_of(recommendation.slot_id).score == max(values)
    assert all(value >= 0 for value in values)


@given(answer_rows, capacity_lists, role_lists, st.data())
def test_another_yes_never_lowers_a_slot_s_score(
    grid: list[str],
    capacities: list[int | None],
    roles: list[tuple[int, str, float]],
    data: st.DataObject,
) -> None:
    if not grid:
        return
    keys = key_people(roles)
    before = scores(heat(*grid, capacities=capacities), keys)
    slot = data.draw(st.integers(0, len(grid) - 1))
    # Someone new says yes to this slot …
    added = [row + ("Y" if i == slot else "-") for i, row in enumerate(grid)]
    after = scores(heat(*added, capacities=capacities), keys)
    assert after[slot] >= before[slot]
    assert after[:slot] + after[slot + 1 :] == before[:slot] + before[slot + 1 :]
    # … or someone already there changes their answer to yes.
    if grid[slot]:
        person = data.draw(st.integers(0, len(grid[slot]) - 1))
        row = grid[slot]
        changed = list(grid)
        changed[slot] = row[:person] + "Y" + row[person + 1 :]
        assert scores(heat(*changed, capacities=capacities), keys)[slot] >= before[slot]


# -- with a database ---------------------------------------------------------------------------

NOW = datetime(2030, 1, 15, 17, 0, tzinfo=UTC)
PEOPLE = """email,first_name,last_name
ana@example.org,Ana,Aubry
ben@example.org,Ben,Brun
cleo@example.org,Cléo,Caron
dan@example.org,Dan,Dupuis
"""
STATES = {"ana": "selected", "ben": "member", "cleo": "selected", "dan": "prospect"}


@pytest.fixture
def clock(database: Database) -> Iterator[time_machine.Traveller]:
    """The clock stands (and ticks) on 15 January 2030, once the database is made."""
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def community(session: Session) -> tuple[int, dict[str, int]]:
    """A community of four: Ana and Cléo selected, Ben a member, Dan a prospect; their ids
    by first name (lowercase, without accent)."""
    community_id = community_with_people(session, PEOPLE)
    ids = {
        email.split("@")[0]: pid
        for email, pid in session.execute(select(Person.email, Person.id)).all()
    }
    for name, state in STATES.items():
        session.execute(
            update(Membership).where(Membership.person_id == ids[name]).values(state=state)
        )
    return community_id, ids


def new_poll(session: Session, community_id: int, zone: str = "America/Toronto") -> int:
    return polls.create_poll(
        session, community_id, title="Founding meeting", timezone=zone, actor="user:1"
    )


def test_a_poll_needs_a_title_a_known_zone_and_a_future_deadline(
    database: Database, clock: time_machine.Traveller
) -> None:
    with database.session() as session:
        community_id, _ = community(session)
        for title, zone, deadline, message in (
            ("  ", "America/Toronto", None, "needs a title"),
            ("Two\nlines", "America/Toronto", None, "one line"),
            ("Meeting", "Mars/Olympus", None, "Unknown time zone 'Mars/Olympus'"),
            ("Meeting", "America/Toronto", NOW - timedelta(minutes=1), "in the future"),
        ):
            with pytest.raises(DomainError, match=message):
                polls.create_poll(
                    session,
                    community_id,
                    title=title,
                    timezone=zone,
                    deadline_at=deadline,
                    actor="cli",
                )
        with pytest.raises(NotFound):
            polls.create_poll(session, community_id + 1, title="x", timezone="UTC", actor="cli")
        # A naive deadline is read in the poll's zone: 20 January, 17:00 in Montréal.
        poll_id = polls.create_poll(
            session,
            community_id,
            title=" Founding meeting ",
            timezone="America/Toronto",
            deadline_at=datetime(2030, 1, 20, 17, 0),
            actor="cli",
        )
        poll = polls.poll_of(session, poll_id, community_id=community_id)
        assert poll.title == "Founding meeting"
        assert poll.deadline_at == datetime(2030, 1, 20, 22, 0, tzinfo=UTC)
        assert polls.is_open(poll)
        with pytest.raises(NotFound, match="No such poll"):  # another community's (W9)
            polls.poll_of(session, poll_id, community_id=community_id + 1)
        assert [p.id for p in polls.polls_of(session, community_id)] == [poll_id]
        actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("poll.%")))
        assert list(actions) == ["poll.created"]


def test_slots_on_the_days_the_clocks_change_in_toronto(
    database: Database, clock: time_machine.Traveller
) -> None:
    with database.session() as session:
        community_id, _ = community(session)
        poll_id = new_poll(session, community_id)

        def add(local: datetime, minutes: int = 120) -> Slot:
            slot_id = poll_slots.add_slot(
                session, poll_id, start_local=local, duration_minutes=minutes, actor="cli"
            )
            return next(s for s in poll_slots.slots_of(session, poll_id) if s.id == slot_id)

        # 10 March 2030: at 2:00 the clocks go forward to 3:00 (EST, UTC-5, becomes EDT, UTC-4).
        assert add(datetime(2030, 3, 9, 10, 0)).starts_at == datetime(2030, 3, 9, 15, 0, tzinfo=UTC)
        morning = add(datetime(2030, 3, 10, 10, 0))
        assert morning.starts_at == datetime(2030, 3, 10, 14, 0, tzinfo=UTC)
        with pytest.raises(DomainError) as refused:
            add(datetime(2030, 3, 10, 2, 30))
        assert str(refused.value) == (
            "2030-03-10 02:30 does not exist in America/Toronto: the clocks go forward at that "
            "time. Choose another time."
        )
        assert refused.value.params == {"time": "2030-03-10 02:30", "zone": "America/Toronto"}
        # Two hours from 1:00 that night end at 4:00 on the clock: two real hours.
        night = add(datetime(2030, 3, 10, 1, 0))
        local = slot_in_zone(night, "America/Toronto")
        assert local.start is not None and local.end is not None
        assert (local.start.hour, local.end.hour) == (1, 4)
        assert local.end.astimezone(UTC) - local.start.astimezone(UTC) == timedelta(hours=2)
        # 3 November 2030: 1:30 happens twice; the slot is the first one (still EDT).
        twice = add(datetime(2030, 11, 3, 1, 30))
        assert twice.starts_at == datetime(2030, 11, 3, 5, 30, tzinfo=UTC)
        after = add(datetime(2030, 11, 4, 10, 0))
        assert after.starts_at == datetime(2030, 11, 4, 15, 0, tzinfo=UTC)
        # In order of time, and each start written with its own offset.
        _, rows = poll_scores.poll_rows(session, poll_id)
        assert [row["start"] for row in rows] == [
            "2030-03-09T10:00:00-05:00",
            "2030-03-10T01:00:00-05:00",
            "2030-03-10T10:00:00-04:00",
            "2030-11-03T01:30:00-04:00",
            "2030-11-04T10:00:00-05:00",
        ]


def test_date_only_slots_never_shift_across_zones(
    database: Database, clock: time_machine.Traveller
) -> None:
    with database.session() as session:
        community_id, _ = community(session)
        poll_id = new_poll(session, community_id, "Pacific/Auckland")
        whole_day = poll_slots.add_slot(session, poll_id, day=date(2030, 2, 14), actor="cli")
        morning = poll_slots.add_slot(
            session, poll_id, start_local=datetime(2030, 2, 14, 9, 0), actor="cli"
        )
    with database.session() as session:
        slots = {s.id: s for s in poll_slots.slots_of(session, poll_id)}
        assert list(slots) == [whole_day, morning]  # a day's date-only slots come first
        stored = session.get(PollSlot, whole_day)
        assert stored is not None and stored.day == date(2030, 2, 14)
        seen = slot_in_zone(slots[whole_day], "America/Vancouver")
        assert (seen.day, seen.all_day, seen.other_day, seen.start) == (
            date(2030, 2, 14),
            True,
            False,
            None,
        )
        # The same morning in Auckland (NZDT, UTC+13) is the day before in Vancouver (UTC-8).
        seen = slot_in_zone(slots[morning], "America/Vancouver")
        assert seen.zone == "America/Vancouver"
        assert seen.start == datetime(2030, 2, 13, 20, 0, tzinfo=UTC)  # the same moment
        assert seen.start is not None and seen.start.strftime("%Y-%m-%d %H:%M") == (
            "2030-02-13 12:00"
        )
        assert seen.day == date(2030, 2, 13) and seen.other_day
        # No zone, or one we do not know: the poll's own.
        assert slot_in_zone(slots[morning], "").zone == "Pacific/Auckland"
        assert not slot_in_zone(slots[morning], "Nowhere/Land").other_day
        _, rows = poll_scores.poll_rows(session, poll_id)
        assert [row["start"] for row in rows] == ["2030-02-14", "2030-02-14T09:00:00+13:00"]


def test_what_a_slot_may_be(database: Database, clock: time_machine.Traveller) -> None:
    with database.session() as session:
        community_id, ids = community(session)
        poll_id = new_poll(session, community_id)
        start = datetime(2030, 2, 1, 18, 0)
        for fields, message in (
            ({}, "either a start time or a whole day"),
            ({"start_local": start, "day": date(2030, 2, 1)}, "either a start time"),
            ({"start_local": start, "duration_minutes": 10}, "15 minutes to 12 hours"),
            ({"start_local": start, "duration_minutes": 721}, "15 minutes to 12 hours"),
            ({"start_local": start, "capacity": 0}, "at least 1"),
            ({"start_local": start, "place": "Room\n2"}, "one line"),
            ({"start_local": datetime(2030, 1, 15, 11, 0)}, "2030-01-15 11:00 is already past"),
            ({"day": date(2030, 1, 14)}, "2030-01-14 is already past"),
        ):
            with pytest.raises(DomainError, match=message):
                poll_slots.add_slot(session, poll_id, actor="cli", **fields)
        slot_id = poll_slots.add_slot(
            session, poll_id, start_local=start, place="Salle 2", capacity=12, actor="cli"
        )
        with pytest.raises(DomainError, match="already has this slot"):
            poll_slots.add_slot(session, poll_id, start_local=start, place="salle 2 ", actor="cli")
        other = poll_slots.add_slot(
            session, poll_id, start_local=start, place="Salle 3", actor="cli"
        )
        assert [s.position for s in poll_slots.slots_of(session, poll_id)] == [0, 1]

        # Nobody has answered: the time can change.
        poll_slots.change_slot(
            session,
            poll_id,
            other,
            start_local=datetime(2030, 2, 2, 18, 0),
            duration_minutes=90,
            place="Salle 3",
            capacity=None,
            actor="cli",
        )
        poll_answers.answer(session, poll_id, ids["ana"], {slot_id: YES, other: NO})
        # Once someone has, the place and the capacity can, the time and duration cannot.
        poll_slots.change_slot(
            session,
            poll_id,
            slot_id,
            start_local=start,
            duration_minutes=120,
            place="Salle 4",
            capacity=20,
            actor="cli",
        )
        changed = poll_slots.slots_of(session, poll_id)[0]
        assert (changed.place, changed.capacity) == ("Salle 4", 20)
        with pytest.raises(DomainError, match="remove it and add another"):
            poll_slots.change_slot(
                session,
                poll_id,
                slot_id,
                start_local=start,
                duration_minutes=60,
                place="Salle 4",
                capacity=20,
                actor="cli",
            )
        # Removing a slot takes its answers with it, and says how many.
        assert poll_slots.remove_slot(session, poll_id, other, actor="cli") == 1
        assert poll_answers.answers_of(session, poll_id, ids["ana"]) == {slot_id: YES}
        with pytest.raises(NotFound, match="No such slot"):
            poll_slots.remove_slot(session, poll_id, other, actor="cli")
        removed = session.scalar(
            select(AuditLog.details).where(AuditLog.action == "poll.slot_removed")
        )
        assert removed == {"poll_id": poll_id, "slot_id": other, "answers": 1}


def test_who_may_answer_and_when(database: Database, clock: time_machine.Traveller) -> None:
    with database.session() as session:
        community_id, ids = community(session)
        poll_id = new_poll(session, community_id)
        slot_id = poll_slots.add_slot(
            session, poll_id, start_local=datetime(2030, 2, 1, 18, 0), actor="cli"
        )
        other_poll = new_poll(session, community_id)
        elsewhere = poll_slots.add_slot(
            session, other_poll, start_local=datetime(2030, 2, 1, 18, 0), actor="cli"
        )
        outsider_community = community_with_people(
            session, "email\neve@example.org\n", slug="other", name="Other"
        )
        eve = session.scalar(select(Person.id).where(Person.email == "eve@example.org"))
        assert eve is not None and outsider_community != community_id

        with pytest.raises(DomainError, match="Only the selected volunteers and the members"):
            poll_answers.answer(session, poll_id, ids["dan"], {slot_id: YES})  # a prospect
        with pytest.raises(NotFound, match="not in this community"):
            poll_answers.answer(session, poll_id, eve, {slot_id: YES})
        with pytest.raises(NotFound, match="No such slot in this poll"):
            poll_answers.answer(session, poll_id, ids["ana"], {elsewhere: YES})
        with pytest.raises(NotFound, match="No such slot in this poll"):
            poll_answers.answer(session, poll_id, ids["ana"], {slot_id: YES, elsewhere: YES})
        with pytest.raises(DomainError, match="yes, if need be or no"):
            poll_answers.answer(session, poll_id, ids["ana"], {slot_id: "maybe"})
        with pytest.raises(DomainError, match="at most 2000 characters"):
            poll_answers.answer(session, poll_id, ids["ana"], {slot_id: YES}, "x" * 2001)
        assert poll_answers.respondents(session, poll_id) == set()  # nothing refused was written

        # A key person answers whatever their state.
        polls.set_role(session, poll_id, ids["dan"], "facilitator", actor="cli")
        poll_answers.answer(session, poll_id, ids["dan"], {slot_id: "yes"})

        assert polls.close_poll(session, poll_id, actor="cli")
        assert not polls.close_poll(session, poll_id, actor="cli")
        with pytest.raises(DomainError, match="This poll is closed"):
            poll_answers.answer(session, poll_id, ids["ana"], {slot_id: YES})
        assert polls.reopen_poll(session, poll_id, actor="cli")
        poll_answers.answer(session, poll_id, ids["ana"], {slot_id: YES})

        polls.set_deadline(session, poll_id, NOW + timedelta(days=1), actor="cli")
        poll_answers.answer(session, poll_id, ids["ben"], {slot_id: NO})
        clock.shift(timedelta(days=1, minutes=1))
        assert not polls.is_open(polls.poll_of(session, poll_id))
        with pytest.raises(DomainError, match="The deadline has passed"):
            poll_answers.answer(session, poll_id, ids["ben"], {slot_id: YES})
        polls.close_poll(session, poll_id, actor="cli")
        with pytest.raises(DomainError, match="set a new one before reopening"):
            polls.reopen_poll(session, poll_id, actor="cli")
        polls.set_deadline(session, poll_id, None, actor="cli")
        polls.reopen_poll(session, poll_id, actor="cli")
        poll_answers.answer(session, poll_id, ids["ben"], {slot_id: YES})
        assert poll_answers.answers_of(session, poll_id, ids["ben"]) == {slot_id: YES}
        assert poll_answers.respondents(session, poll_id) == {ids["ana"], ids["ben"], ids["dan"]}
        assert poll_answers.not_answered(session, poll_id) == [ids["cleo"]]


def test_changing_an_answer_keeps_one_row(
    database: Database, clock: time_machine.Traveller
) -> None:
    with database.session() as session:
        community_id, ids = community(session)
        poll_id = new_poll(session, community_id)
        first, second, third = (
            poll_slots.add_slot(session, poll_id, start_local=datetime(2030, 2, d, 18), actor="cli")
            for d in (1, 2, 3)
        )
        poll_answers.answer(
            session, poll_id, ids["ana"], {first: YES, second: MAYBE}, "Late by 10 min"
        )
    with database.session() as session:
        # Partial answers: the third slot has no row.
        assert poll_answers.answers_of(session, poll_id, ids["ana"]) == {first: YES, second: MAYBE}
        poll_answers.answer(session, poll_id, ids["ana"], {first: NO, third: YES})
    with database.session() as session:
        assert poll_answers.answers_of(session, poll_id, ids["ana"]) == {
            first: NO,
            second: MAYBE,  # not given again: kept
            third: YES,
        }
        rows = session.scalar(
            select(func.count()).select_from(PollAnswer).where(PollAnswer.slot_id == first)
        )
        assert rows == 1
        assert poll_answers.comment_of(session, poll_id, ids["ana"]) == "Late by 10 min"
        poll_answers.answer(session, poll_id, ids["ana"], {second: None}, "  Early, in fact ")
        assert poll_answers.answers_of(session, poll_id, ids["ana"]) == {first: NO, third: YES}
        assert poll_answers.comment_of(session, poll_id, ids["ana"]) == "Early, in fact"
        poll_answers.answer(session, poll_id, ids["ana"], {}, "")
        assert poll_answers.comment_of(session, poll_id, ids["ana"]) == ""
        assert session.scalar(select(func.count()).select_from(PollComment)) == 0
        assert session.scalar(select(func.count()).select_from(PollAnswer)) == 2


def test_the_heat_map_names_who_can_come_and_the_rows_the_command_prints(
    database: Database, clock: time_machine.Traveller
) -> None:
    with database.session() as session:
        community_id, ids = community(session)
        poll_id = new_poll(session, community_id)
        friday = poll_slots.add_slot(
            session, poll_id, start_local=datetime(2030, 2, 1, 18, 0), capacity=2, actor="cli"
        )
        saturday = poll_slots.add_slot(
            session, poll_id, start_local=datetime(2030, 2, 2, 10, 0), actor="cli"
        )
        sunday = poll_slots.add_slot(session, poll_id, day=date(2030, 2, 3), actor="cli")
        poll_answers.answer(session, poll_id, ids["ana"], {friday: YES, saturday: NO, sunday: YES})
        poll_answers.answer(
            session, poll_id, ids["ben"], {friday: YES, saturday: YES}, "Pas le dimanche"
        )
        poll_answers.answer(session, poll_id, ids["cleo"], {friday: MAYBE, saturday: YES})

        grid = poll_results.heat_map(session, poll_id)
        assert [p.name for p in grid.eligible] == ["Ana Aubry", "Ben Brun", "Cléo Caron"]
        assert grid.not_answered == ()
        columns = {column.slot.id: column for column in grid.slots}
        assert [p.name for p in columns[friday].yes] == ["Ana Aubry", "Ben Brun"]
        assert [p.name for p in columns[friday].if_need_be] == ["Cléo Caron"]
        assert [p.name for p in columns[saturday].no] == ["Ana Aubry"]
        assert [p.name for p in columns[sunday].unanswered] == ["Ben Brun", "Cléo Caron"]
        assert columns[sunday].counts == {"yes": 1, "if_need_be": 0, "no": 0, "unanswered": 2}
        assert [(p.name, text) for p, text in grid.comments] == [("Ben Brun", "Pas le dimanche")]

        # Friday: 2 seats for 3; Saturday: 2 yes; Sunday: 1. Friday, where nobody says no, wins.
        columns_out, rows = poll_scores.poll_rows(session, poll_id)
        assert columns_out == [
            "slot_id",
            "start",
            "yes",
            "if_need_be",
            "no",
            "score",
            "recommended",
        ]
        assert [
            (r["yes"], r["if_need_be"], r["no"], r["score"], r["recommended"]) for r in rows
        ] == [
            (2, 1, 0, 2.0, True),
            (2, 0, 1, 2.0, False),
            (1, 0, 0, 1.0, False),
        ]
        assert rows[0]["start"] == "2030-02-01T18:00:00-05:00"
        _, recommendation = poll_scores.recommendation_for(session, poll_id)
        assert recommendation.reasons[-1] == Reason(poll_scores.TIED_FEWER_NO, {})

        # Ana facilitates: Saturday, which she cannot attend, drops.
        polls.set_role(session, poll_id, ids["ana"], "facilitator", 3.0, actor="cli")
        _, rows = poll_scores.poll_rows(session, poll_id)
        assert [(r["score"], r["recommended"]) for r in rows] == [
            (4.0, True),  # her seat first (3), then Ben's (1); Cléo's if need be has none
            (2.0, False),
            (3.0, False),
        ]
        _, recommendation = poll_scores.recommendation_for(session, poll_id)
        assert Reason(poll_scores.OVER_CAPACITY, {"expected": 3, "capacity": 2}) in (
            recommendation.reasons
        )

        # Cléo withdraws: her answers no longer count, and she is no longer asked.
        session.execute(
            update(Membership)
            .where(Membership.person_id == ids["cleo"])
            .values(state="not_interested")
        )
        grid = poll_results.heat_map(session, poll_id)
        assert [p.name for p in grid.eligible] == ["Ana Aubry", "Ben Brun"]
        assert grid.slots[0].counts == {"yes": 2, "if_need_be": 0, "no": 0, "unanswered": 0}
        assert not grid.slots[0].answers.get(ids["cleo"])


def test_key_roles(database: Database, clock: time_machine.Traveller) -> None:
    with database.session() as session:
        community_id, ids = community(session)
        poll_id = new_poll(session, community_id)
        community_with_people(session, "email\neve@example.org\n", slug="other", name="Other")
        eve = session.scalar(select(Person.id).where(Person.email == "eve@example.org"))
        assert eve is not None
        with pytest.raises(NotFound, match="not in this community"):
            polls.set_role(session, poll_id, eve, "sponsor", actor="cli")
        with pytest.raises(DomainError, match="use facilitator or sponsor"):
            polls.set_role(session, poll_id, ids["ana"], "boss", actor="cli")
        with pytest.raises(DomainError, match="from 1 to 10"):
            polls.set_role(session, poll_id, ids["ana"], "sponsor", 0.5, actor="cli")
        polls.set_role(session, poll_id, ids["ben"], "sponsor", actor="cli")
        polls.set_role(session, poll_id, ids["ana"], "sponsor", 2, actor="cli")
        polls.set_role(session, poll_id, ids["ana"], "facilitator", 4, actor="cli")  # replaced
        assert polls.roles_of(session, poll_id) == [
            KeyPerson(ids["ana"], "Ana Aubry", "facilitator", 4.0),
            KeyPerson(ids["ben"], "Ben Brun", "sponsor", 3.0),
        ]
        assert polls.remove_role(session, poll_id, ids["ben"], actor="cli")
        assert not polls.remove_role(session, poll_id, ids["ben"], actor="cli")
        assert [k.person_id for k in polls.roles_of(session, poll_id)] == [ids["ana"]]


def random_poll(session: Session, rng: random.Random, community_id: int, ids: list[int]) -> int:
    """A poll with 0 to 6 slots (some with a small room), random key people, and random answers
    from anyone (prospects, people of another community), then states and roles shuffled, as
    when people withdraw or lose their role after answering."""
    poll_id = new_poll(session, community_id)
    capacity = rng.choice([None, 3])  # and some slots with a smaller room
    slot_ids = [
        poll_slots.add_slot(
            session,
            poll_id,
            start_local=datetime(2030, 3, 1 + index, 18, 0),
            capacity=rng.choice([capacity, capacity, 1, 2]),
            actor="cli",
        )
        for index in range(rng.randint(0, 6))
    ]
    states = ["selected", "member", "prospect", "not_interested", "declined"]

    def shuffle_states() -> None:
        for person_id in ids[:-1]:  # the last one belongs to another community
            session.execute(
                update(Membership)
                .where(Membership.community_id == community_id, Membership.person_id == person_id)
                .values(state=rng.choice(states))
            )

    shuffle_states()
    for person_id in rng.sample(ids[:-1], rng.randint(0, 3)):
        role = rng.choice(["facilitator", "sponsor"])
        polls.set_role(session, poll_id, person_id, role, rng.choice([1, 2.5, 3, 10]), actor="cli")
    alike = rng.random() < 0.3  # everyone gives every slot the same answer: ties
    rows = []
    for person_id in ids:
        value = rng.choice([YES, YES, MAYBE, NO, None])
        for slot_id in slot_ids:
            value = value if alike else rng.choice([YES, YES, MAYBE, NO, None])
            if value is not None:
                rows.append(
                    {
                        "poll_id": poll_id,
                        "slot_id": slot_id,
                        "person_id": person_id,
                        "answer": value,
                    }
                )
    if rows and rng.random() < 0.9:
        session.execute(insert(PollAnswer), rows)
    shuffle_states()
    for key in polls.roles_of(session, poll_id):
        if rng.random() < 0.3:
            polls.remove_role(session, poll_id, key.person_id, actor="cli")
    session.flush()
    return poll_id


def test_the_counts_in_sql_give_what_the_heat_map_gives(
    database: Database, clock: time_machine.Traveller
) -> None:
    rng = random.Random(20300115)
    with database.session() as session:
        people = "email\n" + "".join(f"p{i}@example.org\n" for i in range(12))
        community_id = community_with_people(session, people)
        community_with_people(session, "email\nout@example.org\n", slug="other", name="Other")
        ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        seen: set[tuple[bool, str]] = set()
        for _ in range(25):
            poll_id = random_poll(session, rng, community_id, ids)
            roles = polls.roles_of(session, poll_id)
            grid = poll_results.heat_map(session, poll_id)
            counts = poll_results.slot_counts(session, poll_id)
            assert counts == [column.tally(roles) for column in grid.slots]
            recommendation = poll_scores.recommendation_of(session, poll_id)
            assert recommendation == poll_scores.recommend(grid, roles)
            assert recommendation == poll_scores.recommendation_for(session, poll_id)[1]
            _, rows = poll_scores.poll_rows(session, poll_id)
            assert [(r["slot_id"], r["yes"], r["if_need_be"], r["no"]) for r in rows] == [
                (c.slot.id, c.yes, c.if_need_be, c.no) for c in counts
            ]
            seen.add((recommendation.slot_id is None, recommendation.reasons[-1].msgid))
        # The draws reached ties, and cases with nothing to recommend.
        ties = {poll_scores.TIED_MORE_YES, poll_scores.TIED_FEWER_NO, poll_scores.TIED_EARLIEST}
        assert {msgid for _, msgid in seen} & ties
        assert {poll_scores.NO_SLOT, poll_scores.NO_ANSWER} <= {
            msgid for nothing, msgid in seen if nothing
        }
