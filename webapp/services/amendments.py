"""Amendments to the draft charter: a member (or a coordinator) proposes a new text for one
section, with a reason; members accept or reject it; the coordinators apply it or set it aside.

An amendment keeps the section's text it was written against: once another amendment changed
the section, it no longer applies as is, and its author proposes it again on the new text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import (
    Amendment,
    AmendmentState,
    AmendmentVote,
    AuditLog,
    CharterStage,
    Person,
    utcnow,
)

from . import charter_draft
from .charters import FOUNDING_GROUP, charter_of
from .errors import N_, DomainError, NotFound
from .memberships import membership_of

MAX_REASON = 2000
_TOKENS = re.compile(r"\s+|[^\s]+")


def diff_html(before: str, after: str) -> Markup:
    """The change word by word: removed words in ``<del>``, added ones in ``<ins>``, all text
    escaped."""
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    parts: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(old[i1:i2]))}</del>")
        if tag in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(new[j1:j2]))}</ins>")
        if tag == "equal":
            parts.append(str(escape("".join(old[i1:i2]))))
    return Markup("".join(parts))  # noqa: S704 - every piece escaped above


def current_text(session: Session, community_id: int, section: str) -> str:
    """The section's text in the draft as it stands."""
    for found in charter_draft.draft(session, community_id):
        if found.key == section:
            return found.text
    raise NotFound(N_("No such section."))


def _audit(session: Session, community_id: int, actor: str, action: str, **details: Any) -> None:
    session.add(
        AuditLog(
            community_id=community_id, actor=actor, action=f"amendment.{action}", details=details
        )
    )


def _amending(session: Session, community_id: int) -> None:
    if charter_of(session, community_id).stage != CharterStage.AMENDING:
        raise DomainError(N_("Amendments are closed: the charter is not open for changes."))


def _amendment(session: Session, community_id: int, amendment_id: int) -> Amendment:
    found = session.get(Amendment, amendment_id)
    if found is None or found.community_id != community_id:
        raise NotFound(N_("No such amendment."))
    return found


def propose(
    session: Session,
    community_id: int,
    section: str,
    after: str,
    reason: str,
    *,
    person_id: int | None,
    actor: str,
) -> int:
    """A new text for one section of the draft; the amendment's id."""
    _amending(session, community_id)
    if person_id is not None and (
        membership_of(session, community_id, person_id).state not in FOUNDING_GROUP
    ):
        raise DomainError(N_("Only the members of the founding group amend the charter."))
    before = current_text(session, community_id, section).strip()
    clean = after.replace("\r\n", "\n").strip()
    if not clean:
        raise DomainError(N_("Write the section as you would have it."))
    if len(clean) > charter_draft.MAX_SECTION:
        raise DomainError(
            N_("A section is at most %(count)d characters."), count=charter_draft.MAX_SECTION
        )
    if clean == before:
        raise DomainError(N_("This is the section's text as it stands: change something."))
    if len(reason) > MAX_REASON:
        raise DomainError(N_("The reason is at most %(count)d characters."), count=MAX_REASON)
    amendment = Amendment(
        community_id=community_id,
        section=section,
        person_id=person_id,
        before=before,
        after=clean,
        reason=reason.strip(),
    )
    session.add(amendment)
    session.flush()
    _audit(session, community_id, actor, "proposed", amendment=amendment.id, section=section)
    return amendment.id


def vote(
    session: Session, community_id: int, amendment_id: int, person_id: int, accept: bool
) -> None:
    """A member accepts or rejects an open amendment (a later answer replaces the earlier)."""
    _amending(session, community_id)
    amendment = _amendment(session, community_id, amendment_id)
    if amendment.state != AmendmentState.OPEN:
        raise DomainError(N_("This amendment is already decided."))
    if membership_of(session, community_id, person_id).state not in FOUNDING_GROUP:
        raise DomainError(N_("Only the members of the founding group amend the charter."))
    found = session.scalar(
        select(AmendmentVote).where(
            AmendmentVote.amendment_id == amendment_id, AmendmentVote.person_id == person_id
        )
    )
    if found is None:
        found = AmendmentVote(amendment_id=amendment_id, person_id=person_id, accept=accept)
        session.add(found)
    found.accept, found.updated_at = accept, utcnow()


def withdraw(session: Session, community_id: int, amendment_id: int, person_id: int) -> None:
    """Its author takes an open amendment back."""
    amendment = _amendment(session, community_id, amendment_id)
    if amendment.person_id != person_id:
        raise DomainError(N_("Only its author can withdraw an amendment."))
    if amendment.state != AmendmentState.OPEN:
        raise DomainError(N_("This amendment is already decided."))
    amendment.state, amendment.decided_at = AmendmentState.WITHDRAWN, utcnow()
    _audit(session, community_id, f"person:{person_id}", "withdrawn", amendment=amendment_id)


def decide(
    session: Session, community_id: int, amendment_id: int, accept: bool, *, actor: str
) -> None:
    """The coordinators apply an amendment to the draft, or set it aside."""
    _amending(session, community_id)
    amendment = _amendment(session, community_id, amendment_id)
    session.refresh(amendment, with_for_update=True)
    if amendment.state != AmendmentState.OPEN:
        raise DomainError(N_("This amendment is already decided."))
    if accept:
        if current_text(session, community_id, amendment.section).strip() != amendment.before:
            raise DomainError(
                N_(
                    "The section changed since this amendment was written: it no longer "
                    "applies as is. Its author can propose it again on the new text."
                )
            )
        charter_draft.set_text(
            session, community_id, amendment.section, amendment.after, actor=actor
        )
    amendment.state = AmendmentState.ACCEPTED if accept else AmendmentState.REJECTED
    amendment.decided_at = utcnow()
    _audit(
        session,
        community_id,
        actor,
        "accepted" if accept else "rejected",
        amendment=amendment_id,
        section=amendment.section,
    )


@dataclass(frozen=True)
class AmendmentView:
    """An amendment as a page shows it."""

    amendment: Amendment
    author: str  # the member's name, or empty for the coordinators
    accepts: int
    rejects: int
    mine: bool | None  # the reader's own answer, if any
    diff: Markup
    stale: bool  # the section changed since it was written


def amendments_of(
    session: Session, community_id: int, *, reader: int | None = None, open_only: bool = False
) -> list[AmendmentView]:
    """The amendments, newest first, with their votes and their change."""
    query = select(Amendment).where(Amendment.community_id == community_id)
    if open_only:
        query = query.where(Amendment.state == AmendmentState.OPEN)
    found = list(session.scalars(query.order_by(Amendment.id.desc())))
    ids = [a.id for a in found]
    counts: dict[tuple[int, bool], int] = {
        (amendment_id, accept): count
        for amendment_id, accept, count in session.execute(
            select(AmendmentVote.amendment_id, AmendmentVote.accept, func.count())
            .where(AmendmentVote.amendment_id.in_(ids))
            .group_by(AmendmentVote.amendment_id, AmendmentVote.accept)
        )
    }
    mine: dict[int, bool] = {}
    if reader is not None:
        mine = dict(
            session.execute(
                select(AmendmentVote.amendment_id, AmendmentVote.accept).where(
                    AmendmentVote.amendment_id.in_(ids), AmendmentVote.person_id == reader
                )
            ).all()
        )
    authors = {
        person.id: person.display_name
        for person in session.scalars(
            select(Person).where(Person.id.in_({a.person_id for a in found if a.person_id}))
        )
    }
    texts = (
        {s.key: s.text.strip() for s in charter_draft.draft(session, community_id)} if found else {}
    )
    return [
        AmendmentView(
            amendment=a,
            author=authors.get(a.person_id or 0, ""),
            accepts=counts.get((a.id, True), 0),
            rejects=counts.get((a.id, False), 0),
            mine=mine.get(a.id),
            diff=diff_html(a.before, a.after),
            stale=a.state == AmendmentState.OPEN and texts.get(a.section) != a.before,
        )
        for a in found
    ]


def open_count(session: Session, community_id: int) -> int:
    """How many amendments wait for a decision."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Amendment)
            .where(Amendment.community_id == community_id, Amendment.state == AmendmentState.OPEN)
        )
        or 0
    )
