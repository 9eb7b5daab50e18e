"""A prospect in a real browser: from the emailed link to the confirmation, by keyboard, with axe
(the browser and the live server are in ``tests/browser.py``)."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage

import pytest
from browser import BROWSER_MARKS, TIMEOUT_MS, LiveServer, assert_accessible, sign_in_page, tab_to
from playwright.sync_api import Browser, expect
from sink import Sink
from sqlalchemy import select
from web_helpers import seed

from webapp.db import Database
from webapp.models import Delivery, Membership, Person
from webapp.services import campaigns
from webapp.services.inbound import pipeline, signed_address
from workers.campaigns import drain_with
from workers.inbound import process_with

pytestmark = BROWSER_MARKS


def personal_link(live: LiveServer, database: Database, sink: Sink) -> str:
    """Seed, launch the recruitment campaign, send it, and return Anne's link from her email."""
    seeded = seed(database)
    with database.session() as session:
        campaign_id = campaigns.create_campaign(session, seeded.community_id)
    with database.session() as session:
        campaigns.launch_campaign(session, campaign_id, actor="test")
    while drain_with(live.config, database, campaign_id):
        pass
    messages = sink.to("anne@example.org")
    assert len(messages) == 1
    body = messages[0].get_body(("plain",))
    assert body is not None
    match = re.search(r"(https?://[^\s/]+)/r/([A-Za-z0-9_-]+)", body.get_content())
    assert match, "no personal link in the text part of Anne's email"
    assert match.group(1) == live.base_url, "the link does not point at the live server"
    return match.group(0)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_prospect_answers_in_the_browser_by_keyboard_and_pages_pass_axe(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser
) -> None:
    started = time.monotonic()
    link = personal_link(live_server, database, smtp_sink)
    token = link.rsplit("/", 1)[1]

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    response = page.goto(link)
    assert response is not None and response.status == 200

    # The first hop traded the token for a cookie: the address bar no longer holds it.
    assert page.url == f"{live_server.base_url}/respond"
    assert token not in page.url and token not in page.content()
    # What Anne sees: French, her community and what she gets from it.
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("CoP Pédagogie")
    expect(page.get_by_role("list").filter(has_text="Partager vos pratiques")).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer mes réponses")).to_be_visible()
    assert_accessible(page, "the questionnaire page")

    # Keyboard only: Tab to the first radio, Space to choose, type, tick, Enter on the button.
    interest = page.get_by_role("radio", name="Je veux en faire partie")
    participation = page.get_by_role("radio", name=re.compile("^Au cœur"))
    expertise = page.get_by_role("textbox", name="Vos domaines d’expertise")
    consent = page.get_by_role("checkbox", name=re.compile("^J’accepte d’être contacté"))
    submit = page.get_by_role("button", name="Envoyer mes réponses")

    tab_to(page, "input[name=question_interest_level][value=high]")
    page.keyboard.press("Space")
    expect(interest).to_be_checked()
    tab_to(page, "textarea[name=question_expertise]")
    page.keyboard.type("Classes inversées")
    expect(expertise).to_have_value("Classes inversées")
    tab_to(page, "input[name=question_participation_level][value=core]")
    page.keyboard.press("Space")
    expect(participation).to_be_checked()
    tab_to(page, "input[name=question_consent_contact]")
    page.keyboard.press("Space")
    expect(consent).to_be_checked()
    tab_to(page, "form[action='/respond'] button[type=submit]")
    expect(submit).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The confirmation, in French, and still no token in the address.
    assert page.url == f"{live_server.base_url}/respond/done/interested"
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Merci, vos réponses sont enregistrées"
    )
    expect(page.get_by_role("status")).to_contain_text(
        "L’équipe de coordination de CoP Pédagogie vous contactera"
    )
    assert_accessible(page, "the confirmation page")

    # The same link, opened again in a new page of a fresh browser context, shows the answers.
    again_context = browser.new_context()
    again_context.set_default_timeout(TIMEOUT_MS)
    again = again_context.new_page()
    response = again.goto(link)
    assert response is not None and response.status == 200
    assert again.url == f"{live_server.base_url}/respond"
    expect(again.get_by_role("radio", name="Je veux en faire partie")).to_be_checked()
    expect(again.get_by_role("radio", name=re.compile("^Au cœur"))).to_be_checked()
    expect(again.get_by_role("radio", name=re.compile("^Activement"))).not_to_be_checked()
    expect(again.get_by_role("textbox", name="Vos domaines d’expertise")).to_have_value(
        "Classes inversées"
    )
    expect(again.get_by_role("checkbox", name=re.compile("^J’accepte"))).to_be_checked()
    expect(again.get_by_role("status").first).to_contain_text("Vos réponses sont enregistrées")
    assert_accessible(again, "the questionnaire page with saved answers")

    again_context.close()
    context.close()
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_coordinator_corrects_an_unsure_reply_in_the_inbox_by_keyboard(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser
) -> None:
    personal_link(live_server, database, smtp_sink)
    settings = live_server.config.with_overrides(reply_domain="reply.example.org")
    original = smtp_sink.to("anne@example.org")[0]
    with database.session() as session:
        delivery_id = session.scalars(
            select(Delivery.id)
            .join(Person, Person.id == Delivery.person_id)
            .where(Person.email == "anne@example.org")
        ).one()
    reply = EmailMessage()
    reply["From"], reply["To"] = "anne@example.org", signed_address(settings, "reply", delivery_id)
    reply["Subject"], reply["Message-ID"] = f"Re: {original['Subject']}", "<anne-1@example.org>"
    reply.set_content("Je pense que oui, mais je dois d'abord voir avec mon doyen.")
    with database.session() as session:
        inbound_id = pipeline.receive(session, reply.as_bytes(), channel="smtp")
    assert inbound_id is not None
    process_with(settings, database, inbound_id)

    page = browser.new_context(locale="fr-CA").new_page()
    page.set_default_timeout(TIMEOUT_MS)
    sign_in_page(page, live_server)
    page.goto(f"{live_server.base_url}/communities/cop-test/inbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Boîte de réception")
    assert_accessible(page, "the inbox")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("^Re: ")).click()
    expect(page.locator("#new-text")).to_contain_text("Je pense que oui")
    assert_accessible(page, "a received message")

    tab_to(page, "select[name=intent]", limit=40)
    page.locator("select[name=intent]").select_option("interested")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Appliquer cette lecture")).to_be_focused()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_be_visible()
    with database.session() as session:
        state = session.scalars(
            select(Membership.state)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == "anne@example.org")
        ).one()
    assert state == "interested"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("locale", ["fr-CA", "en-CA"])
def test_the_public_page_and_its_confirmation_pass_axe_in_both_languages(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser, locale: str
) -> None:
    seed(database)
    page = browser.new_context(locale=locale).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server.base_url}/c/cop-test")
    expect(page.locator("html")).to_have_attribute("lang", locale[:2])
    assert_accessible(page, f"the public page ({locale})")
    page.locator("input[name=email]").fill("nora@example.org")
    page.locator("input[name=consent]").check()
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.url.endswith("/c/cop-test/check")
    assert_accessible(page, f"the check-your-mailbox page ({locale})")
    body = smtp_sink.to("nora@example.org")[0].get_body(("plain",))
    assert body is not None
    link = re.search(r"https?://\S+/c/confirm/[A-Za-z0-9_-]+", body.get_content())
    assert link
    page.goto(link.group(0))
    assert_accessible(page, f"the confirmation page ({locale})")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert_accessible(page, f"the confirmed page ({locale})")
