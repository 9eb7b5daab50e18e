"""Small builders shared by the tests: a community ready to send, with its people."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.db import Database
from webapp.services import campaigns, communities, decisions, imports
from workers.campaigns import drain_with


def community_with_people(session: Session, csv: str, **fields: Any) -> int:
    """A community with a complete sender identity (CASL) and the people of ``csv``, with
    express consent; ``fields`` override the community's defaults. Returns its id."""
    values: dict[str, Any] = {
        "name": "CoP",
        "slug": "cop",
        "sender_name": "CoP",
        "organization": "Org",
        "postal_address": "1 rue",
        "contact_email": "cop@example.org",
        **fields,
    }
    community_id = communities.create_community(session, communities.CommunityData(**values))
    imports.import_people(session, community_id, csv, source="list", consent="express")
    return community_id


def tell_decision(database: Database, config: Config, community_id: int, decision: str) -> int:
    """Prepare the campaign telling ``decision``, launch it and send it all; its id."""
    with database.session() as session:
        campaign_id = decisions.prepare(session, community_id, decision, name="t", user_id=None)
        session.commit()
    with database.session() as session:
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(config, database, campaign_id):
        pass
    return campaign_id
