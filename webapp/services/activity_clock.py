"""The series' clock and what it tells the members: each occurrence's invitation when it is near,
the invitation again when one moves or is cancelled after it went, and after each activity the
feedback survey to those who came, the summary prompt to the facilitator and the call for next
topics to the others. The beat runs :func:`tick`; the campaigns' sweep sends what it launched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.i18n import LOCALES, translations_for
from webapp.models import (
    ActivityFormat,
    ActivitySeries,
    ActivityStep,
    AuditLog,
    Campaign,
    CampaignKind,
    Community,
    Meeting,
    MeetingState,
    Membership,
    MembershipState,
    Person,
    SeriesState,
    utcnow,
)

from . import meetings
from .activity_series import (
    audit_occurrence,
    came,
    extend,
    type_label,
)
from .campaigns import create_campaign, launch_campaign
from .errors import N_, DomainError

# The feedback survey goes this long after the end of an activity, and not for activities
# older than a week (a series created late does not survey its past).
FEEDBACK_DELAY = timedelta(hours=1)
FEEDBACK_WINDOW = timedelta(days=7)


# -- messages ------------------------------------------------------------------------------------

INVITATION_SUBJECT = N_("{{ community }}: %(type)s, %(title)s")
INVITATION_LEAD = N_("The next activity of **{{ community }}**: %(type)s.")
INVITATION_TOPIC = N_("The topic: %(topic)s.")
INVITATION_FACILITATOR = N_("%(name)s facilitates it.")
INVITATION_FORMAT = {
    ActivityFormat.IN_PERSON: N_("It is held in person."),
    ActivityFormat.ONLINE: N_("It is held online."),
    ActivityFormat.HYBRID: N_("Come in person or join online."),
}


def occurrence_content(session: Session, meeting: Meeting) -> dict[str, dict[str, str]]:
    """An occurrence's invitation, per language: its type, topic, facilitator and format."""
    series = session.get_one(ActivitySeries, meeting.series_id)
    facilitator = session.get(Person, meeting.facilitator_id) if meeting.facilitator_id else None
    content = {}
    for locale in LOCALES:
        gettext = translations_for(locale).gettext
        kind = type_label(meeting.activity_type, locale) if meeting.activity_type else ""
        kind = kind or gettext("Activity")
        lines = [gettext(INVITATION_LEAD) % {"type": kind}]
        if meeting.topic:
            lines.append(gettext(INVITATION_TOPIC) % {"topic": _plain(meeting.topic)})
        if facilitator is not None:
            name = _plain(facilitator.display_name)
            lines.append(gettext(INVITATION_FACILITATOR) % {"name": name})
        lines.append(gettext(INVITATION_FORMAT[ActivityFormat(series.format)]))
        content[locale] = {
            "subject": gettext(INVITATION_SUBJECT)
            % {"type": kind, "title": _plain(meeting.topic or series.title)},
            "message": " ".join(lines),
        }
    return content


def _plain(text: str) -> str:
    """A member's words inside a message: no placeholder or Markdown link of theirs is read."""
    return text.replace("{{", "{ {").replace("}}", "} }").replace("{%", "{ %").replace("%}", "% }")


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


def tick(session: Session, *, now: datetime | None = None) -> Tick:
    """Generate the coming occurrences, invite to those whose invitation is due, follow up the
    ones that just ended. Idempotent: a second turn at the same moment does nothing."""
    now = now or utcnow()
    done = Tick()
    for series_id in session.scalars(
        select(ActivitySeries.id).where(ActivitySeries.state == SeriesState.ACTIVE)
    ).all():
        done.generated += extend(session, series_id, now=now)
    rows = session.execute(
        select(Meeting, ActivitySeries.invite_days)
        .join(ActivitySeries, ActivitySeries.id == Meeting.series_id)
        .where(Meeting.state == MeetingState.SCHEDULED, Meeting.starts_at > now)
    ).all()
    for meeting, invite_days in rows:
        if meeting.starts_at - timedelta(days=invite_days) > now:
            continue
        if _invited(session, meeting.id) or _invitation_refused(session, meeting.id):
            continue
        if _send(session, meeting, None, None, done):
            done.invited += 1
    ended = session.scalars(
        select(Meeting).where(
            Meeting.series_id.is_not(None),
            Meeting.state == MeetingState.SCHEDULED,
            Meeting.followed_up_at.is_(None),
            Meeting.starts_at > now - FEEDBACK_WINDOW,
        )
    ).all()
    for meeting in ended:
        if meetings.meeting_end(meeting) + FEEDBACK_DELAY > now:
            continue
        follow_up(session, meeting, done)
        meeting.followed_up_at = now
        done.followed_up += 1
    return done


def _invitation_refused(session: Session, meeting_id: int) -> bool:
    """An invitation the clock already tried and could not launch (nobody to invite, no sender
    identity): it is not tried again at every turn."""
    return (
        session.scalar(
            select(AuditLog.id)
            .where(
                AuditLog.action == "activity.invitation_not_mailed",
                AuditLog.details["meeting"].as_integer() == meeting_id,
            )
            .limit(1)
        )
        is not None
    )


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
    except DomainError as exc:
        why = {"why": str(exc)}
        audit_occurrence(session, meeting, "system", f"activity.{what}_not_mailed", why)
        done.not_mailed.append(f"{meeting.id}:{what}")
        return False
    return True
