"""A member's side of the recurring activities: the needs survey they answer, the feedback they
give after an activity they came to, the summary its facilitator posts, the topics they propose
and their answers to the coming occurrences.

Every function checks that what it is given belongs to the member's community: a personal link
only ever reaches its own community's series and occurrences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models import (
    ActivityFeedback,
    ActivitySeries,
    AuditLog,
    Meeting,
    MeetingState,
    Questionnaire,
    QuestionnaireKind,
    Rsvp,
    SeriesState,
    utcnow,
)

from . import activity_series, meetings, questionnaires
from .errors import N_, DomainError, NotFound

COMMENT_LIMIT = 5000
SUMMARY_LIMIT = 20000
USEFULNESS = range(1, 6)  # 1: not useful, 5: very useful
UPCOMING = 3  # coming occurrences shown per series
NEEDS_ALREADY_SENT = N_("Your answers are already sent: send them again to change them.")
NOT_A_MEMBER = N_("Only the members of the community take part in its activities.")


def _actor(person_id: int) -> str:
    return f"person:{person_id}"


def _audit(
    session: Session, community_id: int, person_id: int, action: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditLog(community_id=community_id, actor=_actor(person_id), action=action, details=details)
    )


def _check_member(session: Session, community_id: int, person_id: int) -> None:
    if not meetings.is_invited(session, community_id, person_id):
        raise DomainError(NOT_A_MEMBER)


def occurrence_of(session: Session, community_id: int, meeting_id: int) -> Meeting:
    """An occurrence of one of the community's series, or :class:`NotFound`."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.series_id is None or meeting.community_id != community_id:
        raise NotFound(N_("No such activity."))
    return meeting


def series_in(session: Session, community_id: int, series_id: int) -> ActivitySeries:
    """One of the community's series, or :class:`NotFound`."""
    series = session.get(ActivitySeries, series_id)
    if series is None or series.community_id != community_id:
        raise NotFound(N_("No such series of activities."))
    return series


def active_series(session: Session, community_id: int) -> list[ActivitySeries]:
    """The community's series that still generate occurrences, the oldest first."""
    return list(
        session.scalars(
            select(ActivitySeries)
            .where(
                ActivitySeries.community_id == community_id,
                ActivitySeries.state == SeriesState.ACTIVE,
            )
            .order_by(ActivitySeries.created_at, ActivitySeries.id)
        )
    )


# -- the needs survey ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedsAnswers:
    """A member's answers to the needs survey, as they left them."""

    questionnaire: Questionnaire
    answers: dict[str, Any]
    saved_at: datetime | None
    sent: bool


def needs_answers(session: Session, community_id: int, person_id: int) -> NeedsAnswers:
    """What the member answered, carried to the survey's newest version by question (the
    survey is made on first use)."""
    newest = questionnaires.ensure_questionnaire(session, community_id, QuestionnaireKind.NEEDS)
    carried = questionnaires.carried_answers(session, community_id, newest, person_id)
    return NeedsAnswers(newest, carried.answers, carried.saved_at, carried.sent)


def save_needs(
    session: Session,
    community_id: int,
    person_id: int,
    answers: dict[str, Any],
    *,
    complete: bool,
    channel: str = "web",
) -> datetime:
    """Keep the member's needs and availability (``complete`` once sent); returns when. A
    draft never overwrites sent answers: the member sends again to change them."""
    _check_member(session, community_id, person_id)
    now = questionnaires.store_answers(
        session,
        community_id,
        QuestionnaireKind.NEEDS,
        person_id,
        {"answers": answers, "channel": channel},
        complete=complete,
        already_sent=NEEDS_ALREADY_SENT,
    )
    if complete:
        _audit(session, community_id, person_id, "activity.needs_answered", {"channel": channel})
    return now


# -- feedback after an activity ------------------------------------------------------------------


def may_give_feedback(session: Session, meeting: Meeting, person_id: int) -> bool:
    """Whether the person came to the occurrence: checked in, or, when nobody was checked in,
    said yes (:func:`activity_series.came`), the people its feedback survey went to."""
    return person_id in activity_series.came(session, meeting)


def feedback_of(session: Session, meeting_id: int, person_id: int) -> ActivityFeedback | None:
    """The feedback the person gave on the occurrence, if any."""
    return session.scalar(
        select(ActivityFeedback).where(
            ActivityFeedback.meeting_id == meeting_id, ActivityFeedback.person_id == person_id
        )
    )


def record_feedback(
    session: Session,
    community_id: int,
    meeting_id: int,
    person_id: int,
    *,
    usefulness: int | None,
    comment: str = "",
    next_topic: str = "",
) -> int:
    """Keep what a member who came thought of the occurrence (given again, it replaces what
    they gave) and the topic they would like next, if any. Returns the feedback's id."""
    meeting = occurrence_of(session, community_id, meeting_id)
    if meeting.state == MeetingState.CANCELLED:
        raise DomainError(N_("This activity was cancelled."))
    if meeting.starts_at > utcnow():
        raise DomainError(N_("This activity has not taken place yet."))
    if not may_give_feedback(session, meeting, person_id):
        raise DomainError(N_("Only the members who came to this activity give feedback on it."))
    if usefulness not in USEFULNESS:
        raise DomainError(N_("Say how useful it was, from 1 (not useful) to 5 (very useful)."))
    comment = comment.strip()
    if len(comment) > COMMENT_LIMIT:
        raise DomainError(N_("A comment fits in 5,000 characters."))
    topic = " ".join(next_topic.split())
    if topic:
        assert meeting.series_id is not None
        activity_series.propose_topic(
            session, meeting.series_id, topic, person_id=person_id, actor=_actor(person_id)
        )
    feedback = feedback_of(session, meeting.id, person_id)
    if feedback is None:
        try:
            with session.begin_nested():
                feedback = ActivityFeedback(meeting_id=meeting.id, person_id=person_id)
                session.add(feedback)
                session.flush()
        except IntegrityError:  # the same first answer, twice at once: update the other one
            feedback = feedback_of(session, meeting.id, person_id)
            assert feedback is not None
    feedback.usefulness = usefulness
    feedback.comment = comment
    feedback.updated_at = utcnow()
    session.flush()
    _audit(
        session,
        community_id,
        person_id,
        "activity.feedback",
        {"meeting": meeting.id, "series": meeting.series_id, "usefulness": usefulness},
    )
    return feedback.id


# -- the facilitator's summary -------------------------------------------------------------------


def post_summary(
    session: Session, community_id: int, meeting_id: int, person_id: int, text: str
) -> datetime:
    """The occurrence's facilitator posts (or corrects) its summary; returns when."""
    meeting = occurrence_of(session, community_id, meeting_id)
    if meeting.facilitator_id is None or meeting.facilitator_id != person_id:
        raise DomainError(N_("Only the facilitator of this activity posts its summary."))
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise DomainError(N_("Write the summary before posting it."))
    if len(text) > SUMMARY_LIMIT:
        raise DomainError(N_("A summary fits in 20,000 characters."))
    now = utcnow()
    first = meeting.summary_at is None
    meeting.summary = text
    meeting.summary_at = now
    _audit(
        session,
        community_id,
        person_id,
        "activity.summary_posted" if first else "activity.summary_changed",
        {"meeting": meeting.id, "series": meeting.series_id},
    )
    return now


# -- topics and the coming occurrences -----------------------------------------------------------


def propose_topic(
    session: Session, community_id: int, series_id: int, person_id: int, text: str
) -> int:
    """A member proposes a topic for the coming occurrences of one of the community's series.
    Returns the proposal's id (the existing one for the same words)."""
    series = series_in(session, community_id, series_id)
    _check_member(session, community_id, person_id)
    if series.state != SeriesState.ACTIVE:
        raise DomainError(N_("This series of activities has ended."))
    return activity_series.propose_topic(
        session, series.id, text, person_id=person_id, actor=_actor(person_id)
    )


@dataclass(frozen=True)
class Coming:
    """A coming occurrence and the reader's answer to it (empty: not answered yet)."""

    meeting: Meeting
    status: str


@dataclass(frozen=True)
class ComingSeries:
    """An active series and its next occurrences."""

    series: ActivitySeries
    occurrences: list[Coming]


def upcoming(
    session: Session,
    community_id: int,
    limit: int = UPCOMING,
    *,
    person_id: int | None = None,
    now: datetime | None = None,
) -> list[ComingSeries]:
    """The next ``limit`` occurrences of each active series of the community, cancelled ones
    left out, with ``person_id``'s answers."""
    now = now or utcnow()
    found = []
    for series in active_series(session, community_id):
        coming = list(
            session.scalars(
                select(Meeting)
                .where(
                    Meeting.series_id == series.id,
                    Meeting.state == MeetingState.SCHEDULED,
                    Meeting.starts_at > now,
                )
                .order_by(Meeting.starts_at, Meeting.id)
                .limit(limit)
            )
        )
        answers = _answers(session, [m.id for m in coming], person_id)
        found.append(ComingSeries(series, [Coming(m, answers.get(m.id, "")) for m in coming]))
    return found


def _answers(session: Session, meeting_ids: Sequence[int], person_id: int | None) -> dict[int, str]:
    if person_id is None or not meeting_ids:
        return {}
    rows = session.execute(
        select(Rsvp.meeting_id, Rsvp.status).where(
            Rsvp.meeting_id.in_(meeting_ids), Rsvp.person_id == person_id
        )
    )
    return {meeting_id: status for meeting_id, status in rows}


def answer_occurrence(
    session: Session, community_id: int, meeting_id: int, person_id: int, status: str
) -> meetings.RsvpOutcome:
    """A member's yes, maybe or no to one of the community's coming occurrences."""
    meeting = occurrence_of(session, community_id, meeting_id)
    _check_member(session, community_id, person_id)
    return meetings.answer(session, meeting.id, person_id, status, source="web")


def series_calendar(
    session: Session, community_id: int, series_id: int, *, organizer_email: str
) -> bytes:
    """The whole series of the community as one ``.ics`` for a member's calendar."""
    series = series_in(session, community_id, series_id)
    return activity_series.series_ics(session, series.id, organizer_email=organizer_email)
