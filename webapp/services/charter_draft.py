"""The draft charter: each section rendered, in the community's language and voice, from the
statements that reached consensus (a Jinja template per language), unless a coordinator or an
accepted amendment wrote the section's text by hand.

Whatever members or coordinators typed is escaped for Markdown before it joins the text, and the
Markdown becomes HTML without raw HTML and through nh3 (RELIABILITY W6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.orm import Session

from webapp.mail import markdown_to_html
from webapp.models import AuditLog, CharterStage, Community, Statement

from . import charters, statements
from .errors import N_, DomainError, NotFound

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "charter" / "draft"
LANGUAGES = ("fr", "en")
MAX_SECTION = 20_000  # characters of one section's Markdown
# Every ASCII punctuation mark CommonMark lets a backslash escape.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&\"'=:;,/?@$%^])")


def md(text: str) -> str:
    """Text shown as typed in Markdown: every mark escaped, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=False,  # Markdown, not HTML: the text is escaped for Markdown (see md)
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _module(language: str) -> object:
    return _environment().get_template(f"{language if language in LANGUAGES else 'fr'}.md").module


@dataclass(frozen=True)
class DraftSection:
    """One section of the draft: its heading, the statements it is built from, its text."""

    key: str
    heading: str
    statements: list[tuple[Statement, statements.Tally]]
    text: str  # Markdown
    edited: bool  # written by hand (a coordinator, an accepted amendment)

    @property
    def html(self) -> Markup:
        """The section's text as sanitised HTML."""
        return markdown_to_html(self.text)


def generated_text(language: str, key: str, texts: list[str]) -> str:
    """A section's text built by the template from these statements."""
    body = _module(language).body  # type: ignore[attr-defined]
    return str(body(key, [md(text) for text in texts])).strip()


def title(community: Community, *, escaped: bool = True) -> str:
    """The charter's title in the community's language: Markdown, or plain text."""
    module = _module(community.language)
    name = md(community.name) if escaped else community.name
    return str(module.title(name)).strip()  # type: ignore[attr-defined]


def draft(session: Session, community_id: int) -> list[DraftSection]:
    """Every section of the draft, in order, in the community's language."""
    community = session.get(Community, community_id)
    if community is None:
        raise NotFound(N_("No such community."))
    charter = charters.charter_of(session, community_id)
    counted = statements.tallies(session, community_id)
    by_section: dict[str, list[tuple[Statement, statements.Tally]]] = {}
    for statement in statements.statements_of(session, community_id):
        tally = counted.get(statement.id, statements.Tally())
        if tally.reached(charter):
            by_section.setdefault(statement.section, []).append((statement, tally))
    result = []
    for section in charters.sections(session, community_id, community.language):
        kept = sorted(
            by_section.get(section.key, []),
            key=lambda pair: (-pair[1].share(), -pair[1].agree, pair[0].position, pair[0].id),
        )
        written = (charter.texts or {}).get(section.key)
        text = (
            written
            if written is not None
            else generated_text(community.language, section.key, [s.text for s, _ in kept])
        )
        result.append(DraftSection(section.key, section.heading, kept, text, written is not None))
    return result


def markdown(community: Community, sections: list[DraftSection]) -> str:
    """The whole charter as Markdown: its title, then one ``##`` heading per section."""
    parts = [f"# {title(community)}"]
    for section in sections:
        parts.append(f"## {md(section.heading)}")
        parts.append(section.text.strip())
    return "\n\n".join(parts) + "\n"


def set_text(
    session: Session, community_id: int, key: str, text: str | None, *, actor: str
) -> None:
    """A coordinator writes a section's text by hand (Markdown), or gives it back to the
    statements (``None``)."""
    charter = charters.charter_of(session, community_id)
    if charter.stage not in (CharterStage.VOTING, CharterStage.AMENDING):
        raise DomainError(N_("The sections can be edited while voting and amending only."))
    known = {s.key for s in charters.sections(session, community_id, "fr")}
    if key not in known:
        raise NotFound(N_("No such section."))
    texts = dict(charter.texts or {})
    if text is None:
        texts.pop(key, None)
    else:
        clean = text.replace("\r\n", "\n").strip()
        if len(clean) > MAX_SECTION:
            raise DomainError(N_("A section is at most %(count)d characters."), count=MAX_SECTION)
        texts[key] = clean
    charter.texts = texts
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action="charter.section_written" if text is not None else "charter.section_reset",
            details={"section": key},
        )
    )
