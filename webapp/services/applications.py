"""Selection by explicit criteria: the rubric, reviewers' ratings, the ranking, a balanced group.

Each criterion gives an applicant a value between 0 and 1:

- from an answer of the application questionnaire: a choice is worth the points the rubric gives
  it, divided by the most any choice is worth (several choices: their points added, over what
  all the choices are worth together); a number or a scale is placed between the
  rubric's ``min`` (0) and ``max`` (1), clamped;
- from reviewers: the mean of their ratings (0 to 5) divided by 5; their disagreement is the
  spread between the highest and the lowest rating.

The score is ``100 × Σ weight × value / Σ weight`` over every criterion of the rubric, a missing
value counting 0, rounded to one decimal. An applicant missing a required criterion is ranked but
never suggested. The suggested selection takes applicants by rank and skips those who would break
a cap (group size, at most N per organisation).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.questionnaires import CHOICE_TYPES, NUMBER_TYPES
from webapp.models import (
    AuditLog,
    Criterion,
    CriterionSource,
    Membership,
    MembershipState,
    Person,
    Questionnaire,
    QuestionnaireKind,
    Rating,
    Response,
    User,
    utcnow,
)

from .errors import N_, DomainError, NotFound
from .questionnaires import ensure_questionnaire

MAX_RATING = 5
KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
DECISIONS = (MembershipState.SELECTED, MembershipState.WAITLISTED, MembershipState.DECLINED)
# Who is an applicant: those who applied, and those already decided upon.
APPLICANT_STATES = (MembershipState.APPLICANT, *DECISIONS, MembershipState.MEMBER)


@dataclass(frozen=True)
class CriterionData:
    """What a coordinator says of a criterion."""

    key: str
    label: Mapping[str, str]
    weight: float = 1.0
    source: str = CriterionSource.RATING
    question: str = ""
    scoring: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False


def check_criterion(data: CriterionData) -> None:
    """Refuse a criterion that could not be scored, naming what is wrong."""
    if not KEY.fullmatch(data.key):
        raise DomainError(
            N_("The criterion's short name %(key)s must be lowercase letters, digits and _."),
            key=repr(data.key),
        )
    if not any(str(v).strip() for v in data.label.values()):
        raise DomainError(N_("The criterion needs a name."))
    if not 0 < data.weight <= 100:
        raise DomainError(N_("A criterion's weight must be above 0 and at most 100."))
    if data.source not in set(CriterionSource):
        raise DomainError(N_("A criterion is scored from an answer or by reviewers."))
    if data.source == CriterionSource.RATING:
        return
    if not data.question:
        raise DomainError(N_("Say which question of the application gives this criterion."))
    points = data.scoring.get("points")
    if points is not None:
        if not isinstance(points, Mapping) or not points:
            raise DomainError(N_("Give the points of at least one answer."))
        if any(not _number(v) or float(v) < 0 for v in points.values()):
            raise DomainError(N_("Points must be numbers, 0 or more."))
        if max(float(v) for v in points.values()) <= 0:
            raise DomainError(N_("At least one answer must be worth more than 0 points."))
        return
    low, high = data.scoring.get("min"), data.scoring.get("max")
    if not (_number(low) and _number(high)) or not high > low:  # type: ignore[operator]
        raise DomainError(
            N_("Give either the points of each answer, or a minimum and a greater maximum.")
        )


def _number(value: object) -> bool:
    """A finite number (not a boolean, not infinity, not NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_question(session: Session, community_id: int, data: CriterionData) -> None:
    """The question must be asked by the application questionnaire, and be of a kind its
    scoring fits: points for a choice question, bounds for a number."""
    questionnaire = ensure_questionnaire(session, community_id, QuestionnaireKind.APPLICATION)
    question = next(
        (q for q in questionnaire.definition["questions"] if q["id"] == data.question), None
    )
    if question is None:
        raise DomainError(
            N_("The application questionnaire has no question %(question)s."),
            question=repr(data.question),
        )
    wanted = CHOICE_TYPES if "points" in data.scoring else NUMBER_TYPES
    if question["type"] not in wanted:
        raise DomainError(
            N_(
                "Points per answer go with a choice question, a minimum and a maximum with a "
                "number: %(question)s does not fit."
            ),
            question=repr(data.question),
        )


def define_criterion(session: Session, community_id: int, data: CriterionData) -> int:
    """Add a criterion to the community's rubric (or replace the one with the same key)."""
    check_criterion(data)
    if data.source == CriterionSource.ANSWER:
        _check_question(session, community_id, data)
    criterion = session.scalar(
        select(Criterion).where(Criterion.community_id == community_id, Criterion.key == data.key)
    )
    if criterion is None:
        count = len(rubric(session, community_id))
        criterion = Criterion(community_id=community_id, key=data.key, position=count)
        session.add(criterion)
    criterion.label = dict(data.label)
    criterion.weight = float(data.weight)
    criterion.source = data.source
    criterion.question = data.question
    criterion.scoring = dict(data.scoring)
    criterion.required = data.required
    session.flush()
    return criterion.id


def rubric(session: Session, community_id: int) -> list[Criterion]:
    """The community's criteria, in their order."""
    return list(
        session.scalars(
            select(Criterion)
            .where(Criterion.community_id == community_id)
            .order_by(Criterion.position, Criterion.id)
        )
    )


def rate(
    session: Session,
    community_id: int,
    criterion_id: int,
    person_id: int,
    reviewer_id: int,
    score: int,
) -> None:
    """A reviewer's rating of an applicant on a criterion scored by reviewers (0 to 5); the
    criterion and the person must both be the community's."""
    criterion = session.get(Criterion, criterion_id)
    if criterion is None or criterion.community_id != community_id:
        raise NotFound(N_("No such criterion."))
    member = session.scalar(
        select(Membership.id).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    if member is None:
        raise NotFound(N_("This person is not in this community."))
    if criterion.source != CriterionSource.RATING:
        raise DomainError(N_("This criterion is scored from an answer, not by reviewers."))
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= MAX_RATING:
        raise DomainError(N_("A rating is a whole number from 0 to 5."))
    rating = session.scalar(
        select(Rating).where(
            Rating.criterion_id == criterion_id,
            Rating.person_id == person_id,
            Rating.reviewer_id == reviewer_id,
        )
    )
    if rating is None:
        session.add(
            Rating(
                criterion_id=criterion_id,
                person_id=person_id,
                reviewer_id=reviewer_id,
                score=score,
            )
        )
    else:
        rating.score = score
        rating.updated_at = utcnow()
    session.flush()


# -- scoring: pure functions -------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionScore:
    """An applicant on one criterion: the value (0 to 1, None when missing), and for ratings
    how many reviewers rated and how far apart they are."""

    value: float | None
    ratings: int = 0
    disagreement: int = 0


def answer_value(criterion: Criterion, answer: object) -> float | None:
    """The value of an answer for a criterion scored from answers, or None when unanswered."""
    if answer is None or answer == "" or answer == []:
        return None
    scoring = criterion.scoring or {}
    points = scoring.get("points")
    if points is not None:
        worth = {str(k): float(v) for k, v in points.items()}
        best = max(worth.values())
        if isinstance(answer, list):
            # Several choices (skills, say): their points over what all of them are worth.
            chosen = {str(a) for a in answer}
            return sum(worth.get(a, 0.0) for a in chosen) / sum(worth.values())
        return worth.get(str(answer), 0.0) / best
    try:
        number = float(str(answer).replace(",", "."))
    except ValueError:
        return None
    low, high = float(scoring["min"]), float(scoring["max"])
    return min(max((number - low) / (high - low), 0.0), 1.0)


def rating_value(scores: Sequence[int]) -> CriterionScore:
    """The value of reviewers' ratings: their mean over 5, and their spread."""
    if not scores:
        return CriterionScore(None)
    return CriterionScore(
        sum(scores) / len(scores) / MAX_RATING, len(scores), max(scores) - min(scores)
    )


def total_score(criteria: Sequence[Criterion], values: Mapping[str, CriterionScore]) -> float:
    """``100 × Σ weight × value / Σ weight``; a missing value counts 0."""
    weights = sum(c.weight for c in criteria)
    if weights <= 0:
        return 0.0
    earned = sum(c.weight * (values[c.key].value or 0.0) for c in criteria if c.key in values)
    return round(100 * earned / weights, 1)


@dataclass(frozen=True)
class Applicant:
    """An applicant with their score, per criterion, and the decision taken, if any."""

    person_id: int
    email: str
    name: str
    organization: str
    score: float
    criteria: dict[str, CriterionScore]
    complete: bool  # every required criterion has a value
    decision: str  # selected | waitlisted | declined | member, or ""


def suggest(
    applicants: Sequence[Applicant], *, size: int | None = None, per_organization: int | None = None
) -> list[int]:
    """The person ids of a suggested group: by rank, skipping anyone missing a required
    criterion or who would exceed a cap. Organisations are compared without case or spaces;
    an applicant without one is only bound by the group size."""
    chosen: list[int] = []
    per_org: Counter[str] = Counter()
    for applicant in ranked(applicants):
        if size is not None and len(chosen) >= size:
            break
        if not applicant.complete:
            continue
        organization = organization_key(applicant.organization)
        if per_organization is not None and organization:
            if per_org[organization] >= per_organization:
                continue
            per_org[organization] += 1
        chosen.append(applicant.person_id)
    return chosen


def organization_key(organization: str) -> str:
    """An organisation as compared: without case or extra spaces."""
    return " ".join(organization.lower().split())


def ranked(applicants: Iterable[Applicant]) -> list[Applicant]:
    """Highest score first; ties by email, so that the order never depends on the database."""
    return sorted(applicants, key=lambda a: (-a.score, a.email))


# -- reading the database ----------------------------------------------------------------------


def applicants(session: Session, community_id: int) -> list[Applicant]:
    """Everyone who applied to the community, scored by its rubric, best first."""
    criteria = rubric(session, community_id)
    answers = sent_answers(session, community_id)
    memberships = session.execute(
        select(Membership, Person)
        .join(Person, Person.id == Membership.person_id)
        .where(
            Membership.community_id == community_id,
            (Membership.state.in_(APPLICANT_STATES) | Membership.person_id.in_(list(answers))),
        )
    ).all()
    ratings: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    if criteria:
        for criterion_id, person_id, score in session.execute(
            select(Rating.criterion_id, Rating.person_id, Rating.score).where(
                Rating.criterion_id.in_([c.id for c in criteria])
            )
        ):
            ratings[(criterion_id, person_id)].append(score)
    found = []
    for membership, person in memberships:
        given = answers.get(person.id, {})
        values: dict[str, CriterionScore] = {}
        for criterion in criteria:
            if criterion.source == CriterionSource.ANSWER:
                values[criterion.key] = CriterionScore(
                    answer_value(criterion, given.get(criterion.question))
                )
            else:
                values[criterion.key] = rating_value(ratings[(criterion.id, person.id)])
        found.append(
            Applicant(
                person_id=person.id,
                email=person.email,
                name=person.display_name,
                organization=person.organization or str(given.get("organization") or ""),
                score=total_score(criteria, values),
                criteria=values,
                complete=all(values[c.key].value is not None for c in criteria if c.required),
                decision=membership.state if membership.state in (*DECISIONS, "member") else "",
            )
        )
    return ranked(found)


def sent_answers(session: Session, community_id: int) -> dict[int, dict[str, Any]]:
    """Each person's answers to the community's application questionnaire (any version)."""
    rows = session.execute(
        select(Response.person_id, Response.answers)
        .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
        .where(
            Questionnaire.community_id == community_id,
            Questionnaire.kind == QuestionnaireKind.APPLICATION,
            Response.complete.is_(True),  # a draft the person has not sent is theirs alone
        )
        .order_by(Response.updated_at)
    ).all()
    return {person_id: dict(answers or {}) for person_id, answers in rows}


def application_of(
    session: Session, community_id: int, person_id: int
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """One person's latest application: the questionnaire's definition they answered (for its
    wording) and their answers; None when they have not applied."""
    row = session.execute(
        select(Questionnaire.definition, Response.answers)
        .join(Response, Response.questionnaire_id == Questionnaire.id)
        .where(
            Questionnaire.community_id == community_id,
            Questionnaire.kind == QuestionnaireKind.APPLICATION,
            Response.person_id == person_id,
            Response.complete.is_(True),
        )
        .order_by(Response.updated_at.desc(), Response.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return dict(row[0] or {}), dict(row[1] or {})


@dataclass(frozen=True)
class ReviewerRatings:
    """One reviewer's ratings of an applicant, by criterion id."""

    reviewer_id: int
    reviewer: str
    scores: dict[int, int]


def ratings_by_reviewer(
    session: Session, criteria: Sequence[Criterion], person_id: int
) -> list[ReviewerRatings]:
    """Who rated the applicant, and how, on each of ``criteria``."""
    by_reviewer: dict[int, ReviewerRatings] = {}
    rows = session.execute(
        select(Rating.criterion_id, Rating.score, User.id, User.name, User.email)
        .join(User, User.id == Rating.reviewer_id)
        .where(Rating.person_id == person_id, Rating.criterion_id.in_([c.id for c in criteria]))
        .order_by(User.email)
    )
    for criterion_id, score, user_id, name, email in rows:
        entry = by_reviewer.setdefault(user_id, ReviewerRatings(user_id, name or email, {}))
        entry.scores[criterion_id] = score
    return list(by_reviewer.values())


def percent(score: CriterionScore) -> float | None:
    """A criterion's value as the ranking shows it: 0 to 100, one decimal; None when missing."""
    return None if score.value is None else round(100 * score.value, 1)


def rank_rows(session: Session, community_id: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The ranking as the CLI prints it: the columns, then one row per applicant."""
    criteria = rubric(session, community_id)
    columns = ["email", "score", *(c.key for c in criteria), "decision"]
    rows = []
    for applicant in applicants(session, community_id):
        row: dict[str, Any] = {"email": applicant.email, "score": applicant.score}
        for criterion in criteria:
            row[criterion.key] = percent(applicant.criteria[criterion.key])
        row["decision"] = applicant.decision
        rows.append(row)
    return columns, rows


def decide(
    session: Session, community_id: int, person_id: int, decision: str, *, actor: str
) -> str:
    """Select, waitlist or decline an applicant; returns the state before.

    A decision can be changed until the person has confirmed (``member``)."""
    if decision not in set(DECISIONS):
        raise DomainError(
            N_("Unknown decision %(decision)s: use selected, waitlisted or declined."),
            decision=repr(decision),
        )
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
    )
    if membership is None:
        raise NotFound(N_("This person is not in this community."))
    before = membership.state
    if before == decision:
        return before  # nothing changes, nothing to record
    if before not in (MembershipState.APPLICANT, *DECISIONS):
        raise DomainError(
            N_(
                "Only an applicant can be selected, waitlisted or declined "
                "(this person is %(state)s)."
            ),
            state=before,
        )
    membership.state = decision
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action=f"application.{decision}",
            details={"person_id": person_id, "before": before},
        )
    )
    return before


def promote_waitlisted(session: Session, community_id: int, *, actor: str) -> int | None:
    """A seat freed up: the best-ranked waitlisted applicant is selected. Their person id, or
    None when nobody waits."""
    waiting = [a for a in applicants(session, community_id) if a.decision == "waitlisted"]
    if not waiting:
        return None
    decide(session, community_id, waiting[0].person_id, MembershipState.SELECTED, actor=actor)
    return waiting[0].person_id
