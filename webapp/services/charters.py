"""The charter in the making: its sections (the charter questionnaire's questions), its stage,
the members' answers, and the minimum commitments each member confirms.

The six sections every charter answers are fixed (nature, raison d'être, who makes it up,
objectives, domain, governance); the coordinators may add the optional ones Amorce knows (values,
roles, channels, rhythm, joining and leaving) or their own questions, each a further section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forms.questionnaires import localised
from webapp.i18n import translations_for
from webapp.models import (
    AuditLog,
    Campaign,
    Charter,
    CharterConsent,
    CharterStage,
    Community,
    Meeting,
    MeetingState,
    Membership,
    MembershipState,
    Questionnaire,
    QuestionnaireKind,
    Response,
    Statement,
    StatementState,
    StatementVote,
    utcnow,
)

from . import questionnaire_editor
from .errors import N_, DomainError, NotFound
from .memberships import membership_of
from .questionnaires import carried_answers, ensure_questionnaire, store_answers

KIND = QuestionnaireKind.CHARTER.value
# The sections every charter answers, in their order.
CORE_SECTIONS = ("nature", "purpose", "members", "objectives", "domain", "governance")
HEADINGS = {
    "nature": N_("Nature"),
    "purpose": N_("Raison d’être"),
    "members": N_("Who we are"),
    "objectives": N_("Objectives"),
    "domain": N_("Domain of interest and practice"),
    "governance": N_("Governance"),
    "values": N_("Values"),
    "roles": N_("Roles"),
    "channels": N_("Communication channels"),
    "rhythm": N_("Rhythm of activities"),
    "joining": N_("Joining and leaving"),
}
# The optional sections a coordinator adds in one click: the question members answer.
OPTIONAL_SECTIONS: dict[str, dict[str, Any]] = {
    "values": {
        "label": {
            "fr": "Quelles valeurs partageons-nous ?",
            "en": "What values do we share?",
        },
        "help": {
            "fr": "Par exemple : la bienveillance, la confidentialité des échanges, l’ouverture.",
            "en": "For example: kindness, confidential exchanges, openness.",
        },
    },
    "roles": {
        "label": {
            "fr": "Quels rôles faut-il, et qui les tient ?",
            "en": "What roles do we need, and who holds them?",
        },
        "help": {
            "fr": "L’animation, le parrainage par la direction, la logistique, la veille…",
            "en": "Facilitation, sponsorship by management, logistics, monitoring…",
        },
    },
    "channels": {
        "label": {
            "fr": "Par quels canaux communiquons-nous ?",
            "en": "Through which channels do we communicate?",
        },
        "help": {
            "fr": "Courriel, forum, messagerie, espace de documents partagés…",
            "en": "Email, forum, chat, a shared document space…",
        },
    },
    "rhythm": {
        "label": {
            "fr": "À quel rythme nous réunissons-nous, et pour quelles activités ?",
            "en": "How often do we meet, and for which activities?",
        },
    },
    "joining": {
        "label": {
            "fr": "Comment rejoint-on la communauté, et comment la quitte-t-on ?",
            "en": "How does one join the community, and how does one leave it?",
        },
    },
}
# Members of the founding group: they answer, vote and consent.
FOUNDING_GROUP = (MembershipState.SELECTED, MembershipState.MEMBER)
ALREADY_SENT = N_("Your answers are already sent: send them again to change them.")
ANSWERS_CLOSED = N_(
    "The answers are closed: the statements are drawn from them. Vote on them instead."
)


@dataclass(frozen=True)
class Section:
    """One section of the charter: the question members answer and the heading it gets."""

    key: str
    heading: str
    question: str
    core: bool


def charter_of(session: Session, community_id: int) -> Charter:
    """The community's charter in the making, made on first use."""
    found = session.scalar(select(Charter).where(Charter.community_id == community_id))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = Charter(community_id=community_id)
            session.add(found)
    except IntegrityError:  # made at the same moment by another request
        found = session.scalar(select(Charter).where(Charter.community_id == community_id))
        assert found is not None
    return found


def questionnaire(session: Session, community_id: int) -> Questionnaire:
    """The newest version of the charter questionnaire (the shipped one until changed)."""
    return ensure_questionnaire(session, community_id, KIND)


def is_section(question: Mapping[str, Any]) -> bool:
    """Whether a question of the charter questionnaire is a section (answered in words)."""
    return question.get("type") in ("long_text", "short_text")


def heading(key: str, locale: str, question: Mapping[str, Any] | None = None) -> str:
    """A section's heading in ``locale``: the known ones translated, others the question."""
    if key in HEADINGS:
        return translations_for(locale).gettext(HEADINGS[key])
    return localised((question or {}).get("label"), locale) or key


def sections(session: Session, community_id: int, locale: str) -> list[Section]:
    """The charter's sections, in order: the six core ones always, then the others the
    questionnaire asks."""
    questions = {
        str(q["id"]): q
        for q in questionnaire(session, community_id).definition.get("questions", [])
        if is_section(q)
    }
    keys = list(CORE_SECTIONS) + [key for key in questions if key not in CORE_SECTIONS]
    return [
        Section(
            key=key,
            heading=heading(key, locale, questions.get(key)),
            question=localised((questions.get(key) or {}).get("label"), locale),
            core=key in CORE_SECTIONS,
        )
        for key in keys
    ]


def missing_optional(session: Session, community_id: int) -> list[str]:
    """The optional sections Amorce knows that the questionnaire does not ask yet."""
    asked = {str(q["id"]) for q in questionnaire(session, community_id).definition["questions"]}
    return [key for key in OPTIONAL_SECTIONS if key not in asked]


def add_optional_section(session: Session, community_id: int, key: str, *, actor: str) -> None:
    """Ask one more of the optional sections in the charter questionnaire."""
    if key not in OPTIONAL_SECTIONS:
        raise NotFound(N_("No such section."))
    if key not in missing_optional(session, community_id):
        raise DomainError(N_("The questionnaire already asks this section."))
    _check_collecting(session, community_id)
    question = {"id": key, "type": "long_text", "required": False, **OPTIONAL_SECTIONS[key]}
    questionnaire_editor.add_question(session, community_id, KIND, question, actor=actor)


# -- the members' answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answers:
    """A member's answers to the charter questionnaire, as they left them."""

    questionnaire: Questionnaire
    answers: dict[str, Any]
    saved_at: datetime | None
    sent: bool
    editable: bool  # answers are still collected and the person is in the founding group


def answers_of(session: Session, community_id: int, person_id: int) -> Answers:
    """What the member answered, carried to the questionnaire's newest version by question."""
    newest = questionnaire(session, community_id)
    editable = (
        charter_of(session, community_id).stage == CharterStage.COLLECTING
        and membership_of(session, community_id, person_id).state in FOUNDING_GROUP
    )
    carried = carried_answers(session, community_id, newest, person_id)
    return Answers(newest, carried.answers, carried.saved_at, carried.sent, editable)


def _check_collecting(session: Session, community_id: int) -> None:
    if charter_of(session, community_id).stage != CharterStage.COLLECTING:
        raise DomainError(ANSWERS_CLOSED)


def save_answers(
    session: Session,
    community_id: int,
    person_id: int,
    answers: dict[str, Any],
    *,
    complete: bool,
    channel: str = "web",
) -> datetime:
    """Keep the member's answers (``complete`` once sent); returns when. A draft never
    overwrites sent answers: the member sends again to change them."""
    _check_collecting(session, community_id)
    membership = membership_of(session, community_id, person_id)
    if membership.state not in FOUNDING_GROUP:
        raise DomainError(N_("Only the members of the founding group answer the charter."))
    now = store_answers(
        session,
        community_id,
        KIND,
        person_id,
        {"answers": answers, "channel": channel},
        complete=complete,
        already_sent=ALREADY_SENT,
    )
    if complete:
        membership.answered_at = now
        session.add(
            AuditLog(
                community_id=community_id,
                actor=f"person:{person_id}",
                action="charter.answered",
                details={"channel": channel},
            )
        )
    return now


def answered_count(session: Session, community_id: int) -> int:
    """How many members sent their answers."""
    return len(sent_answers(session, community_id))


def sent_answers(session: Session, community_id: int) -> list[tuple[int, dict[str, Any]]]:
    """(person id, answers) of every member of the founding group who sent theirs."""
    rows = session.execute(
        select(Response.person_id, Response.answers)
        .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
        .join(
            Membership,
            (Membership.person_id == Response.person_id)
            & (Membership.community_id == Questionnaire.community_id),
        )
        .where(
            Questionnaire.community_id == community_id,
            Questionnaire.kind == KIND,
            Response.complete.is_(True),
            Membership.state.in_(FOUNDING_GROUP),
        )
        .order_by(Response.person_id)
    )
    return [(person_id, dict(answers or {})) for person_id, answers in rows]


# -- the minimum commitments ---------------------------------------------------------------------


def confirm_commitments(session: Session, community_id: int, person_id: int) -> bool:
    """The member accepts the minimum commitments; a selected person becomes a member by it.
    False when they had already confirmed."""
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(N_("No such community."))
    if not community.commitment.strip():
        raise DomainError(N_("The coordinators have not written the commitments yet."))
    membership = membership_of(session, community_id, person_id)
    if membership.state not in FOUNDING_GROUP:
        raise DomainError(N_("Only the members of the founding group confirm the commitments."))
    if membership.commitments_confirmed_at is not None:
        return False
    now = utcnow()
    membership.commitments_confirmed_at = now
    before = membership.state
    membership.state = MembershipState.MEMBER
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="commitments.confirmed",
            details={"commitments": community.commitment, "before": before},
        )
    )
    return True


def commitment_lines(community: Community) -> list[str]:
    """The commitments, one per line as the coordinators wrote them (list marks dropped)."""
    lines = []
    for line in community.commitment.splitlines():
        text = line.strip().lstrip("-*•").strip()
        if text:
            lines.append(text)
    return lines


def confirmed_count(session: Session, community_id: int) -> int:
    """How many members of the founding group confirmed the commitments."""
    return len(
        session.scalars(
            select(Membership.id).where(
                Membership.community_id == community_id,
                Membership.state.in_(FOUNDING_GROUP),
                Membership.commitments_confirmed_at.is_not(None),
            )
        ).all()
    )


# -- reminders -----------------------------------------------------------------------------------


def reminder_refusals(
    session: Session, campaign: Campaign, person_ids: set[int]
) -> tuple[set[int], bool]:
    """Of these recipients of a charter reminder, those who already did what it asks, and
    whether the stage it asks about is over (then none goes)."""
    charter = charter_of(session, campaign.community_id)
    if campaign.charter_stage and charter.stage != campaign.charter_stage:
        return set(), True
    community_id = campaign.community_id
    if charter.stage == CharterStage.COLLECTING:
        done = {person_id for person_id, _ in sent_answers(session, community_id)}
    elif charter.stage == CharterStage.VOTING:
        active = select(Statement.id).where(
            Statement.community_id == community_id, Statement.state == StatementState.ACTIVE
        )
        total = session.scalar(select(func.count()).select_from(active.subquery())) or 0
        done = set(
            session.scalars(
                select(StatementVote.person_id)
                .where(StatementVote.statement_id.in_(active))
                .group_by(StatementVote.person_id)
                .having(func.count() >= total)
            )
        )
    elif charter.stage == CharterStage.CONSENT:
        done = set(
            session.scalars(
                select(CharterConsent.person_id).where(
                    CharterConsent.community_id == community_id,
                    CharterConsent.round == charter.consent_round,
                )
            )
        )
    else:
        done = set()
    return done & person_ids, False


# -- what the coordinators' pages count ----------------------------------------------------------


def founding_group_size(session: Session, community_id: int) -> int:
    """How many people the charter asks: the selected and the members."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.community_id == community_id, Membership.state.in_(FOUNDING_GROUP))
        )
        or 0
    )


def answers_per_section(answered: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
    """How many of these sent answers say something in each section."""
    counts: dict[str, int] = {}
    for _person, answers in answered:
        for key, value in answers.items():
            if str(value or "").strip():
                counts[key] = counts.get(key, 0) + 1
    return counts


# -- the follow-up of the founding meeting -------------------------------------------------------


def follow_up_refusal(meeting: Meeting, now: datetime | None = None) -> str | None:
    """Why a meeting cannot be followed up yet (a message id), or None."""
    if meeting.state == MeetingState.CANCELLED:
        return N_("This meeting is cancelled: there is nothing to follow up.")
    if meeting.starts_at > (now or utcnow()):
        return N_("The follow-up goes once the meeting has taken place.")
    return None


def set_commitments(
    session: Session, community_id: int, text: str, *, meeting_id: int, actor: str
) -> None:
    """The minimum commitments agreed at a meeting become the community's."""
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(N_("No such community."))
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.community_id != community_id:
        raise NotFound(N_("No such meeting in this community."))
    refusal = follow_up_refusal(meeting)
    if refusal:
        raise DomainError(refusal)
    clean = text.strip()
    if clean == community.commitment:
        return
    community.commitment = clean
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action="community.commitments_changed",
            details={"meeting": meeting_id},
        )
    )
