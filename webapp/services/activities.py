"""The community's rhythm, proposed from the members' needs and availability: the weekday, time
window and periodicity the most members can keep, and a rotation of activity types that follows
what they asked for.

Each member said when they are free, as weekday and time-window slots in *their* time zone
("tue-evening"), and how often they want to meet. A candidate is a weekday, a window and a
periodicity in the community's time zone; its start is converted to each member's zone to see
whether it falls in one of their slots. A member who can come counts by how close the candidate's
periodicity is to theirs (the smaller rate over the larger: monthly offered to someone who wants
monthly counts 1, weekly offered to them 0.23); the candidate with the highest sum wins, ties going
to the larger expected attendance, then the earlier weekday, window and the less frequent rhythm.
The expected attendance of one occurrence counts each member who can come by how many of the
occurrences they want (all of them when the rhythm is slower than theirs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.questionnaires import DAY_PARTS, WEEKDAYS, default_definition, localised
from webapp.models import (
    Community,
    Meeting,
    Membership,
    MembershipState,
    Person,
    Questionnaire,
    QuestionnaireKind,
    Response,
)

from .errors import N_, DomainError

# Occurrences a month, per periodicity, least frequent first.
RATES = {"bimonthly": 0.5, "monthly": 1.0, "biweekly": 52 / 24, "weekly": 52 / 12}
# Where a window starts in the community's zone, and the local hours each window covers.
STARTS = {"morning": time(9, 30), "afternoon": time(13, 30), "evening": time(18, 30)}
WINDOWS = {"morning": range(8, 12), "afternoon": range(12, 17), "evening": range(17, 21)}
DAYS = [code for code, _label in WEEKDAYS]
PARTS = [code for code, _label in DAY_PARTS]
RRULE_DAYS = {
    "mon": "MO",
    "tue": "TU",
    "wed": "WE",
    "thu": "TH",
    "fri": "FR",
    "sat": "SA",
    "sun": "SU",
}
# A Monday in a week with no clock change in either hemisphere's usual zones: the reference
# week where a candidate's start is placed to find each member's local slot.
REFERENCE_MONDAY = date(2026, 6, 8)


@dataclass(frozen=True)
class Need:
    """One member's answer: what they want, how often, when (slots in their zone)."""

    person_id: int
    email: str
    types: tuple[str, ...]
    frequency: str
    slots: frozenset[str]
    timezone: str
    format: str = ""  # in_person, online, hybrid; empty when not said
    duration: int | None = None  # minutes


@dataclass(frozen=True)
class Candidate:
    """A weekday, a window and a periodicity, in the community's time zone."""

    weekday: str
    part: str
    frequency: str


@dataclass
class Rhythm:
    """The proposed rhythm and what it means for the members."""

    candidate: Candidate
    timezone: str
    score: float
    expected_attendance: float
    activity_types: list[str]
    left_out: list[str]  # emails of those who cannot come
    attending: list[str] = field(default_factory=list)
    # What most of those who can come asked for (None when none said).
    format: str | None = None
    duration_minutes: int | None = None

    @property
    def rrule(self) -> str:
        """The recurrence rule (RFC 5545) of the rhythm, in its time zone."""
        start = STARTS[self.candidate.part]
        day = RRULE_DAYS[self.candidate.weekday]
        frequency = self.candidate.frequency
        if frequency in ("weekly", "biweekly"):
            rule = f"FREQ=WEEKLY;INTERVAL={1 if frequency == 'weekly' else 2};BYDAY={day}"
        else:
            rule = f"FREQ=MONTHLY;INTERVAL={1 if frequency == 'monthly' else 2};BYDAY=1{day}"
        return f"{rule};BYHOUR={start.hour};BYMINUTE={start.minute};BYSECOND=0"


def candidates() -> list[Candidate]:
    """Every weekday, window and periodicity, in tie-breaking order."""
    return [Candidate(d, p, f) for d in DAYS for p in PARTS for f in RATES]


def local_slot(weekday: str, part: str, zone: str, member_zone: str) -> str | None:
    """The member's own slot ("wed-morning") in which a window starting in ``zone`` falls, or
    None when it falls outside their windows (at night)."""
    day = REFERENCE_MONDAY + timedelta(days=DAYS.index(weekday))
    start = datetime.combine(day, STARTS[part], ZoneInfo(zone)).astimezone(ZoneInfo(member_zone))
    for name, hours in WINDOWS.items():
        if start.hour in hours:
            return f"{DAYS[start.weekday()]}-{name}"
    return None


def can_come(need: Need, weekday: str, part: str, zone: str) -> bool:
    """Whether the window falls in one of the member's slots."""
    return local_slot(weekday, part, zone, need.timezone or zone) in need.slots


def closeness(wanted: str, offered: str) -> float:
    """How well a periodicity suits someone who wants another: 1 when the same."""
    a, b = RATES.get(wanted, RATES["monthly"]), RATES[offered]
    return min(a, b) / max(a, b)


def share_attended(wanted: str, offered: str) -> float:
    """The share of the occurrences someone who wants ``wanted`` comes to."""
    return min(1.0, RATES.get(wanted, RATES["monthly"]) / RATES[offered])


def evaluate(needs: Sequence[Need], candidate: Candidate, zone: str) -> tuple[float, float]:
    """(score, expected attendance) of a candidate."""
    coming = [n for n in needs if can_come(n, candidate.weekday, candidate.part, zone)]
    score = sum(closeness(n.frequency, candidate.frequency) for n in coming)
    expected = sum(share_attended(n.frequency, candidate.frequency) for n in coming)
    return round(score, 6), round(expected, 6)


def propose(needs: Sequence[Need], zone: str) -> Rhythm | None:
    """The best rhythm for these answers (None without any answer). Each member's slots are
    found once per window; periodicities are then weighed per window."""
    if not needs:
        return None
    best: tuple[tuple[float, float, int], Candidate] | None = None
    order = {c: i for i, c in enumerate(candidates())}
    for weekday in DAYS:
        for part in PARTS:
            coming = [n for n in needs if can_come(n, weekday, part, zone)]
            wanted = Counter(n.frequency for n in coming)
            for frequency in RATES:
                score = sum(count * closeness(f, frequency) for f, count in wanted.items())
                expected = sum(count * share_attended(f, frequency) for f, count in wanted.items())
                candidate = Candidate(weekday, part, frequency)
                key = (round(score, 6), round(expected, 6), -order[candidate])
                if best is None or key > best[0]:
                    best = (key, candidate)
    assert best is not None
    (score, expected, _), chosen = best
    coming = [n for n in needs if can_come(n, chosen.weekday, chosen.part, zone)]
    demand = Counter(t for n in coming for t in n.types)
    return Rhythm(
        format=_most_asked(n.format for n in coming if n.format),
        duration_minutes=_most_asked(n.duration for n in coming if n.duration),
        candidate=chosen,
        timezone=zone,
        score=score,
        expected_attendance=round(expected, 2),
        activity_types=[t for t, _count in sorted(demand.items(), key=lambda i: (-i[1], i[0]))],
        left_out=sorted(n.email for n in needs if n not in coming),
        attending=sorted(n.email for n in coming),
    )


Asked = TypeVar("Asked", str, int)


def _most_asked(values: Iterable[Asked]) -> Asked | None:
    """The answer given most often; on a tie, the smallest (the shorter length, the first
    format in alphabetical order)."""
    counts = Counter(values)
    if not counts:
        return None
    return min(counts, key=lambda v: (-counts[v], v))


def needs_of(session: Session, community_id: int) -> list[Need]:
    """The members' sent answers to the needs survey (newest version of each)."""
    community = session.get(Community, community_id)
    zone = community.timezone if community else "UTC"
    rows = session.execute(
        select(Person, Response.answers)
        .join(Response, Response.person_id == Person.id)
        .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Questionnaire.community_id == community_id,
            Questionnaire.kind == QuestionnaireKind.NEEDS,
            Response.complete.is_(True),
            Membership.community_id == community_id,
            Membership.state == MembershipState.MEMBER,
        )
        .order_by(Person.id, Questionnaire.version.desc())
    )
    found: dict[int, Need] = {}
    for person, answers in rows:
        if person.id in found:
            continue
        found[person.id] = Need(
            person_id=person.id,
            email=person.email,
            types=tuple(answers.get("activity_types") or ()),
            frequency=str(answers.get("frequency") or "monthly"),
            slots=frozenset(answers.get("availability") or ()),
            timezone=person.timezone or zone,
            format=str(answers.get("format") or ""),
            duration=_minutes(answers.get("duration")),
        )
    return list(found.values())


def _minutes(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def proposed_rhythm(session: Session, community_id: int) -> Rhythm:
    """The rhythm the members' answers point to."""
    community = session.get(Community, community_id)
    if community is None:
        raise DomainError(N_("No such community."))
    rhythm = propose(needs_of(session, community_id), community.timezone)
    if rhythm is None:
        raise DomainError(N_("No member has answered the needs survey yet."))
    return rhythm


# -- the catalogue of activity types -------------------------------------------------------------


def activity_types() -> list[tuple[str, dict[str, str]]]:
    """The catalogue of activity types (code, label per language), from the needs survey."""
    for question in default_definition("needs")["questions"]:
        if question["id"] == "activity_types":
            return [(c["value"], c["label"]) for c in question["choices"]]
    return []


def type_label(code: str, locale: str) -> str:
    """An activity type as a reader in ``locale`` calls it (its code when unknown)."""
    return next((localised(label, locale) for c, label in activity_types() if c == code), code)


def occurrence_title(meeting: Meeting, locale: str) -> str:
    """ "Midi-causerie · Reading club: Wenger 1998": the series' title, the occurrence's type
    and topic."""
    parts = [type_label(meeting.activity_type, locale)] if meeting.activity_type else []
    if meeting.topic:
        parts.append(meeting.topic)
    return f"{meeting.title} · {': '.join(parts)}" if parts else meeting.title
