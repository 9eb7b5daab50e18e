"""The series' clock and what it tells the members: each occurrence's invitation when it is near,
the invitation again when one moves or is cancelled after it went, and after each activity the
feedback survey to those who came, the summary prompt to the facilitator and the call for next
topics to the others. The beat runs :func:`tick`; the campaigns' sweep sends what it launched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from webapp.i18n import LOCALES, translations_for
from webapp.models import (
    ActivityFormat,
    ActivitySeries,
    ActivityStep,
    Campaign,
    CampaignKind,
    Community,
    Meeting,
    MeetingState,
    Membership,
    MembershipState,
    SeriesState,
    utcnow,
)

from . import meetings
from .activities import type_label
from .activity_series import audit_occurrence, came, extend
from .campaigns import create_campaign, launch_campaign
from .errors import N_, DomainError

# The feedback survey goes this long after the end of an activity, and not for activities
# older than a week (a series created late does not survey its past).
FEEDBACK_DELAY = timedelta(hours=1)
FEEDBACK_WINDOW = timedelta(days=7)
# An invitation the clock could not send is tried again this much later.
REFUSAL_RETRY = timedelta(hours=6)


# -- messages ------------------------------------------------------------------------------------

INVITATION_SUBJECT = N_("{{ community }}: %(type)s")
INVITATION_LEAD = N_("The next activity of **{{ community }}**: %(type)s.")
INVITATION_FORMAT = {
    ActivityFormat.IN_PERSON: N_("It is held in person."),
    ActivityFormat.ONLINE: N_("It is held online."),
    ActivityFormat.HYBRID: N_("Come in person or join online."),
}


def occurrence_content(session: Session, meeting: Meeting) -> dict[str, dict[str, str]]:
    """An occurrence's invitation, per language: its type and format. Its topic and
    facilitator, which members may have typed, are not written into this text (read as
    Markdown and placeholders): the email shows them from the occurrence when it is sent, so
    a reminder also tells a topic set after the invitation."""
    series = session.get_one(ActivitySeries, meeting.series_id)
    content = {}
    for locale in LOCALES:
        gettext = translations_for(locale).gettext
        kind = type_label(meeting.activity_type, locale) if meeting.activity_type else ""
        kind = kind or gettext("Activity")
        lead = gettext(INVITATION_LEAD) % {"type": kind}
        content[locale] = {
            "subject": gettext(INVITATION_SUBJECT) % {"type": kind},
            "message": f"{lead} {gettext(INVITATION_FORMAT[ActivityFormat(series.format)])}",
        }
    return content


def _name(session: Session, meeting: Meeting, what: str) -> str:
    community = session.get(Community, meeting.community_id)
    locale = community.language if community else "fr"
    day = meeting.starts_at.astimezone(ZoneInfo(meeting.timezone)).date().isoformat()
    return f"{translations_for(locale).gettext(what)} {day}"


def tell_invitees(session: Session, meeting: Meeting, actor: str) -> None:
    """The occurrence changed after its invitation went: the invitation again (an update or a
    cancellation, with its .ics), to the same people."""
    if _invited(session, meeting.id):
        _send(session, meeting, None, None, Tick(), what="update", actor=actor)


def _invited(session: Session, meeting_id: int) -> bool:
    return (
        session.scalar(
            select(Campaign.id)
            .where(
                Campaign.meeting_id == meeting_id,
                Campaign.kind == CampaignKind.INVITATION,
                Campaign.launched_at.is_not(None),
            )
            .limit(1)
        )
        is not None
    )


# -- the clock -----------------------------------------------------------------------------------


@dataclass
class Tick:
    """What one turn of the clock did."""

    generated: int = 0
    invited: int = 0
    followed_up: int = 0
    not_mailed: list[str] = field(default_factory=list)
    launched: list[int] = field(default_factory=list)  # campaigns to queue once committed


def series_to_tick(session: Session) -> list[int]:
    """The series a turn of the clock goes through, one transaction each (see :func:`tick`)."""
    return list(session.scalars(select(ActivitySeries.id).order_by(ActivitySeries.id)))


def tick(session: Session, *, now: datetime | None = None, series_id: int | None = None) -> Tick:
    """Generate the coming occurrences, invite to those whose invitation is due, follow up the
    ones that just ended: of one series, or of all. Idempotent: a second turn at the same
    moment does nothing. The worker turns each series in its own transaction, so a community
    never waits for another's, nor loses its turn to another's error.

    Two turns at once (a slow one overlapping the next) take turns, and so do a turn and a
    coordinator's change to a series (:func:`activity_series.lock`): the first locks the
    series until it commits, and the second then sees what the first did (on SQLite, whose
    writers are one at a time, the second fails and the next turn does its work). An
    invitation that cannot go (nobody to invite, no sender identity) is tried again
    :data:`REFUSAL_RETRY` later. Only an activity whose invitation went is followed up."""
    now = now or utcnow()
    done = Tick()
    which = ActivitySeries.id == series_id if series_id is not None else true()
    series = session.execute(
        select(ActivitySeries.id, ActivitySeries.state)
        .where(which)
        .order_by(ActivitySeries.id)
        .with_for_update(key_share=True)
    ).all()
    for found, state in series:
        if state == SeriesState.ACTIVE:
            done.generated += extend(session, found, now=now)
    rows = session.execute(
        select(Meeting, ActivitySeries.invite_days)
        .join(ActivitySeries, ActivitySeries.id == Meeting.series_id)
        .where(which, Meeting.state == MeetingState.SCHEDULED, Meeting.starts_at > now)
    ).all()
    for meeting, invite_days in rows:
        if meeting.starts_at - timedelta(days=invite_days) > now:
            continue
        refused = meeting.mail_refused_at
        if _invited(session, meeting.id) or (refused and refused + REFUSAL_RETRY > now):
            continue
        if _send(session, meeting, None, None, done):
            meeting.mail_refused_at = None
            done.invited += 1
        else:
            meeting.mail_refused_at = now
    ended = session.scalars(
        select(Meeting)
        .join(ActivitySeries, ActivitySeries.id == Meeting.series_id)
        .where(
            which,
            Meeting.state == MeetingState.SCHEDULED,
            Meeting.followed_up_at.is_(None),
            Meeting.starts_at > now - FEEDBACK_WINDOW,
            Meeting.starts_at <= now,
        )
    ).all()
    for meeting in ended:
        if meetings.meeting_end(meeting) + FEEDBACK_DELAY > now:
            continue
        if _invited(session, meeting.id):
            follow_up(session, meeting, done)
            done.followed_up += 1
        meeting.followed_up_at = now
    return done


def follow_up(session: Session, meeting: Meeting, done: Tick | None = None) -> None:
    """After an activity: the feedback survey to those who came, the summary prompt to the
    facilitator, the call for next topics to the other members."""
    done = done or Tick()
    attended = came(session, meeting)
    members = set(
        session.scalars(
            select(Membership.person_id).where(
                Membership.community_id == meeting.community_id,
                Membership.state == MembershipState.MEMBER,
            )
        )
    )
    if attended:
        _send(session, meeting, ActivityStep.FEEDBACK, attended, done)
    if meeting.facilitator_id is not None:
        _send(session, meeting, ActivityStep.SUMMARY, [meeting.facilitator_id], done)
    others = sorted(members - set(attended) - {meeting.facilitator_id})
    if others:
        _send(session, meeting, ActivityStep.TOPICS, others, done)


STEP_NAMES = {
    "invitation": N_("Invitation"),
    "update": N_("Activity update"),
    ActivityStep.FEEDBACK: N_("Feedback"),
    ActivityStep.SUMMARY: N_("Summary"),
    ActivityStep.TOPICS: N_("Next topics"),
}


def _send(
    session: Session,
    meeting: Meeting,
    step: str | None,
    people: list[int] | None,
    done: Tick,
    *,
    what: str = "invitation",
    actor: str = "system",
) -> bool:
    """Create and launch one campaign about the occurrence: its invitation (``step`` None:
    the first one, or an ``update``) or a follow-up to ``people``. A refusal (nobody to write
    to, no sender identity) is recorded and undoes only this campaign."""
    what = str(step or what)
    try:
        with session.begin_nested():
            campaign_id = create_campaign(
                session,
                meeting.community_id,
                kind=CampaignKind.INVITATION if step is None else CampaignKind.ACTIVITY,
                meeting_id=meeting.id,
                activity_step=step,
                audience_filter={"people": people} if people is not None else None,
                content=occurrence_content(session, meeting) if step is None else None,
                name=_name(session, meeting, STEP_NAMES[what]),
            )
            launch_campaign(session, campaign_id, actor=actor)
        done.launched.append(campaign_id)
    except DomainError as exc:
        why = {"why": str(exc)}
        audit_occurrence(session, meeting, "system", f"activity.{what}_not_mailed", why)
        done.not_mailed.append(f"{meeting.id}:{what}")
        return False
    return True
