"""What every campaign message must carry (RELIABILITY U4, U6), read back at the SMTP sink."""

from __future__ import annotations

import re

import pytest
from builders import community_with_people
from sink import Sink

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.services import campaigns
from workers.campaigns import drain_with

CSV = """email,first_name,language
marie@example.org,Marie,fr
john@example.org,John,en
"""
UNSUBSCRIBE = {"fr": "Se désabonner", "en": "Unsubscribe"}


@pytest.mark.parametrize("kind", ["recruitment", "announcement"])
def test_every_message_identifies_the_sender_and_offers_to_unsubscribe_in_its_language(
    database: Database, config: Config, smtp_sink: Sink, kind: str
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url, base_url="https://cop.example.org")
    with database.session() as session:
        community_id = community_with_people(
            session,
            CSV,
            name="CoP Pédagogie",
            sender_name="Équipe CoP",
            organization="Université Test",
            postal_address="2325 rue de l'Université, Québec",
        )
        campaign_id = campaigns.create_campaign(
            session, community_id, kind=kind, audience_state="prospect"
        )
        campaigns.launch_campaign(session, campaign_id)
    while drain_with(settings, database, campaign_id, EmailRenderer()):
        pass
    assert len(smtp_sink.messages) == 2
    for message in smtp_sink.messages:
        locale = "fr" if "marie" in str(message["To"]) else "en"
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        for part in (text.get_content(), html.get_content()):
            for needed in ("Équipe CoP", "Université Test", "2325 rue de l", "cop@example.org"):
                assert needed in part, f"{kind}/{locale}: {needed} missing"
            assert UNSUBSCRIBE[locale] in part
            assert re.search(r"https://cop\.example\.org/u/[\w-]{20,}", part)
        assert str(message["List-Unsubscribe"]).startswith("<https://cop.example.org/u/")
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

        # U6: no tracking pixel, no redirecting links: only the personal links, in clear.
        body = html.get_content()
        assert "<img" not in body.lower()
        for url in re.findall(r'href="([^"]+)"', body):
            assert re.match(r"https://cop\.example\.org/[ru]/[\w-]+$|mailto:", url), url
