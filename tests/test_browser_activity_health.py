"""Issue 8 in a real browser: the coordinator reads the participation health of the activities
(the attendance and levels charts with their tables, the members going quiet), writes to the
quiet members in one click and lands on the draft campaign; the page with data and its empty
state both pass axe."""

from __future__ import annotations

import pytest
from browser import BROWSER_MARKS, TIMEOUT_MS, LiveServer, assert_accessible, sign_in_page
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from test_participation import build_history
from web_helpers import seed

from webapp.db import Database
from webapp.models import Campaign, User

pytestmark = [*BROWSER_MARKS, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]


def coordinator_page(browser: Browser, live: LiveServer, database: Database) -> Page:
    """The coordinator, who reads in English, signed in."""
    with database.session() as session:
        for user in session.scalars(select(User)):
            user.language = "en"
        session.commit()
    context = browser.new_context(locale="fr-CA")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in_page(page, live)
    return page


def test_the_coordinator_reads_the_health_and_writes_to_the_quiet_members(
    live_server: LiveServer, database: Database, browser: Browser
) -> None:
    history = build_history(database)
    page = coordinator_page(browser, live_server, database)
    page.goto(f"{live_server.base_url}/communities/{history.slug}/activities/health")
    expect(page.get_by_role("heading", name="Participation health")).to_be_visible()
    chart = page.get_by_role("img", name="Attendance at the 4 past activities", exact=False)
    expect(chart).to_be_visible()
    expect(page.get_by_role("img", name="Participation levels", exact=False)).to_be_visible()
    expect(page.locator("#attendance tbody tr")).to_have_count(4)
    expect(page.locator("#quiet tbody tr")).to_have_count(2)
    expect(page.locator("#quiet")).to_contain_text("dan@example.org")
    assert_accessible(page, "the participation health page")

    with page.expect_navigation():
        page.get_by_role("button", name="Write to the 2 members going quiet").click()
    expect(page.locator(".flash.success")).to_contain_text("launch it")
    assert "/campaigns/" in page.url
    assert_accessible(page, "the re-engagement campaign")
    with database.session() as session:
        campaign = session.scalars(select(Campaign)).one()
    assert campaign.activity_step == "reengage"
    assert campaign.audience_filter == {
        "people": sorted([history.ids["chloe"], history.ids["dan"]])
    }
    assert page.url.endswith(f"/campaigns/{campaign.id}")


def test_the_empty_health_page_passes_axe(
    live_server: LiveServer, database: Database, browser: Browser
) -> None:
    seeded = seed(database)
    page = coordinator_page(browser, live_server, database)
    page.goto(f"{live_server.base_url}/communities/{seeded.slug}/activities/health")
    expect(page.locator("#health-empty")).to_contain_text("no series of activities yet")
    assert_accessible(page, "the empty participation health page")
    with page.expect_navigation():
        page.get_by_role("link", name="Go to the activities").click()
    assert page.url.endswith(f"/communities/{seeded.slug}/activities")
