"""The statements of the charter: drawn from the members' answers (near-duplicates merged, each
keeping who wrote it), shaped by the coordinators (edit, merge, split, add, remove), and voted on
by the members (agree, disagree, pass).

A statement *reaches consensus* when at least ``min_votes`` members agreed or disagreed with it
and at least ``threshold`` percent of them agreed; passing counts for neither.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    Charter,
    CharterStage,
    Person,
    Statement,
    StatementOrigin,
    StatementState,
    StatementSupport,
    StatementVote,
    Vote,
    utcnow,
)

from . import statement_text
from .charters import FOUNDING_GROUP, charter_of, sections, sent_answers
from .errors import N_, DomainError, NotFound
from .memberships import membership_of

MAX_STATEMENT = 500  # characters of one statement
TOO_LONG = N_("A statement is at most %(count)d characters: split it in two.")
EMPTY = N_("Write the statement.")


@dataclass
class Tally:
    """The votes on one statement, and who wrote it in their answers."""

    agree: int = 0
    disagree: int = 0
    passed: int = 0
    supporters: set[int] = field(default_factory=set)

    @property
    def cast(self) -> int:
        """Votes that count: agree and disagree."""
        return self.agree + self.disagree

    def share(self) -> int:
        """The percentage of the votes that count which agree (0 with none)."""
        return round(100 * self.agree / self.cast) if self.cast else 0

    def reached(self, charter: Charter) -> bool:
        """Whether the statement reaches the charter's consensus threshold."""
        return self.cast >= charter.min_votes and self.agree * 100 >= charter.threshold * self.cast


def _audit(
    session: Session, community_id: int, actor: str, action: str, details: dict[str, Any]
) -> None:
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action=f"statement.{action}",
            details=details,
        )
    )


def _check_stage(charter: Charter, *stages: str) -> None:
    if charter.stage not in stages:
        raise DomainError(N_("The statements can no longer change: the draft is out."))


def _clean_text(text: str) -> str:
    clean = " ".join(text.split())
    if not clean:
        raise DomainError(EMPTY)
    if len(clean) > MAX_STATEMENT:
        raise DomainError(TOO_LONG, count=MAX_STATEMENT)
    return clean


# -- drawing them from the answers ---------------------------------------------------------------


def draw(session: Session, community_id: int, *, actor: str) -> int:
    """Close the answers and draw the statements from them, section by section: each answer
    split into short statements, near-duplicates across members merged. Voting opens. Returns
    how many statements were drawn."""
    charter = charter_of(session, community_id)
    session.refresh(charter, with_for_update=True)  # one draw at a time
    _check_stage(charter, CharterStage.COLLECTING)
    answered = sent_answers(session, community_id)
    if not answered:
        raise DomainError(N_("Nobody has sent answers yet: there is nothing to draw from."))
    by_section: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for person_id, answers in answered:
        for key, value in answers.items():
            if isinstance(value, str) and value.strip():
                by_section[key].append((person_id, value))
    drawn = 0
    for section, texts in by_section.items():
        for position, found in enumerate(statement_text.statements_from_answers(texts)):
            statement = Statement(
                community_id=community_id,
                section=section,
                text=found.wording[:MAX_STATEMENT],
                origin=StatementOrigin.ANSWERS,
                position=position,
            )
            session.add(statement)
            session.flush()
            wordings: dict[int, str] = {}
            for sentence in found.wordings:
                wordings.setdefault(sentence.person_id, sentence.text)
            session.add_all(
                StatementSupport(statement_id=statement.id, person_id=person_id, wording=text)
                for person_id, text in wordings.items()
            )
            drawn += 1
    charter.stage = CharterStage.VOTING
    _audit(session, community_id, actor, "drawn", {"count": drawn, "answers": len(answered)})
    return drawn


# -- reading -------------------------------------------------------------------------------------


def statements_of(
    session: Session, community_id: int, *, section: str | None = None
) -> list[Statement]:
    """The active statements, by section then position."""
    query = select(Statement).where(
        Statement.community_id == community_id, Statement.state == StatementState.ACTIVE
    )
    if section is not None:
        query = query.where(Statement.section == section)
    return list(
        session.scalars(query.order_by(Statement.section, Statement.position, Statement.id))
    )


def tallies(session: Session, community_id: int) -> dict[int, Tally]:
    """Votes and supporters of every active statement, counted in the database."""
    active = select(Statement.id).where(
        Statement.community_id == community_id, Statement.state == StatementState.ACTIVE
    )
    result: dict[int, Tally] = {statement_id: Tally() for statement_id in session.scalars(active)}
    rows = session.execute(
        select(StatementVote.statement_id, StatementVote.vote, func.count())
        .where(StatementVote.statement_id.in_(active))
        .group_by(StatementVote.statement_id, StatementVote.vote)
    )
    for statement_id, vote, count in rows:
        tally = result[statement_id]
        if vote == Vote.AGREE:
            tally.agree = count
        elif vote == Vote.DISAGREE:
            tally.disagree = count
        else:
            tally.passed = count
    supports = session.execute(
        select(StatementSupport.statement_id, StatementSupport.person_id).where(
            StatementSupport.statement_id.in_(active)
        )
    )
    for statement_id, person_id in supports:
        result[statement_id].supporters.add(person_id)
    return result


def wordings(session: Session, community_id: int) -> dict[int, list[tuple[str, str]]]:
    """Who wrote each active statement, and in which words: {statement id: [(name, words)]}."""
    active = select(Statement.id).where(
        Statement.community_id == community_id, Statement.state == StatementState.ACTIVE
    )
    found: dict[int, list[tuple[str, str]]] = {}
    for statement_id, person, wording in session.execute(
        select(StatementSupport.statement_id, Person, StatementSupport.wording)
        .join(Person, Person.id == StatementSupport.person_id)
        .where(StatementSupport.statement_id.in_(active))
        .order_by(Person.last_name, Person.first_name)
    ):
        found.setdefault(statement_id, []).append((person.display_name, wording))
    return found


def votes_of(session: Session, community_id: int, person_id: int) -> dict[int, str]:
    """A member's votes, by statement."""
    rows = session.execute(
        select(StatementVote.statement_id, StatementVote.vote)
        .join(Statement, Statement.id == StatementVote.statement_id)
        .where(Statement.community_id == community_id, StatementVote.person_id == person_id)
    )
    return {statement_id: vote for statement_id, vote in rows}


def statement_of(session: Session, community_id: int, statement_id: int) -> Statement:
    found = session.get(Statement, statement_id)
    if found is None or found.community_id != community_id:
        raise NotFound(N_("No such statement."))
    if found.state != StatementState.ACTIVE:
        raise DomainError(N_("This statement was merged or removed meanwhile: reload the page."))
    return found


# -- voting --------------------------------------------------------------------------------------


def vote(
    session: Session,
    community_id: int,
    person_id: int,
    choices: dict[int, str],
    *,
    source: str = "web",
) -> int:
    """Record a member's votes ({statement id: agree|disagree|pass}); a later vote replaces
    an earlier one. Returns how many were recorded."""
    charter = charter_of(session, community_id)
    if charter.stage != CharterStage.VOTING:
        raise DomainError(N_("The vote on the statements is closed."))
    if membership_of(session, community_id, person_id).state not in FOUNDING_GROUP:
        raise DomainError(N_("Only the members of the founding group vote on the charter."))
    valid = {v.value for v in Vote}
    active = {s.id for s in statements_of(session, community_id)}
    now = utcnow()
    recorded = 0
    for statement_id, choice in choices.items():
        if choice not in valid or statement_id not in active:
            continue
        values = {"vote": choice, "source": source, "updated_at": now}
        mine = (StatementVote.statement_id == statement_id, StatementVote.person_id == person_id)
        changed = session.execute(update(StatementVote).where(*mine).values(**values))
        if not getattr(changed, "rowcount", 0):
            try:
                with session.begin_nested():
                    session.add(
                        StatementVote(statement_id=statement_id, person_id=person_id, **values)
                    )
            except IntegrityError:  # the same first vote, twice at once: the later one stands
                session.execute(update(StatementVote).where(*mine).values(**values))
        recorded += 1
    if recorded:
        membership_of(session, community_id, person_id).answered_at = now
    return recorded


# -- the coordinators' hand ----------------------------------------------------------------------


def add(session: Session, community_id: int, section: str, text: str, *, actor: str) -> int:
    """A coordinator's own statement; its id."""
    charter = charter_of(session, community_id)
    _check_stage(charter, CharterStage.VOTING)
    position = session.scalar(
        select(func.max(Statement.position)).where(
            Statement.community_id == community_id, Statement.section == section
        )
    )
    statement = Statement(
        community_id=community_id,
        section=section[:40],
        text=_clean_text(text),
        origin=StatementOrigin.COORDINATOR,
        position=(position or 0) + 1,
    )
    session.add(statement)
    session.flush()
    _audit(session, community_id, actor, "added", {"statement": statement.id})
    return statement.id


def edit(session: Session, community_id: int, statement_id: int, text: str, *, actor: str) -> None:
    """Reword a statement. Votes cast on the old wording are kept only when it did not change
    in meaning: the coordinator decides, so the votes are dropped if ``text`` differs."""
    charter = charter_of(session, community_id)
    _check_stage(charter, CharterStage.VOTING)
    statement = statement_of(session, community_id, statement_id)
    clean = _clean_text(text)
    if clean == statement.text:
        return
    before = statement.text
    statement.text = clean
    # Members agreed or disagreed with other words: they vote again on these ones.
    session.execute(delete(StatementVote).where(StatementVote.statement_id == statement_id))
    _audit(session, community_id, actor, "edited", {"statement": statement_id, "before": before})


def remove(session: Session, community_id: int, statement_id: int, *, actor: str) -> None:
    """Take a statement out of the vote."""
    charter = charter_of(session, community_id)
    _check_stage(charter, CharterStage.VOTING)
    statement = statement_of(session, community_id, statement_id)
    statement.state = StatementState.REMOVED
    _audit(session, community_id, actor, "removed", {"statement": statement_id})


def merge(
    session: Session, community_id: int, statement_ids: list[int], text: str, *, actor: str
) -> int:
    """Merge statements into the first one, worded ``text`` (empty: the first one's wording):
    its supporters are all of theirs; votes are kept where they agree, and where they differ
    the member votes again."""
    charter = charter_of(session, community_id)
    _check_stage(charter, CharterStage.VOTING)
    ids = list(dict.fromkeys(statement_ids))
    if len(ids) < 2:
        raise DomainError(N_("Choose at least two statements to merge."))
    found = [statement_of(session, community_id, statement_id) for statement_id in ids]
    if len({s.section for s in found}) > 1:
        raise DomainError(N_("Only statements of the same section can be merged."))
    target, others = found[0], found[1:]
    clean = _clean_text(text or target.text)
    supporters: dict[int, str] = {}
    for statement in found:
        for person_id, wording in session.execute(
            select(StatementSupport.person_id, StatementSupport.wording).where(
                StatementSupport.statement_id == statement.id
            )
        ):
            supporters.setdefault(person_id, wording)
    votes: dict[int, set[str]] = defaultdict(set)
    for person_id, choice in session.execute(
        select(StatementVote.person_id, StatementVote.vote).where(
            StatementVote.statement_id.in_(ids)
        )
    ):
        votes[person_id].add(choice)
    session.execute(delete(StatementSupport).where(StatementSupport.statement_id.in_(ids)))
    session.execute(delete(StatementVote).where(StatementVote.statement_id.in_(ids)))
    session.flush()
    session.add_all(
        StatementSupport(statement_id=target.id, person_id=person_id, wording=wording)
        for person_id, wording in supporters.items()
    )
    now = utcnow()
    session.add_all(
        StatementVote(
            statement_id=target.id, person_id=person_id, vote=choice.pop(), updated_at=now
        )
        for person_id, choice in votes.items()
        if len(choice) == 1
    )
    target.text = clean
    for statement in others:
        statement.state = StatementState.MERGED
        statement.merged_into_id = target.id
    _audit(session, community_id, actor, "merged", {"into": target.id, "merged": ids[1:]})
    return target.id


def split(
    session: Session, community_id: int, statement_id: int, texts: list[str], *, actor: str
) -> list[int]:
    """Split a statement into several, each kept by the same supporters; the votes on the
    whole are dropped (members vote on each part)."""
    charter = charter_of(session, community_id)
    _check_stage(charter, CharterStage.VOTING)
    statement = statement_of(session, community_id, statement_id)
    parts = [_clean_text(text) for text in texts if text.strip()]
    if len(parts) < 2:
        raise DomainError(N_("Write at least two statements to split it into."))
    supporters = list(
        session.execute(
            select(StatementSupport.person_id, StatementSupport.wording).where(
                StatementSupport.statement_id == statement_id
            )
        )
    )
    made = []
    for text in parts:
        part = Statement(
            community_id=community_id,
            section=statement.section,
            text=text,
            origin=statement.origin,
            position=statement.position,
        )
        session.add(part)
        session.flush()
        session.add_all(
            StatementSupport(statement_id=part.id, person_id=person_id, wording=wording)
            for person_id, wording in supporters
        )
        made.append(part.id)
    statement.state = StatementState.REMOVED
    _audit(session, community_id, actor, "split", {"statement": statement_id, "into": made})
    return made


def set_threshold(
    session: Session, community_id: int, threshold: int, min_votes: int, *, actor: str
) -> None:
    """The share of agree votes (percent) and the votes a statement needs to join the draft."""
    if not 50 <= threshold <= 100:
        raise DomainError(N_("The threshold is a percentage from 50 to 100."))
    if not 1 <= min_votes <= 10_000:
        raise DomainError(N_("A statement needs at least one vote."))
    charter = charter_of(session, community_id)
    _check_stage(charter, CharterStage.COLLECTING, CharterStage.VOTING)
    charter.threshold, charter.min_votes = threshold, min_votes
    _audit(session, community_id, actor, "threshold", {"threshold": threshold, "votes": min_votes})


def close_vote(session: Session, community_id: int, *, actor: str) -> int:
    """Close the vote: the draft is out for amendments. Returns how many statements reached
    consensus."""
    charter = charter_of(session, community_id)
    session.refresh(charter, with_for_update=True)
    if charter.stage != CharterStage.VOTING:
        raise DomainError(N_("The vote on the statements is closed."))
    reached = sum(1 for t in tallies(session, community_id).values() if t.reached(charter))
    if not reached:
        raise DomainError(
            N_("No statement reaches the threshold yet: wait for more votes or lower it.")
        )
    charter.stage = CharterStage.AMENDING
    _audit(session, community_id, actor, "vote_closed", {"reached": reached})
    return reached


# -- voting by email -----------------------------------------------------------------------------


def numbered(session: Session, community_id: int) -> list[Statement]:
    """The active statements in the charter's section order, as an email numbers them."""
    order = {s.key: i for i, s in enumerate(sections(session, community_id, "fr"))}
    found = statements_of(session, community_id)
    return sorted(found, key=lambda s: (order.get(s.section, len(order)), s.position, s.id))


def _fold(text: str) -> str:
    """Casefolded, accents and typographic apostrophes out, spaces single."""
    plain = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(plain.split())


# What a reply's line says, once folded; the longest words are tried first.
VOTE_WORDS = {
    Vote.DISAGREE: (
        "pas d'accord",
        "pas daccord",
        "desaccord",
        "disagree",
        "contre",
        "non",
        "no",
        "-1",
        "-",
    ),
    Vote.AGREE: ("d'accord", "daccord", "accord", "agree", "oui", "pour", "yes", "ok", "+1", "+"),
    Vote.PASS: ("je passe", "passe", "pass", "abstention", "skip", "0", "?"),
}
_VOTE_LINE = re.compile(
    r"^\s*(?P<numbers>\d{1,3}(?:\s*(?:,|;|&|\bet\b|\band\b)\s*\d{1,3})*)\s*[.):=–—-]?\s*"
    r"(?P<word>.+?)\s*[.!]*\s*$"
)


def parse_votes(text: str) -> tuple[dict[int, str], list[str]]:
    """Votes in a reply, one line each: ``3 d'accord``, ``4: non``, ``1, 2 et 5 : je passe``.
    Returns {statement number: vote} and the other non-empty lines."""
    votes: dict[int, str] = {}
    rest: list[str] = []
    words = {_fold(word): vote for vote, options in VOTE_WORDS.items() for word in options}
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _VOTE_LINE.match(line)
        vote = words.get(_fold(match["word"])) if match else None
        if match is None or vote is None:
            rest.append(line.strip())
            continue
        for number in re.findall(r"\d{1,3}", match["numbers"]):
            votes[int(number)] = vote
    return votes, rest


def vote_by_email(
    session: Session, community_id: int, person_id: int, numbers: list[int], text: str
) -> tuple[int, list[str]]:
    """Apply the votes of a reply to the email that numbered ``numbers`` (statement ids in the
    email's order). A statement merged since counts for the one it went into; one removed, or a
    number the email did not show, is left out. Returns how many were recorded, and what was not
    understood (for the coordinators)."""
    found, rest = parse_votes(text)
    choices: dict[int, str] = {}
    for number, choice in sorted(found.items()):
        if not 1 <= number <= len(numbers):
            rest.append(str(number))
            continue
        statement = session.get(Statement, numbers[number - 1])
        while statement is not None and statement.state == StatementState.MERGED:
            statement = session.get(Statement, statement.merged_into_id or 0)
        if statement is None or statement.state != StatementState.ACTIVE:
            rest.append(str(number))
            continue
        choices[statement.id] = choice
    recorded = vote(session, community_id, person_id, choices, source="email") if choices else 0
    return recorded, rest
