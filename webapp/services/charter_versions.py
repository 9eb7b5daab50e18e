"""The consent round on the whole charter, its adoption, and every adopted version: frozen, with
its diff to the previous one, a review date and the reminder that comes with it, and its exports
(Markdown with one ``##`` per section, a standalone HTML page, a PDF)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.i18n import LOCALES, translations_for
from webapp.mail import markdown_to_html
from webapp.models import (
    AuditLog,
    CampaignKind,
    CharterConsent,
    CharterStage,
    CharterVersion,
    Community,
    ConsentAnswer,
    MembershipState,
    Person,
    utcnow,
)

from . import amendments, campaigns, charter_draft, pdf
from .charters import FOUNDING_GROUP, charter_of
from .errors import N_, DomainError, NotFound
from .memberships import membership_of

MAX_REASON = 2000
REVIEW_SUBJECT = N_("Time to review the charter of “{{ community }}”")
REVIEW_MESSAGE = N_(
    "The charter of **{{ community }}** was adopted with a review date: today. Read it again "
    "and tell the coordinators what should change: the community has moved on since."
)


def _audit(session: Session, community_id: int, actor: str, action: str, **details: Any) -> None:
    session.add(
        AuditLog(
            community_id=community_id, actor=actor, action=f"charter.{action}", details=details
        )
    )


# -- the consent round ---------------------------------------------------------------------------


def open_consent(session: Session, community_id: int, *, actor: str) -> int:
    """From amending to the consent round on the whole charter; the round's number."""
    charter = charter_of(session, community_id)
    session.refresh(charter, with_for_update=True)
    if charter.stage != CharterStage.AMENDING:
        raise DomainError(N_("The consent round opens once the draft is out for amendments."))
    if amendments.open_count(session, community_id):
        raise DomainError(N_("Decide the open amendments first: accept or reject each one."))
    charter.stage = CharterStage.CONSENT
    charter.consent_round += 1
    _audit(session, community_id, actor, "consent_opened", round=charter.consent_round)
    return charter.consent_round


def reopen_amendments(session: Session, community_id: int, *, actor: str) -> None:
    """Back to amending, to meet an objection; the next consent round starts afresh."""
    charter = charter_of(session, community_id)
    if charter.stage != CharterStage.CONSENT:
        raise DomainError(N_("There is no consent round to leave."))
    charter.stage = CharterStage.AMENDING
    _audit(session, community_id, actor, "amendments_reopened", round=charter.consent_round)


def answer(
    session: Session, community_id: int, person_id: int, choice: str, reason: str = ""
) -> None:
    """A member consents to the charter, or objects with a reason (a later answer replaces)."""
    charter = charter_of(session, community_id)
    if charter.stage != CharterStage.CONSENT:
        raise DomainError(N_("There is no consent round open."))
    if membership_of(session, community_id, person_id).state not in FOUNDING_GROUP:
        raise DomainError(N_("Only the members of the founding group consent to the charter."))
    if choice not in {c.value for c in ConsentAnswer}:
        raise DomainError(N_("Consent or object."))
    clean = reason.strip()
    if choice == ConsentAnswer.OBJECT and not clean:
        raise DomainError(N_("Say why you object: the coordinators need it to change the text."))
    if len(clean) > MAX_REASON:
        raise DomainError(N_("The reason is at most %(count)d characters."), count=MAX_REASON)
    found = session.scalar(
        select(CharterConsent).where(
            CharterConsent.community_id == community_id,
            CharterConsent.round == charter.consent_round,
            CharterConsent.person_id == person_id,
        )
    )
    if found is None:
        found = CharterConsent(
            community_id=community_id, round=charter.consent_round, person_id=person_id, answer=""
        )
        session.add(found)
    found.answer, found.reason, found.updated_at = choice, clean, utcnow()
    membership_of(session, community_id, person_id).answered_at = utcnow()


@dataclass(frozen=True)
class ConsentState:
    """Where the consent round stands."""

    consents: int
    objections: list[tuple[str, str]]  # (name, reason)
    answers: dict[int, str]  # person id → consent | object

    def mine(self, person_id: int) -> str:
        """A member's answer in this round, or empty."""
        return self.answers.get(person_id, "")


def consent_state(session: Session, community_id: int) -> ConsentState:
    """The answers of the current round."""
    charter = charter_of(session, community_id)
    rows = session.execute(
        select(CharterConsent.person_id, CharterConsent.answer, CharterConsent.reason, Person)
        .join(Person, Person.id == CharterConsent.person_id)
        .where(
            CharterConsent.community_id == community_id,
            CharterConsent.round == charter.consent_round,
        )
        .order_by(CharterConsent.updated_at)
    ).all()
    return ConsentState(
        consents=sum(1 for row in rows if row[1] == ConsentAnswer.CONSENT),
        objections=[
            (row[3].display_name, row[2]) for row in rows if row[1] == ConsentAnswer.OBJECT
        ],
        answers={row[0]: row[1] for row in rows},
    )


# -- adoption and versions -----------------------------------------------------------------------


def adopt(session: Session, community_id: int, review_on: date, *, actor: str) -> int:
    """Adopt the charter once no objection remains: it is frozen as the next version, with its
    review date and the reminder that comes with it. Returns the version's number."""
    charter = charter_of(session, community_id)
    session.refresh(charter, with_for_update=True)
    if charter.stage != CharterStage.CONSENT:
        raise DomainError(N_("The charter is adopted at the end of a consent round."))
    state = consent_state(session, community_id)
    if state.objections:
        raise DomainError(
            N_("Objections remain (%(count)d): meet them before adopting."),
            count=len(state.objections),
        )
    if not state.consents:
        raise DomainError(N_("Nobody has consented yet."))
    community = session.get(Community, community_id)
    assert community is not None
    if review_on <= datetime.now(ZoneInfo(community.timezone)).date():
        raise DomainError(N_("The review date must be in the future."))
    sections = [
        {"key": s.key, "heading": s.heading, "text": s.text.strip()}
        for s in charter_draft.draft(session, community_id)
    ]
    number = (
        session.scalar(
            select(func.max(CharterVersion.number)).where(
                CharterVersion.community_id == community_id
            )
        )
        or 0
    ) + 1
    session.add(
        CharterVersion(
            community_id=community_id,
            number=number,
            language=community.language,
            sections=sections,
            review_on=review_on,
        )
    )
    charter.stage = CharterStage.ADOPTED
    charter.review_on = review_on
    _audit(session, community_id, actor, "adopted", version=number, review_on=str(review_on))
    _schedule_review(session, community, review_on, actor=actor)
    return number


def _schedule_review(
    session: Session, community: Community, review_on: date, *, actor: str
) -> None:
    """The members hear of the review on its day, at 9:00 in the community's time zone."""
    content = {
        locale: {
            "subject": translations_for(locale).gettext(REVIEW_SUBJECT),
            "message": translations_for(locale).gettext(REVIEW_MESSAGE),
        }
        for locale in LOCALES
    }
    moment = datetime.combine(review_on, time(9), ZoneInfo(community.timezone)).astimezone(UTC)
    campaign_id = campaigns.create_campaign(
        session,
        community.id,
        kind=CampaignKind.ANNOUNCEMENT,
        audience_state=MembershipState.MEMBER,
        content=content,
        name=translations_for(community.language).gettext(N_("Charter review")),
        policy=campaigns.SendingPolicy(scheduled_at=moment),
    )
    try:
        campaigns.launch_campaign(session, campaign_id, actor=actor)
    except DomainError as exc:  # nobody to write to yet: the coordinators see it in the log
        _audit(session, community.id, actor, "review_not_scheduled", why=exc.message)


def revise(session: Session, community_id: int, *, actor: str) -> None:
    """Open the adopted charter for amendments again, from its latest version's text."""
    charter = charter_of(session, community_id)
    if charter.stage != CharterStage.ADOPTED:
        raise DomainError(N_("Only an adopted charter is revised."))
    latest = version(session, community_id)
    charter.texts = {s["key"]: s["text"] for s in latest.sections}
    charter.stage = CharterStage.AMENDING
    _audit(session, community_id, actor, "revision_opened", version=latest.number)


def versions(session: Session, community_id: int) -> list[CharterVersion]:
    """Every adopted version, newest first."""
    return list(
        session.scalars(
            select(CharterVersion)
            .where(CharterVersion.community_id == community_id)
            .order_by(CharterVersion.number.desc())
        )
    )


def version(session: Session, community_id: int, number: int | None = None) -> CharterVersion:
    """One adopted version (the latest when ``number`` is None)."""
    query = select(CharterVersion).where(CharterVersion.community_id == community_id)
    if number is not None:
        query = query.where(CharterVersion.number == number)
    found = session.scalar(query.order_by(CharterVersion.number.desc()).limit(1))
    if found is None:
        if number is not None:
            raise NotFound(N_("The charter has no version %(number)d."), number=number)
        raise NotFound(N_("The charter is not adopted yet."))
    return found


def diff_to_previous(session: Session, current: CharterVersion) -> list[tuple[str, Markup]]:
    """Per section of ``current``, its change since the previous version (empty when none)."""
    previous = session.scalar(
        select(CharterVersion).where(
            CharterVersion.community_id == current.community_id,
            CharterVersion.number == current.number - 1,
        )
    )
    before = {s["key"]: s["text"] for s in previous.sections} if previous else {}
    return [
        (s["heading"], amendments.diff_html(before.get(s["key"], ""), s["text"]))
        for s in current.sections
        if before.get(s["key"], "") != s["text"]
    ]


# -- exports -------------------------------------------------------------------------------------


def markdown(community: Community, found: CharterVersion) -> str:
    """The version as Markdown: its title, then one ``##`` heading per section."""
    parts = [f"# {charter_draft.title(community)}"]
    for section in found.sections:
        parts.append(f"## {charter_draft.md(section['heading'])}")
        parts.append(section["text"])
    return "\n\n".join(parts) + "\n"


def footer(community: Community, found: CharterVersion) -> str:
    """ "Version 2 · adopted on 3 March 2027", in the charter's language."""
    gettext = translations_for(found.language).gettext
    adopted = found.adopted_at.astimezone(ZoneInfo(community.timezone)).date()
    day = format_date(adopted, "long", locale=found.language)
    return gettext("Version %(number)d · adopted on %(day)s") % {"number": found.number, "day": day}


def html_document(community: Community, found: CharterVersion) -> str:
    """The version as a standalone HTML page, sanitised."""
    body = markdown_to_html(markdown(community, found))
    title = escape(charter_draft.title(community, escaped=False))
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(found.language)}">\n<head>\n'
        f'<meta charset="utf-8">\n<title>{title}</title>\n'
        "<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.5}h2{margin-top:2rem}</style>\n</head>\n<body>\n"
        f"{body}\n<p><small>{escape(footer(community, found))}</small></p>\n</body>\n</html>\n"
    )


def pdf_document(community: Community, found: CharterVersion) -> bytes:
    """The version as a PDF."""
    return pdf.markdown_to_pdf(
        markdown(community, found),
        title=charter_draft.title(community, escaped=False),
        language=found.language,
        footer=footer(community, found),
    )


def export(session: Session, community: Community, fmt: str, number: int | None = None) -> bytes:
    """The adopted charter (a version, or the latest) as ``md``, ``html`` or ``pdf``."""
    found = version(session, community.id, number)
    if fmt == "md":
        return markdown(community, found).encode()
    if fmt == "html":
        return html_document(community, found).encode()
    if fmt == "pdf":
        return pdf_document(community, found)
    raise DomainError(N_("Unknown format %(format)s: use md, html or pdf."), format=fmt)
