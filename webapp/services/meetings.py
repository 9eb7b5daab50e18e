"""Meetings: scheduled from a poll's slot or by hand, moved, cancelled; who is invited, their
RSVPs (from the web page, an email reply or their calendar), the room's capacity and its waiting
list, and who came.

A meeting keeps its calendar UID for life; every change people must see in their calendar (a new
time, a new place, a cancellation) adds one to its SEQUENCE, so calendars replace the old copy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from forms.questionnaires import localised
from webapp.i18n import LOCALES, translations_for
from webapp.models import (
    ActivitySeries,
    AuditLog,
    Campaign,
    CampaignKind,
    Community,
    Delivery,
    DeliveryState,
    Meeting,
    MeetingState,
    Membership,
    MembershipState,
    Person,
    Poll,
    PollSlot,
    Rsvp,
    RsvpStatus,
    utcnow,
)

from . import activities, ics, poll_zones, polls
from .errors import N_, DomainError, NotFound
from .memberships import membership_of

# Who is invited to a community's meetings: the founding group, confirmed or not yet.
INVITED_STATES = (MembershipState.SELECTED, MembershipState.MEMBER)
RSVP_SOURCES = ("web", "email", "calendar")
TITLE_LIMIT = 200
PLACE_LIMIT = 300
MIN_DURATION = 15
MAX_DURATION = 12 * 60
DEFAULT_REMINDERS = [7 * 24 * 60, 24 * 60, 120]  # minutes before: a week, a day, two hours
MAX_REMINDERS = 5
# The typical steps of a founding meeting, from the guide behind Amorce.
AGENDA = (
    N_("Introductions that build trust: who we are, what we hope the community brings us"),
    N_("The project: what a community of practice is, and its benefits for its members"),
    N_("The minimum commitments each member accepts"),
    N_("The first topics for our next meetings"),
)


def default_agenda() -> list[dict[str, str]]:
    """The founding meeting's usual agenda, in every language."""
    return [
        {locale: translations_for(locale).gettext(item) for locale in LOCALES} for item in AGENDA
    ]


@dataclass(frozen=True)
class MeetingData:
    """What a coordinator says about a meeting."""

    title: str
    starts_at: datetime  # aware
    duration_minutes: int
    timezone: str
    place: str = ""
    capacity: int | None = None
    agenda: list[dict[str, str]] | None = None
    reminder_minutes: list[int] | None = None


def check_meeting(data: MeetingData) -> None:
    """Refuse a meeting people could not attend as described, naming what is wrong."""
    if not data.title.strip() or len(data.title) > TITLE_LIMIT or "\n" in data.title:
        raise DomainError(N_("The meeting needs a title on one line, at most 200 characters."))
    if data.starts_at.tzinfo is None:
        raise DomainError(N_("The start of the meeting needs its time zone."))
    if not MIN_DURATION <= data.duration_minutes <= MAX_DURATION:
        raise DomainError(N_("A meeting lasts from 15 minutes to 12 hours."))
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(N_("Unknown time zone %(zone)s."), zone=repr(data.timezone)) from None
    if len(data.place) > PLACE_LIMIT or "\n" in data.place:
        raise DomainError(N_("The place fits on one line, at most 300 characters."))
    if data.capacity is not None and data.capacity < 1:
        raise DomainError(N_("A room holds at least one person."))
    reminders = data.reminder_minutes
    if reminders is not None and (
        len(reminders) > MAX_REMINDERS or any(not 0 < m <= 60 * 24 * 60 for m in reminders)
    ):
        raise DomainError(
            N_("At most 5 reminders, each between 1 minute and 60 days before the meeting.")
        )


def is_invited(session: Session, community_id: int, person_id: int) -> bool:
    """Whether the person is invited to the community's meetings and activities (the founding
    group: selected or member)."""
    state = session.scalar(
        select(Membership.state).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    return state in INVITED_STATES


def _meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(N_("No such meeting."))
    return meeting


def schedule(
    session: Session,
    community_id: int,
    data: MeetingData,
    *,
    poll_id: int | None = None,
    actor: str,
) -> int:
    """A new meeting, with the usual agenda unless another is given. Returns its id."""
    check_meeting(data)
    if session.get(Community, community_id) is None:
        raise NotFound(N_("No such community."))
    meeting = Meeting(
        community_id=community_id,
        poll_id=poll_id,
        title=data.title.strip(),
        starts_at=data.starts_at.astimezone(ZoneInfo("UTC")),
        duration_minutes=data.duration_minutes,
        timezone=data.timezone,
        place=data.place.strip(),
        capacity=data.capacity,
        agenda=data.agenda if data.agenda is not None else default_agenda(),
        reminder_minutes=sorted(set(data.reminder_minutes or DEFAULT_REMINDERS), reverse=True),
        uid=f"{uuid.uuid4()}@amorce",
        sequence=0,
    )
    session.add(meeting)
    session.flush()
    _audit(session, meeting, actor, "meeting.scheduled", {"starts_at": meeting_start(meeting)})
    return meeting.id


def schedule_from_slot(
    session: Session,
    poll_id: int,
    slot_id: int,
    *,
    title: str,
    start_local: datetime | None = None,
    actor: str,
) -> int:
    """The meeting at a poll's slot (a date-only slot needs the local start time); the poll
    closes."""
    poll = session.get(Poll, poll_id)
    slot = session.get(PollSlot, slot_id)
    if poll is None or slot is None or slot.poll_id != poll_id:
        raise NotFound(N_("No such slot in this poll."))
    if poll.state != "open" and session.scalar(
        select(Meeting.id).where(Meeting.poll_id == poll_id).limit(1)
    ):
        raise DomainError(N_("This poll already gave its meeting."))
    if slot.starts_at is not None:
        starts_at = slot.starts_at
    elif slot.day is not None and start_local is not None:
        # Refuses a time the clocks skip that day, like any slot.
        starts_at = poll_zones.local_to_utc(
            datetime.combine(slot.day, start_local.time()), poll.timezone
        )
    else:
        raise DomainError(N_("Give the time the meeting starts on that day."))
    data = MeetingData(
        title=title,
        starts_at=starts_at,
        duration_minutes=slot.duration_minutes,
        timezone=poll.timezone,
        place=slot.place,
        capacity=slot.capacity,
    )
    meeting_id = schedule(session, poll.community_id, data, poll_id=poll_id, actor=actor)
    polls.close_poll(session, poll_id, actor=actor)
    return meeting_id


def change(session: Session, meeting_id: int, data: MeetingData, *, actor: str) -> bool:
    """Change a meeting; True when calendars must hear of it (time, length or place moved),
    which adds one to its SEQUENCE."""
    check_meeting(data)
    meeting = _meeting(session, meeting_id)
    if meeting.state == MeetingState.CANCELLED:
        raise DomainError(N_("This meeting is cancelled."))
    starts_at = data.starts_at.astimezone(ZoneInfo("UTC"))
    shift = starts_at - meeting.starts_at
    new_reminders = (
        sorted(set(data.reminder_minutes), reverse=True)
        if data.reminder_minutes is not None
        else meeting.reminder_minutes
    )
    replan = new_reminders != meeting.reminder_minutes
    moved = (
        starts_at != meeting.starts_at
        or data.duration_minutes != meeting.duration_minutes
        or data.place.strip() != meeting.place
        or data.timezone != meeting.timezone
    )
    meeting.title = data.title.strip()
    meeting.starts_at = starts_at
    meeting.duration_minutes = data.duration_minutes
    meeting.timezone = data.timezone
    meeting.place = data.place.strip()
    larger = data.capacity is None or (
        meeting.capacity is not None and data.capacity > meeting.capacity
    )
    meeting.capacity = data.capacity
    if data.agenda is not None:
        meeting.agenda = data.agenda
    meeting.reminder_minutes = new_reminders
    if moved:
        meeting.sequence += 1
    if replan:
        _replan_reminders(session, meeting)
    elif shift:
        _shift_reminders(session, meeting, shift)
    if larger:  # a bigger room: the waiting list comes in, first in line first
        session.flush()
        while (promoted := _promote(session, meeting)) is not None:
            _tell_promoted(session, meeting, promoted)
            session.flush()
    meeting.updated_at = utcnow()
    _audit(
        session,
        meeting,
        actor,
        "meeting.moved" if moved else "meeting.changed",
        {"starts_at": meeting_start(meeting), "sequence": meeting.sequence},
    )
    return moved


def cancel(session: Session, meeting_id: int, *, actor: str) -> bool:
    """Cancel a meeting (SEQUENCE + 1); False when it already was."""
    meeting = _meeting(session, meeting_id)
    if meeting.state == MeetingState.CANCELLED:
        return False
    meeting.state = MeetingState.CANCELLED
    meeting.sequence += 1
    meeting.updated_at = utcnow()
    _cancel_reminders(session, meeting)
    _audit(session, meeting, actor, "meeting.cancelled", {"sequence": meeting.sequence})
    return True


# -- reminders before the meeting -----------------------------------------------------------------
#
# They are outbox rows of the invitation campaign (steps 1, 2, … for each offset, due that long
# before the start). A move re-times the pending ones in the same transaction as the move, and a
# cancellation cancels them, so no reminder ever goes out with an old time; each is rendered from
# the meeting as it stands when it is sent.

# An outbox row that may still go out.
WAITING = (DeliveryState.PENDING,)


def add_reminders(session: Session, campaign: Campaign, *, now: datetime) -> int:
    """The reminders of a just launched invitation, for its recipients who have none for this
    meeting yet (an update after a move keeps the reminders already planned). How many."""
    if campaign.kind != CampaignKind.INVITATION or campaign.meeting_id is None:
        return 0
    meeting = _meeting(session, campaign.meeting_id)
    if meeting.state == MeetingState.CANCELLED:
        return 0
    planned = set(
        session.scalars(
            select(Delivery.person_id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Campaign.meeting_id == meeting.id,
                Campaign.id != campaign.id,
                Delivery.step > 0,
                Delivery.state.in_(WAITING),
            )
        )
    )
    recipients = session.execute(
        select(Delivery.person_id, Delivery.membership_id).where(
            Delivery.campaign_id == campaign.id, Delivery.step == 0
        )
    ).all()
    rows = []
    for step, due in enumerate(_reminder_times(meeting), start=1):
        if due <= now:
            continue
        rows += [
            {
                "campaign_id": campaign.id,
                "person_id": person_id,
                "membership_id": membership_id,
                "step": step,
                "state": DeliveryState.PENDING,
                "due_at": due,
                "attempts": 0,
                "unknown_count": 0,
                "message_id": "",
                "error": "",
            }
            for person_id, membership_id in recipients
            if person_id not in planned
        ]
    if rows:
        session.execute(insert(Delivery), rows)
    return len(rows)


def _reminder_times(meeting: Meeting) -> list[datetime]:
    """When each reminder is due, step 1 first (the offsets are kept farthest first)."""
    return [meeting.starts_at - timedelta(minutes=m) for m in meeting.reminder_minutes or []]


def _waiting_reminders(meeting: Meeting) -> Any:
    """The meeting's reminders that may still go out."""
    campaigns = select(Campaign.id).where(
        Campaign.meeting_id == meeting.id, Campaign.kind == CampaignKind.INVITATION
    )
    return (Delivery.campaign_id.in_(campaigns), Delivery.step > 0, Delivery.state.in_(WAITING))


def _shift_reminders(session: Session, meeting: Meeting, shift: timedelta) -> None:
    """The meeting moved by ``shift``: each waiting reminder moves with it (the same time
    before the start), or is cancelled when that moment has passed."""
    now = utcnow()
    for delivery_id, due in session.execute(
        select(Delivery.id, Delivery.due_at).where(*_waiting_reminders(meeting))
    ).all():
        moved = due + shift
        values: dict[str, Any] = (
            {"due_at": moved}
            if moved > now
            else {"state": DeliveryState.CANCELLED, "claim": None, "lease_expires_at": None}
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.state.in_(WAITING))
            .values(**values)
        )


def _cancel_reminders(session: Session, meeting: Meeting) -> None:
    """The meeting is cancelled: no reminder goes, nor an invitation not sent yet (the
    cancellation is a campaign of its own)."""
    campaigns = select(Campaign.id).where(
        Campaign.meeting_id == meeting.id, Campaign.kind == CampaignKind.INVITATION
    )
    session.execute(
        update(Delivery)
        .where(Delivery.campaign_id.in_(campaigns), Delivery.state.in_(WAITING))
        .values(state=DeliveryState.CANCELLED, claim=None, lease_expires_at=None)
    )


def _replan_reminders(session: Session, meeting: Meeting) -> None:
    """The reminder times changed: the waiting reminders give way to the new ones, planned for
    the same people (the moments already past are skipped)."""
    rows = session.execute(
        select(Delivery.campaign_id, Delivery.person_id, Delivery.membership_id)
        .where(*_waiting_reminders(meeting), Delivery.claim.is_(None))
        .distinct()
    ).all()
    session.execute(delete(Delivery).where(*_waiting_reminders(meeting), Delivery.claim.is_(None)))
    now = utcnow()
    for campaign_id, person_id, membership_id in rows:
        last = session.scalar(
            select(func.max(Delivery.step)).where(
                Delivery.campaign_id == campaign_id, Delivery.person_id == person_id
            )
        )
        step = int(last or 0)
        for due in _reminder_times(meeting):
            if due <= now:
                continue
            step += 1
            session.add(
                Delivery(
                    campaign_id=campaign_id,
                    person_id=person_id,
                    membership_id=membership_id,
                    step=step,
                    due_at=due,
                )
            )


def reminder_refusals(
    session: Session, campaign: Campaign, person_ids: set[int]
) -> tuple[set[int], bool]:
    """Of these recipients of a meeting reminder, those it must not reach (they declined, or wait
    for a seat), and whether the meeting is cancelled (then none goes)."""
    if campaign.meeting_id is None:
        return set(), False
    meeting = _meeting(session, campaign.meeting_id)
    refused = set(
        session.scalars(
            select(Rsvp.person_id).where(
                Rsvp.meeting_id == meeting.id,
                Rsvp.person_id.in_(person_ids),
                Rsvp.status.in_((RsvpStatus.DECLINED, RsvpStatus.WAITLISTED)),
            )
        )
    )
    return refused, meeting.state == MeetingState.CANCELLED


def meeting_start(meeting: Meeting) -> str:
    """The start, in the meeting's zone, as ISO 8601 with its offset."""
    return meeting.starts_at.astimezone(ZoneInfo(meeting.timezone)).isoformat()


def meeting_end(meeting: Meeting) -> datetime:
    """When it ends (UTC)."""
    return meeting.starts_at + timedelta(minutes=meeting.duration_minutes)


# -- who is invited and what they answered -------------------------------------------------------


@dataclass(frozen=True)
class Invitee:
    """Someone invited, with their answer (empty: not answered yet) and whether they came."""

    person_id: int
    email: str
    name: str
    language: str
    timezone: str
    status: str
    source: str
    checked_in: bool


def invitees(session: Session, meeting_id: int) -> list[Invitee]:
    """Everyone invited to the meeting, by name."""
    meeting = _meeting(session, meeting_id)
    rsvps = {
        r.person_id: r for r in session.scalars(select(Rsvp).where(Rsvp.meeting_id == meeting_id))
    }
    people = session.scalars(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == meeting.community_id,
            Membership.state.in_(INVITED_STATES),
        )
    )
    found = []
    for person in people:
        rsvp = rsvps.get(person.id)
        found.append(
            Invitee(
                person_id=person.id,
                email=person.email,
                name=person.display_name,
                language=person.language,
                timezone=person.timezone,
                status=rsvp.status if rsvp else "",
                source=rsvp.source if rsvp else "",
                checked_in=bool(rsvp and rsvp.checked_in_at),
            )
        )
    return sorted(found, key=lambda i: i.name.lower())


def _accepted(session: Session, meeting_id: int) -> int:
    return len(
        session.scalars(
            select(Rsvp.id).where(Rsvp.meeting_id == meeting_id, Rsvp.status == RsvpStatus.ACCEPTED)
        ).all()
    )


@dataclass(frozen=True)
class RsvpOutcome:
    """What an answer did: the status kept (``waitlisted`` when the room is full), and who got
    the seat it freed, if anyone."""

    status: str
    promoted: int | None = None


def answer(
    session: Session,
    meeting_id: int,
    person_id: int,
    status: str,
    *,
    source: str = "web",
    comment: str = "",
) -> RsvpOutcome:
    """Record a member's RSVP. Accepting a full room puts them on the waiting list; declining
    a seat gives it to the first in line."""
    if status not in (RsvpStatus.ACCEPTED, RsvpStatus.TENTATIVE, RsvpStatus.DECLINED):
        raise DomainError(N_("Answer yes, maybe or no."))
    if source not in RSVP_SOURCES:
        raise DomainError(N_("Unknown source of an answer %(source)s."), source=repr(source))
    # One answer at a time per meeting: counting the seats and taking one are one step.
    meeting = session.scalar(select(Meeting).where(Meeting.id == meeting_id).with_for_update())
    if meeting is None:
        raise NotFound(N_("No such meeting."))
    if meeting.state == MeetingState.CANCELLED:
        raise DomainError(N_("This meeting is cancelled."))
    if meeting_end(meeting) <= utcnow():
        raise DomainError(N_("This meeting is over."))
    if membership_of(session, meeting.community_id, person_id).state not in INVITED_STATES:
        raise DomainError(N_("Only the members of the founding group are invited."))
    rsvp = session.scalar(
        select(Rsvp).where(Rsvp.meeting_id == meeting_id, Rsvp.person_id == person_id)
    )
    before = rsvp.status if rsvp else ""
    kept = status
    if (
        status == RsvpStatus.ACCEPTED
        and before not in (RsvpStatus.ACCEPTED,)
        and meeting.capacity is not None
        and _accepted(session, meeting_id) >= meeting.capacity
    ):
        kept = RsvpStatus.WAITLISTED
    if rsvp is None:
        rsvp = Rsvp(meeting_id=meeting_id, person_id=person_id, status=kept)
        session.add(rsvp)
    rsvp.status = kept
    rsvp.source = source
    rsvp.comment = comment[:2000]
    rsvp.updated_at = utcnow()
    session.flush()
    promoted = None
    if before == RsvpStatus.ACCEPTED and kept != RsvpStatus.ACCEPTED:
        promoted = _promote(session, meeting)
        if promoted is not None:
            _tell_promoted(session, meeting, promoted)
    _audit(
        session,
        meeting,
        f"person:{person_id}",
        "meeting.rsvp",
        {"status": kept, "source": source, "promoted": promoted},
    )
    return RsvpOutcome(kept, promoted)


def _promote(session: Session, meeting: Meeting) -> int | None:
    """A seat freed up: the first on the waiting list takes it."""
    if meeting.capacity is not None and _accepted(session, meeting.id) >= meeting.capacity:
        return None
    first = session.scalar(
        select(Rsvp)
        .where(Rsvp.meeting_id == meeting.id, Rsvp.status == RsvpStatus.WAITLISTED)
        .order_by(Rsvp.updated_at, Rsvp.id)
        .limit(1)
    )
    if first is None:
        return None
    first.status = RsvpStatus.ACCEPTED
    first.updated_at = utcnow()
    return first.person_id


SEAT_SUBJECT = N_("A seat freed up: you are expected at “{{ community }}”")
SEAT_MESSAGE = N_(
    "Good news: a seat freed up for the meeting of **{{ community }}**, and it is yours, as you "
    "asked. We are expecting you; if you can no longer come, say so with the link below so that "
    "the seat goes to someone else."
)


def _tell_promoted(session: Session, meeting: Meeting, person_id: int) -> None:
    """The invitation again, to the person who just got a seat, through the outbox (a sweep
    sends it). A community that cannot send (no sender identity) records why."""
    from .campaigns import create_campaign, launch_campaign  # (campaigns import this module)

    content = {
        locale: {
            "subject": translations_for(locale).gettext(SEAT_SUBJECT),
            "message": translations_for(locale).gettext(SEAT_MESSAGE),
        }
        for locale in LOCALES
    }
    try:
        with session.begin_nested():
            campaign_id = create_campaign(
                session,
                meeting.community_id,
                kind=CampaignKind.INVITATION,
                meeting_id=meeting.id,
                audience_filter={"people": [person_id]},
                content=content,
                name=translations_for(_language(session, meeting)).gettext(N_("Seat freed")),
            )
            # A refused launch (nobody to write to) undoes only this savepoint.
            launch_campaign(session, campaign_id, actor="system")
    except DomainError as exc:
        _audit(session, meeting, "system", "meeting.promotion_not_mailed", {"why": str(exc)})


def _language(session: Session, meeting: Meeting) -> str:
    community = session.get(Community, meeting.community_id)
    return community.language if community else "fr"


def check_in(session: Session, meeting_id: int, person_id: int, present: bool) -> None:
    """The facilitator marks who came (or takes it back)."""
    meeting = _meeting(session, meeting_id)
    membership_of(session, meeting.community_id, person_id)
    rsvp = session.scalar(
        select(Rsvp).where(Rsvp.meeting_id == meeting_id, Rsvp.person_id == person_id)
    )
    if rsvp is None:
        rsvp = Rsvp(meeting_id=meeting_id, person_id=person_id, status="", source="web")
        session.add(rsvp)
    rsvp.checked_in_at = utcnow() if present else None


def attendees(session: Session, meeting_id: int) -> set[int]:
    """The people the facilitator checked in."""
    return set(
        session.scalars(
            select(Rsvp.person_id).where(
                Rsvp.meeting_id == meeting_id, Rsvp.checked_in_at.is_not(None)
            )
        )
    )


def calendar_identity(session: Session, meeting: Meeting) -> tuple[str, datetime | None]:
    """The UID and RECURRENCE-ID a calendar knows a meeting by: an occurrence of a series of
    activities goes by the series' UID and the start its rule gave it; a lone meeting by its
    own UID."""
    if meeting.series_id is None or meeting.recurrence_at is None:
        return meeting.uid, None
    series = session.get(ActivitySeries, meeting.series_id)
    if series is None:
        return meeting.uid, None
    return series.uid, meeting.recurrence_at


def calendar_event(
    meeting: Meeting,
    community: Community,
    *,
    organizer_email: str,
    attendees: tuple[ics.Attendee, ...],
    locale: str,
    url: str | None = None,
    identity: tuple[str, datetime | None] | None = None,
) -> ics.CalendarEvent:
    """The meeting as a calendar sees it, its agenda in ``locale``; ``identity`` is its UID and
    RECURRENCE-ID when it is an occurrence of a series (:func:`calendar_identity`)."""
    uid, recurrence_id = identity or (meeting.uid, None)
    return ics.CalendarEvent(
        uid=uid,
        recurrence_id=recurrence_id,
        sequence=meeting.sequence,
        title=activities.occurrence_title(meeting, locale),
        description="\n".join(localised(item, locale) for item in meeting.agenda or []),
        starts_at=meeting.starts_at,
        duration=timedelta(minutes=meeting.duration_minutes),
        timezone=meeting.timezone,
        location=meeting.place,
        organizer=(community.sender_name or community.name, organizer_email),
        attendees=attendees,
        url=url,
    )


PARTSTATS = {
    RsvpStatus.ACCEPTED: "ACCEPTED",
    RsvpStatus.TENTATIVE: "TENTATIVE",
    RsvpStatus.DECLINED: "DECLINED",
    RsvpStatus.WAITLISTED: "TENTATIVE",
}


def current_ics(session: Session, meeting_id: int, *, organizer_email: str) -> bytes:
    """The meeting's .ics as it stands, every invitee with their answer: a request, or a
    cancellation once cancelled."""
    meeting = _meeting(session, meeting_id)
    community = session.get(Community, meeting.community_id)
    assert community is not None
    attendees = tuple(
        ics.Attendee(i.name, i.email, PARTSTATS.get(RsvpStatus(i.status), "NEEDS-ACTION"))
        if i.status
        else ics.Attendee(i.name, i.email)
        for i in invitees(session, meeting_id)
    )
    event = calendar_event(
        meeting,
        community,
        organizer_email=organizer_email,
        attendees=attendees,
        locale=community.language,
        identity=calendar_identity(session, meeting),
    )
    if meeting.state == MeetingState.CANCELLED:
        return ics.cancellation(event)
    return ics.invitation(event)


def meetings_of(session: Session, community_id: int) -> list[Meeting]:
    """The community's meetings, the latest first; the occurrences of its series of activities
    are listed with their series."""
    return list(
        session.scalars(
            select(Meeting)
            .where(Meeting.community_id == community_id, Meeting.series_id.is_(None))
            .order_by(Meeting.starts_at.desc())
        )
    )


def _audit(
    session: Session, meeting: Meeting, actor: str, action: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditLog(
            community_id=meeting.community_id,
            actor=actor,
            action=action,
            details={"meeting": meeting.id, **details},
        )
    )
