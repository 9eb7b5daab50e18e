"""Who a campaign reaches: membership state, answers, consent and suppression, fixed at launch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.db import Database
from webapp.models import Campaign, ConsentRecord, Delivery, Membership, Person
from webapp.services import campaigns, communities, imports, questionnaires, suppressions
from webapp.services.errors import DomainError

CSV = """email,first_name
ana@example.org,Ana
ben@example.org,Ben
chloe@example.org,Chloé
dan@example.org,Dan
"""


def _community(database: Database) -> tuple[int, dict[str, int]]:
    """Four people who answered the interest questionnaire differently, or not at all."""
    with database.session() as session:
        community_id = communities.create_community(
            session, communities.CommunityData(name="CoP", slug="cop")
        )
        imports.import_people(session, community_id, CSV, source="list", consent="express")
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
        interest = questionnaires.ensure_questionnaire(session, community_id, "interest")
        for email, level in (("ana@example.org", "high"), ("ben@example.org", "low")):
            questionnaires.record_interest(
                session, interest.id, ids[email], {"interest_level": level}
            )
        # Chloé and Dan have not answered; move them to "interested" by hand, as a coordinator
        # would after a phone call.
        for email in ("chloe@example.org", "dan@example.org"):
            membership = session.scalar(
                select(Membership).where(Membership.person_id == ids[email])
            )
            assert membership is not None
            membership.state = "interested"
    return community_id, ids


def _recipients(database: Database, campaign_id: int) -> list[str]:
    with database.session() as session:
        return sorted(
            session.scalars(
                select(Person.email)
                .join(Delivery, Delivery.person_id == Person.id)
                .where(Delivery.campaign_id == campaign_id)
            )
        )


@pytest.mark.parametrize(
    ("audience_filter", "expected"),
    [
        ({}, ["ana", "ben", "chloe", "dan"]),
        ({"responded": {"interest": True}}, ["ana", "ben"]),
        ({"responded": {"interest": False}}, ["chloe", "dan"]),
        ({"answer": {"kind": "interest", "question": "interest_level", "value": "high"}}, ["ana"]),
    ],
    ids=["everyone", "answered", "not-answered", "by-answer"],
)
def test_the_audience_follows_state_and_answers_and_the_dry_run_agrees(
    database: Database, audience_filter: dict[str, object], expected: list[str]
) -> None:
    community_id, _ = _community(database)
    with database.session() as session:
        campaign_id = campaigns.create_campaign(
            session,
            community_id,
            kind="announcement",
            audience_state="interested",
            audience_filter=audience_filter,
        )
        dry_run = campaigns.plan_audience(session, campaign_id)
        result = campaigns.launch_campaign(session, campaign_id, require_identity=False)
    assert result.created == len(dry_run.recipients) == len(expected)
    assert _recipients(database, campaign_id) == [f"{name}@example.org" for name in expected]


@pytest.mark.parametrize("by_answer", [False, True], ids=["in-the-database", "in-python"])
def test_launch_leaves_out_the_suppressed_and_those_without_consent_and_lists_them(
    database: Database, by_answer: bool
) -> None:
    community_id, ids = _community(database)
    with database.session() as session:
        interest = questionnaires.ensure_questionnaire(session, community_id, "interest")
        questionnaires.record_interest(
            session, interest.id, ids["chloe@example.org"], {"interest_level": "high"}
        )
        suppressions.suppress(
            session, "ben@example.org", community_id=community_id, reason="test", actor="test"
        )
        for record in session.scalars(
            select(ConsentRecord).where(ConsentRecord.person_id == ids["chloe@example.org"])
        ):
            session.delete(record)
        high = {"answer": {"kind": "interest", "question": "interest_level", "value": "high"}}
        campaign_id = campaigns.create_campaign(
            session,
            community_id,
            kind="announcement",
            audience_state="interested",
            audience_filter=high if by_answer else {},
        )
        result = campaigns.launch_campaign(session, campaign_id, require_identity=False)
    if by_answer:  # Ana and Chloé answered "high"; Chloé has no consent
        assert result.excluded == {"no_consent": ["chloe@example.org"]}
        assert _recipients(database, campaign_id) == ["ana@example.org"]
    else:
        assert result.excluded == {
            "suppressed": ["ben@example.org"],
            "no_consent": ["chloe@example.org"],
        }
        assert _recipients(database, campaign_id) == ["ana@example.org", "dan@example.org"]
    assert result.created == len(_recipients(database, campaign_id))


def test_nobody_eligible_is_a_clear_refusal_that_changes_nothing(database: Database) -> None:
    with database.session() as session:
        community_id = communities.create_community(
            session, communities.CommunityData(name="CoP", slug="cop")
        )
        imports.import_people(session, community_id, CSV, source="list", consent="express")
        campaign_id = campaigns.create_campaign(
            session, community_id, kind="announcement", audience_state="member"
        )
    with database.session() as session, pytest.raises(DomainError) as error:
        campaigns.launch_campaign(session, campaign_id, require_identity=False)
    assert "Nobody to write to" in str(error.value)
    with database.session() as session:
        assert session.get_one(Campaign, campaign_id).state == "draft"
        assert session.scalars(select(Delivery.id)).all() == []
