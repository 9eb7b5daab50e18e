"""Issue 6 in a real browser: three members in three time zones answer the availability poll (one
by keyboard only, one on a phone-sized screen), the coordinator confirms the recommended slot,
and a member accepts the invitation on its web page. Every page passes axe."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from browser import BROWSER_MARKS, TIMEOUT_MS, LiveServer, assert_accessible, sign_in_page, tab_to
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sink import Sink
from sqlalchemy import select
from web_helpers import seed

from webapp.db import Database
from webapp.models import Meeting, Membership, Person, Rsvp
from webapp.services import campaigns, poll_slots, poll_zones, polls
from workers.campaigns import drain_with

pytestmark = [*BROWSER_MARKS, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]
LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_-]+")
ZONES = {
    "anne@example.org": "America/Toronto",
    "bob@example.org": "America/Vancouver",
    "chloe@example.org": "Europe/Paris",
}
# Slots in Toronto: 5 Feb 9:00 (Vancouver 6:00, Paris 15:00), 6 Feb 13:00, 7 Feb 18:00.
SLOTS = [datetime(2030, 2, 5, 9, 0), datetime(2030, 2, 6, 13, 0), datetime(2030, 2, 7, 18, 0)]
# Who can come when: the 6th suits everyone (Chloé if need be), the others lose someone.
ANSWERS = {
    "anne@example.org": ["yes", "yes", "no"],
    "bob@example.org": ["no", "yes", "yes"],
    "chloe@example.org": ["yes", "if_need_be", "no"],
}


def prepare(live: LiveServer, database: Database, sink: Sink) -> tuple[int, list[int]]:
    """The seeded community as a founding group in three zones, a poll, its email sent."""
    seeded = seed(database)
    with database.session() as session:
        for person in session.scalars(select(Person)):
            person.timezone = ZONES[person.email]
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        poll_id = polls.create_poll(
            session,
            seeded.community_id,
            title="Rencontre de fondation",
            timezone="America/Toronto",
            actor="test",
        )
        slot_ids = [
            poll_slots.add_slot(
                session,
                poll_id,
                start_local=start,
                duration_minutes=150,
                place="Salle 1234",
                actor="test",
            )
            for start in SLOTS
        ]
        campaign_id = campaigns.create_campaign(
            session, seeded.community_id, kind="availability", poll_id=poll_id
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(live.config, database, campaign_id):
        pass
    return poll_id, slot_ids


def link_in(sink: Sink, email: str, index: int = -1) -> str:
    body = sink.to(email)[index].get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found
    return found.group(0)


def member_page(browser: Browser, locale: str, **options: object) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale=locale, **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def test_three_zones_answer_the_coordinator_confirms_and_a_member_accepts(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser
) -> None:
    poll_id, slot_ids = prepare(live_server, database, smtp_sink)

    # Anne, in Toronto, by keyboard only.
    context, page = member_page(browser, "fr-CA")
    page.goto(link_in(smtp_sink, "anne@example.org"))
    expect(page.get_by_text("America/Toronto").first).to_be_visible()
    assert_accessible(page, "the poll (fr)")
    for slot_id, answer in zip(slot_ids, ANSWERS["anne@example.org"], strict=True):
        tab_to(page, f"#slot-{slot_id}-yes", limit=40)
        steps = {"yes": 0, "if_need_be": 1, "no": 2}[answer]
        page.keyboard.press("Space")
        for _ in range(steps):
            page.keyboard.press("ArrowRight")
        expect(page.locator(f"#slot-{slot_id}-{answer}")).to_be_checked()
    tab_to(page, "#poll-form button[type=submit]", limit=10)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".flash.success")).to_be_visible()
    context.close()

    # Bob, in Vancouver, in English, on a phone-sized screen: 9:00 in Toronto is 6:00 for him.
    context, page = member_page(
        browser, "en-CA", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page.goto(link_in(smtp_sink, "bob@example.org"))
    expect(page.locator(f"#slot-{slot_ids[0]} legend")).to_contain_text("6:00")
    expect(page.get_by_text("America/Vancouver").first).to_be_visible()
    assert_accessible(page, "the poll (en, phone)")
    for slot_id, answer in zip(slot_ids, ANSWERS["bob@example.org"], strict=True):
        page.locator(f"label[for=slot-{slot_id}-{answer}]").tap()
    with page.expect_navigation():
        page.get_by_role("button", name="Save my availability").tap()
    context.close()

    # Chloé, in Paris.
    context, page = member_page(browser, "fr-FR")
    page.goto(link_in(smtp_sink, "chloe@example.org"))
    expect(page.locator(f"#slot-{slot_ids[0]} legend")).to_contain_text("15:00")
    for slot_id, answer in zip(slot_ids, ANSWERS["chloe@example.org"], strict=True):
        page.locator(f"#slot-{slot_id}-{answer}").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer mes disponibilités").click()
    context.close()

    # The coordinator sees the heat map and confirms the recommended slot, the 6th.
    context, page = member_page(browser, "fr-CA")
    sign_in_page(page, live_server)
    page.goto(f"{live_server.base_url}/communities/cop-test/meetings/polls/{poll_id}/answers")
    assert_accessible(page, "the heat map")
    expect(page.locator(f"input[name=slot][value='{slot_ids[1]}']")).to_be_checked()
    with page.expect_navigation():
        page.locator("#confirm").click()
    assert_accessible(page, "the meeting page")
    context.close()
    with database.session() as session:
        meeting = session.scalars(select(Meeting)).one()
        assert meeting.starts_at == poll_zones.local_to_utc(SLOTS[1], "America/Toronto")
        community_id, meeting_id = meeting.community_id, meeting.id
        campaign_id = campaigns.create_campaign(
            session, community_id, kind="invitation", meeting_id=meeting_id
        )
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(live_server.config, database, campaign_id):
        pass

    # Bob accepts on the invitation's page.
    context, page = member_page(browser, "en-CA")
    page.goto(link_in(smtp_sink, "bob@example.org"))
    expect(page.locator("#meeting-when")).to_contain_text("America/Vancouver")
    expect(page.locator("#meeting-when")).to_contain_text("10:00")  # 13:00 in Toronto
    assert_accessible(page, "the invitation page (en)")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, I will come").click()
    expect(page.locator("#rsvp-status")).to_contain_text("you are expected")
    context.close()
    with database.session() as session:
        bob = session.scalars(select(Person.id).where(Person.email == "bob@example.org")).one()
        rsvp = session.scalars(select(Rsvp).where(Rsvp.person_id == bob)).one()
        assert (rsvp.status, rsvp.source) == ("accepted", "web")
