"""Small builders shared by the tests: a community ready to send, with its people."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from webapp.services import communities, imports


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
