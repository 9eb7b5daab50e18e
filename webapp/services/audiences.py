"""Who a campaign reaches: membership state, answers, consent and suppression, fixed at launch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from webapp.models import (
    Campaign,
    CampaignKind,
    ConsentRecord,
    Delivery,
    DeliveryState,
    Membership,
    MembershipState,
    Person,
    Questionnaire,
    QuestionnaireKind,
    Response,
)
from webapp.models.base import UTCDateTime

from . import suppressions
from .errors import N_, DomainError

INSERT_CHUNK = 1000


@dataclass
class AudiencePlan:
    """Who a launch would reach, and who it leaves out and why."""

    recipients: list[tuple[int, int]] = field(default_factory=list)  # (person_id, membership_id)
    excluded: dict[str, list[str]] = field(default_factory=dict)  # reason -> emails


def check_filter(audience_filter: dict[str, Any]) -> dict[str, Any]:
    """A clean audience filter, or :class:`DomainError` naming what is wrong.

    ``{"responded": {"interest": false}}`` keeps those who have (true) or have not (false)
    answered the community's questionnaire of that kind; ``{"answer": {"kind": "interest",
    "question": "role", "value": "teacher"}}`` keeps those whose answer to that question is (or
    includes) that value; ``{"people": [3, 5]}`` keeps only those people (a personal notice,
    such as the seat a waitlisted member just got).
    """
    clean: dict[str, Any] = {}
    people = audience_filter.get("people")
    if people is not None:
        if not isinstance(people, list) or not all(isinstance(p, int) for p in people):
            raise DomainError(N_("A list of people is a list of their ids."))
        clean["people"] = sorted(set(people))
    kinds = {k.value for k in QuestionnaireKind}
    for kind, wanted in (audience_filter.get("responded") or {}).items():
        if kind not in kinds:
            raise DomainError(
                N_("Unknown questionnaire %(kind)s: use one of %(kinds)s."),
                kind=kind,
                kinds=", ".join(sorted(kinds)),
            )
        clean.setdefault("responded", {})[kind] = bool(wanted)
    answer = audience_filter.get("answer")
    if answer:
        if answer.get("kind") not in kinds or not answer.get("question"):
            raise DomainError(N_("An answer filter needs a questionnaire and a question."))
        clean["answer"] = {
            "kind": answer["kind"],
            "question": str(answer["question"]),
            "value": str(answer.get("value", "")),
        }
    return clean


def _answer_matches(answers: dict[str, Any] | None, question: str, value: str) -> bool:
    given = (answers or {}).get(question)
    if isinstance(given, list):
        return value in [str(item) for item in given]
    return given is not None and str(given) == value


def _consenting(community_id: int) -> Select[Any]:
    return select(ConsentRecord.person_id).where(
        ConsentRecord.community_id == community_id,
        ConsentRecord.withdrawn_at.is_(None),
    )


# A poll and an invitation go to the whole founding group: confirmed or not yet.
FOUNDING_GROUP = (MembershipState.SELECTED, MembershipState.MEMBER)


def audience_states(campaign: Campaign) -> tuple[str, ...]:
    """The membership states a campaign reaches."""
    if campaign.kind in (CampaignKind.AVAILABILITY, CampaignKind.INVITATION, CampaignKind.CHARTER):
        return FOUNDING_GROUP
    return (campaign.audience_state,)


def _audience(campaign: Campaign, *columns: Any) -> Select[Any]:
    """``columns`` of the people in the campaign's audience state matching its ``responded``
    filter (the answer filter is applied in Python, see :func:`plan_audience`)."""
    community_id = campaign.community_id
    query = (
        select(*columns)
        .select_from(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == community_id,
            Membership.state.in_(audience_states(campaign)),
        )
    )
    for kind, wanted in ((campaign.audience_filter or {}).get("responded") or {}).items():
        responded = (
            select(Response.person_id)
            .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
            .where(Questionnaire.community_id == community_id, Questionnaire.kind == kind)
        )
        query = query.where(Person.id.in_(responded) if wanted else Person.id.not_in(responded))
    people = (campaign.audience_filter or {}).get("people")
    if people is not None:
        query = query.where(Person.id.in_(people))
    if campaign.kind == CampaignKind.DECISION:
        told = told_people(community_id, campaign.audience_state, besides=campaign.id)
        query = query.where(Person.id.not_in(told))
    return query


# An outbox row in these states has been, or may still be, sent.
TOLD_STATES = (
    DeliveryState.PENDING,
    DeliveryState.SENDING,
    DeliveryState.SENT,
    DeliveryState.UNKNOWN,
)


def told_people(community_id: int, decision: str, *, besides: int | None = None) -> Select[Any]:
    """The people a decision campaign of the community (other than ``besides``) already tells
    ``decision``: a decision is told once, whatever campaign is made for it."""
    return (
        select(Delivery.person_id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Campaign.community_id == community_id,
            Campaign.kind == CampaignKind.DECISION,
            Campaign.audience_state == decision,
            Campaign.id != (besides or 0),
            Delivery.step == 0,
            Delivery.state.in_(TOLD_STATES),
        )
    )


def plan_for(session: Session, campaign: Campaign) -> AudiencePlan:
    """The eligible recipients: in the audience state, matching the campaign's filter on
    answers, with consent, not suppressed. Rows are streamed from the database."""
    community_id = campaign.community_id
    hashes = suppressions.suppressed_hashes(session, community_id)
    query = _audience(
        campaign,
        Person.id,
        Person.email,
        Membership.id,
        Person.id.in_(_consenting(community_id)),
    )
    answer = (campaign.audience_filter or {}).get("answer")
    if answer:
        given = (
            select(Response.person_id, Response.answers)
            .join(Questionnaire, Questionnaire.id == Response.questionnaire_id)
            .where(Questionnaire.community_id == community_id, Questionnaire.kind == answer["kind"])
            .subquery()
        )
        query = query.outerjoin(given, given.c.person_id == Person.id).add_columns(given.c.answers)
    plan = AudiencePlan()
    rows = session.execute(query.order_by(Person.id).execution_options(yield_per=INSERT_CHUNK))
    for row in rows:
        person_id, email, membership_id, consented = row[:4]
        given_answers: Any = row[-1]
        if answer and not _answer_matches(given_answers, answer["question"], answer["value"]):
            continue
        if hashes and suppressions.email_hash(session, email) in hashes:
            plan.excluded.setdefault("suppressed", []).append(email)
        elif not consented:
            plan.excluded.setdefault("no_consent", []).append(email)
        else:
            plan.recipients.append((person_id, membership_id))
    return plan


def _outbox_row(
    campaign_id: int, person_id: int, membership_id: int, due: datetime
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "person_id": person_id,
        "membership_id": membership_id,
        "step": 0,
        "state": DeliveryState.PENDING,
        "due_at": due,
        "unknown_count": 0,
        "attempts": 0,
        "message_id": "",
        "error": "",
    }


def write_outbox(
    session: Session, campaign: Campaign, due: datetime
) -> tuple[int, dict[str, list[str]]]:
    """One pending row per eligible recipient; returns how many and who was left out, why."""
    if (campaign.audience_filter or {}).get("answer"):
        # Answers are matched in Python: stream the plan and insert it in chunks.
        plan = plan_for(session, campaign)
        for start in range(0, len(plan.recipients), INSERT_CHUNK):
            chunk = plan.recipients[start : start + INSERT_CHUNK]
            session.execute(
                insert(Delivery), [_outbox_row(campaign.id, p, m, due) for p, m in chunk]
            )
        return len(plan.recipients), plan.excluded
    # The usual case: the database copies the audience into the outbox in one statement.
    community_id = campaign.community_id
    consenting = _consenting(community_id)
    excluded: dict[str, list[str]] = {}
    suppressed_ids: list[int] = []
    hashes = suppressions.suppressed_hashes(session, community_id)
    if hashes:  # addresses are kept only as keyed hashes: compare them here
        rows = session.execute(
            _audience(campaign, Person.id, Person.email)
            .order_by(Person.id)
            .execution_options(yield_per=INSERT_CHUNK)
        )
        for person_id, email in rows:
            if suppressions.email_hash(session, email) in hashes:
                suppressed_ids.append(person_id)
                excluded.setdefault("suppressed", []).append(email)
    no_consent = [
        email
        for person_id, email in session.execute(
            _audience(campaign, Person.id, Person.email)
            .where(Person.id.not_in(consenting))
            .order_by(Person.id)
        )
        if person_id not in set(suppressed_ids)
    ]
    if no_consent:
        excluded["no_consent"] = no_consent
    columns = [
        "campaign_id",
        "person_id",
        "membership_id",
        "step",
        "state",
        "due_at",
        "unknown_count",
        "attempts",
        "message_id",
        "error",
    ]
    source = _audience(
        campaign,
        literal(campaign.id),
        Person.id,
        Membership.id,
        literal(0),
        literal(DeliveryState.PENDING.value),
        literal(due, UTCDateTime()),
        literal(0),
        literal(0),
        literal(""),
        literal(""),
    ).where(Person.id.in_(consenting))
    session.execute(insert(Delivery).from_select(columns, source))
    for start in range(0, len(suppressed_ids), INSERT_CHUNK):
        session.execute(
            delete(Delivery).where(
                Delivery.campaign_id == campaign.id,
                Delivery.person_id.in_(suppressed_ids[start : start + INSERT_CHUNK]),
            )
        )
    created = session.scalar(
        select(func.count()).where(Delivery.campaign_id == campaign.id, Delivery.step == 0)
    )
    return created or 0, excluded
