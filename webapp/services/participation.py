"""Participation health of a community's recurring activities: how many answered and came to
each past occurrence, which members are going quiet, and the participation levels observed next
to those the members declared.

An occurrence is past once it has ended and was not cancelled. Someone *came* to it when the
facilitator checked them in; when nobody was checked in at an occurrence, those who said yes
count as having come (as :func:`activity_series.came` does). The current members are measured
on the occurrences whose invitation went to them (on all of them when Amorce sent none).
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import (
    ActivityFeedback,
    ActivitySeries,
    ActivityStep,
    Campaign,
    CampaignKind,
    CampaignState,
    Delivery,
    DeliveryState,
    Meeting,
    MeetingState,
    Membership,
    MembershipState,
    ParticipationLevel,
    Person,
    Rsvp,
    RsvpStatus,
    utcnow,
)

from . import campaigns, meetings
from .errors import N_, DomainError

# The window when a community has several series (each has its own ``quiet_after``).
DEFAULT_WINDOW = 3
# Who said yes: the waiting list wanted to come too.
YES = (RsvpStatus.ACCEPTED, RsvpStatus.WAITLISTED)
NEVER = datetime.min.replace(tzinfo=UTC)


class ObservedLevel(enum.StrEnum):
    """How a member takes part, from what they did: Wenger's three levels, and silence."""

    CORE = "core"  # came to at least two thirds of the past occurrences
    ACTIVE = "active"  # at least a third
    PERIPHERAL = "peripheral"  # came or answered at least once
    QUIET = "quiet"  # neither


@dataclass(frozen=True)
class OccurrenceTally:
    """One past occurrence and how its members answered, came and found it."""

    meeting_id: int
    starts_at: datetime
    timezone: str
    series_title: str
    activity_type: str
    invited: int  # the current members
    yes: int
    maybe: int
    no: int
    came: int | None  # those checked in; None when nobody was
    feedback_average: float | None  # usefulness, 1 to 5
    feedback_count: int

    @property
    def came_or_yes(self) -> int:
        """Those checked in, or when nobody was, those who said yes."""
        return self.yes if self.came is None else self.came


@dataclass(frozen=True)
class MemberRecord:
    """One current member's participation."""

    person_id: int
    name: str
    email: str
    declared: str  # Membership.participation_level: core, active, peripheral or ""
    observed: ObservedLevel
    came: int  # over all past occurrences
    answered: int
    recent_came: int  # over the last ``window`` past occurrences
    recent_answered: int
    last_seen: datetime | None  # the start of the last occurrence they answered or came to
    quiet: bool


@dataclass(frozen=True)
class Health:
    """The participation health of a community's activities."""

    series_count: int
    window: int
    occurrences: list[OccurrenceTally]
    members: list[MemberRecord]

    @property
    def quiet(self) -> list[MemberRecord]:
        """The members going quiet, the longest silent first."""
        return sorted(
            (m for m in self.members if m.quiet),
            key=lambda m: (m.last_seen is not None, m.last_seen or NEVER, m.name.lower()),
        )

    def observed_levels(self) -> dict[str, int]:
        """How many members at each observed level (every level present, even at 0)."""
        counts = dict.fromkeys((level.value for level in ObservedLevel), 0)
        for member in self.members:
            counts[member.observed] += 1
        return counts

    def declared_levels(self) -> dict[str, int]:
        """How many members declared each level; ``""`` for those who did not."""
        counts = dict.fromkeys([*(level.value for level in ParticipationLevel), ""], 0)
        for member in self.members:
            counts[member.declared if member.declared in counts else ""] += 1
        return counts


def observed_level(came: int, answered: int, past: int) -> ObservedLevel:
    """The level ``came`` attendances and ``answered`` answers out of ``past`` occurrences show."""
    if past and 3 * came >= 2 * past:
        return ObservedLevel.CORE
    if past and 3 * came >= past:
        return ObservedLevel.ACTIVE
    if came or answered:
        return ObservedLevel.PERIPHERAL
    return ObservedLevel.QUIET


def health_of(
    session: Session,
    community_id: int,
    *,
    now: datetime | None = None,
    window: int | None = None,
) -> Health:
    """The community's participation health at ``now``: its past occurrences oldest first, its
    current members by name. A member is going quiet when they neither answered nor came in
    each of the last ``window`` past occurrences (the series' ``quiet_after``, or 3 when there
    are several series); nobody is before there were that many."""
    now = now or utcnow()
    series = {
        s.id: s
        for s in session.scalars(
            select(ActivitySeries).where(ActivitySeries.community_id == community_id)
        )
    }
    if window is None:
        window = next(iter(series.values())).quiet_after if len(series) == 1 else DEFAULT_WINDOW
    window = max(window, 1)
    past = [
        m
        for m in session.scalars(
            select(Meeting)
            .where(
                Meeting.series_id.in_(list(series)),
                Meeting.state == MeetingState.SCHEDULED,
                Meeting.starts_at <= now,
            )
            .order_by(Meeting.starts_at, Meeting.id)
        )
        if meetings.meeting_end(m) <= now
    ]
    members = session.execute(
        select(Membership.person_id, Membership.participation_level, Person)
        .join(Person, Person.id == Membership.person_id)
        .where(
            Membership.community_id == community_id,
            Membership.state == MembershipState.MEMBER,
        )
    ).all()
    rsvps = _rsvps(session, community_id, {m.id for m in past}, now)
    feedback = feedback_averages(session, [m.id for m in past])
    tallies = [_tally(m, series, len(members), rsvps.get(m.id, {}), feedback) for m in past]
    # Who came to each occurrence: checked in, or said yes when nobody was checked in.
    came = {
        t.meeting_id: {
            p
            for p, (status, checked) in rsvps.get(t.meeting_id, {}).items()
            if (checked if t.came is not None else status in YES)
        }
        for t in tallies
    }
    invited = _invited(session, [m.id for m in past])
    records = []
    for _pid, declared, person in members:
        # A member is measured on the occurrences they were invited to (all of them when the
        # invitations were not sent by Amorce): one who joined last week is not going quiet.
        theirs = [m for m in past if m.id not in invited or person.id in invited[m.id]]
        recent = theirs[-window:] if len(theirs) >= window else []
        records.append(_record(person, declared or "", theirs, recent, rsvps, came))
    records.sort(key=lambda r: (r.name.lower(), r.person_id))
    return Health(len(series), window, tallies, records)


def _invited(session: Session, meeting_ids: list[int]) -> dict[int, set[int]]:
    """Per occurrence whose invitation went out through Amorce: who it was sent to."""
    found: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(
        select(Campaign.meeting_id, Delivery.person_id)
        .join(Delivery, Delivery.campaign_id == Campaign.id)
        .where(
            Campaign.kind == CampaignKind.INVITATION,
            Campaign.meeting_id.in_(meeting_ids),
            Delivery.step == 0,
            Delivery.state == DeliveryState.SENT,
        )
    )
    for meeting_id, person_id in rows:
        if meeting_id is not None:
            found[meeting_id].add(person_id)
    return found


def _rsvps(
    session: Session, community_id: int, meeting_ids: set[int], now: datetime
) -> dict[int, dict[int, tuple[str, bool]]]:
    """Per past occurrence, per person: their answer (``""`` for none) and whether they came."""
    found: dict[int, dict[int, tuple[str, bool]]] = defaultdict(dict)
    rows = session.execute(
        select(Rsvp.meeting_id, Rsvp.person_id, Rsvp.status, Rsvp.checked_in_at)
        .join(Meeting, Meeting.id == Rsvp.meeting_id)
        .where(
            Meeting.community_id == community_id,
            Meeting.series_id.is_not(None),
            Meeting.starts_at <= now,
        )
    )
    for meeting_id, person_id, status, checked_in_at in rows:
        if meeting_id in meeting_ids:
            found[meeting_id][person_id] = (status or "", checked_in_at is not None)
    return found


def feedback_averages(
    session: Session, meeting_ids: Collection[int]
) -> dict[int, tuple[float, int]]:
    """Per occurrence: the average usefulness given, and how many gave one (none: absent)."""
    rows = session.execute(
        select(
            ActivityFeedback.meeting_id,
            func.avg(ActivityFeedback.usefulness),
            func.count(ActivityFeedback.usefulness),
        )
        .where(
            ActivityFeedback.meeting_id.in_(list(meeting_ids)),
            ActivityFeedback.usefulness.is_not(None),
        )
        .group_by(ActivityFeedback.meeting_id)
    )
    return {meeting_id: (float(average), int(count)) for meeting_id, average, count in rows}


@dataclass(frozen=True)
class Turnout:
    """How the members answered one occurrence, who was checked in, what they found."""

    answers: Counter[str]  # RSVP status: how many
    checked_in: int
    feedback_average: float | None
    feedback_count: int

    @property
    def came(self) -> int:
        """Those checked in, or when nobody was, those who said yes (as
        :func:`activity_series.came`)."""
        return self.checked_in or self.answers[RsvpStatus.ACCEPTED]


def turnout(session: Session, meeting_ids: Collection[int]) -> dict[int, Turnout]:
    """The turnout of each of these occurrences, in three queries whatever their number."""
    ids = list(meeting_ids)
    answers: dict[int, Counter[str]] = {i: Counter() for i in ids}
    for meeting_id, status, count in session.execute(
        select(Rsvp.meeting_id, Rsvp.status, func.count())
        .where(Rsvp.meeting_id.in_(ids))
        .group_by(Rsvp.meeting_id, Rsvp.status)
    ):
        answers[meeting_id][status] = count
    checked: dict[int, int] = {
        meeting_id: count
        for meeting_id, count in session.execute(
            select(Rsvp.meeting_id, func.count())
            .where(Rsvp.meeting_id.in_(ids), Rsvp.checked_in_at.is_not(None))
            .group_by(Rsvp.meeting_id)
        )
    }
    feedback = feedback_averages(session, ids)
    return {i: Turnout(answers[i], checked.get(i, 0), *feedback.get(i, (None, 0))) for i in ids}


def _tally(
    meeting: Meeting,
    series: dict[int, ActivitySeries],
    invited: int,
    answers: dict[int, tuple[str, bool]],
    feedback: dict[int, tuple[float, int]],
) -> OccurrenceTally:
    statuses = [status for status, _checked in answers.values()]
    checked = sum(1 for _status, came in answers.values() if came)
    average, given = feedback.get(meeting.id, (None, 0))
    owner = series.get(meeting.series_id or 0)
    return OccurrenceTally(
        meeting_id=meeting.id,
        starts_at=meeting.starts_at,
        timezone=meeting.timezone,
        series_title=owner.title if owner else meeting.title,
        activity_type=meeting.activity_type,
        invited=invited,
        yes=sum(1 for s in statuses if s in YES),
        maybe=statuses.count(RsvpStatus.TENTATIVE),
        no=statuses.count(RsvpStatus.DECLINED),
        came=checked or None,
        feedback_average=average,
        feedback_count=given,
    )


def _record(
    person: Person,
    declared: str,
    past: list[Meeting],
    recent: list[Meeting],
    rsvps: dict[int, dict[int, tuple[str, bool]]],
    came: dict[int, set[int]],
) -> MemberRecord:
    def answered(meeting: Meeting) -> bool:
        return bool(rsvps.get(meeting.id, {}).get(person.id, ("", False))[0])

    def attended(meeting: Meeting) -> bool:
        return person.id in came[meeting.id]

    def seen(meeting: Meeting) -> bool:
        return answered(meeting) or rsvps.get(meeting.id, {}).get(person.id, ("", False))[1]

    came_count = sum(1 for m in past if attended(m))
    answered_count = sum(1 for m in past if answered(m))
    last = next((m.starts_at for m in reversed(past) if seen(m)), None)
    return MemberRecord(
        person_id=person.id,
        name=person.display_name,
        email=person.email,
        declared=declared,
        observed=observed_level(came_count, answered_count, len(past)),
        came=came_count,
        answered=answered_count,
        recent_came=sum(1 for m in recent if attended(m)),
        recent_answered=sum(1 for m in recent if answered(m)),
        last_seen=last,
        quiet=bool(recent) and not any(seen(m) for m in recent),
    )


# -- what the coordinator does about it --------------------------------------------------------


def prepare_reengagement(
    session: Session,
    community_id: int,
    *,
    name: str,
    user_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """The draft campaign that writes to the members going quiet (the re-engagement step): the
    draft already prepared for exactly them, else a new one. Its id."""
    quiet = sorted(m.person_id for m in health_of(session, community_id, now=now).quiet)
    if not quiet:
        raise DomainError(N_("Nobody is going quiet: there is nobody to write to."))
    return _draft(session, community_id, ActivityStep.REENGAGE, quiet, name, user_id)


def prepare_repoll(
    session: Session, community_id: int, *, name: str, user_id: int | None = None
) -> int:
    """The draft campaign that asks every member the needs-and-availability survey again, for
    the next cycle of the rhythm: the draft already prepared, else a new one. Its id."""
    return _draft(session, community_id, ActivityStep.NEEDS, None, name, user_id)


def _draft(
    session: Session,
    community_id: int,
    step: str,
    people: list[int] | None,
    name: str,
    user_id: int | None,
) -> int:
    drafts = session.scalars(
        select(Campaign).where(
            Campaign.community_id == community_id,
            Campaign.kind == CampaignKind.ACTIVITY,
            Campaign.activity_step == step,
            Campaign.state == CampaignState.DRAFT,
            Campaign.meeting_id.is_(None),
        )
    )
    for draft in drafts:
        if (draft.audience_filter or {}).get("people") == people:
            return draft.id
    return campaigns.create_campaign(
        session,
        community_id,
        kind=CampaignKind.ACTIVITY,
        activity_step=step,
        audience_filter={"people": people} if people is not None else None,
        name=name,
        user_id=user_id,
    )
