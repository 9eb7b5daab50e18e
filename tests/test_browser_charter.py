"""Issue 7 in a real browser: two members vote on the statements drawn from the answers (one on a
phone), one proposes an amendment that the other accepts, the coordinator closes the vote, applies
the amendment, opens the consent round and adopts the charter; the public page and the Markdown,
HTML and PDF exports hold the six sections (the PDF read back by pdftotext). Every page passes
axe."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from browser import BROWSER_MARKS, TIMEOUT_MS, LiveServer, assert_accessible, sign_in_page
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sink import Sink
from sqlalchemy import select
from web_helpers import seed

from webapp.db import Database
from webapp.models import Membership, Person, Statement
from webapp.services import campaigns, charter_versions, charters, statements
from workers.campaigns import drain_with

pytestmark = [*BROWSER_MARKS, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]
LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_-]+")
ANSWERS = {
    "anne@example.org": {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager nos pratiques",
        "members": "Des conseillers pédagogiques",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus",
    },
    "bob@example.org": {
        "nature": "Une communauté de pratique ouverte",
        "purpose": "Partager nos pratiques\nRompre l’isolement",
        "members": "Des conseillers pédagogiques",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus",
    },
    "chloe@example.org": {
        "nature": "Communauté de pratique ouverte",
        "purpose": "Partager les bonnes pratiques",
        "members": "Des conseillers pédagogiques",
        "objectives": "Documenter les pratiques efficaces",
        "domain": "La pédagogie numérique",
        "governance": "Les décisions se prennent par consensus",
    },
}
HEADINGS = [
    "Nature",
    "Raison d’être",
    "Qui nous sommes",
    "Objectifs",
    "Domaine d’intérêt et de pratique",
    "Gouvernance",
]


def prepare(live: LiveServer, database: Database, sink: Sink) -> int:
    """Three members answered; their statements are drawn and the vote's email is sent."""
    seeded = seed(database)
    with database.session() as session:
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        ids = {p.email: p.id for p in session.scalars(select(Person))}
        for email, answers in ANSWERS.items():
            charters.save_answers(session, seeded.community_id, ids[email], answers, complete=True)
        statements.draw(session, seeded.community_id, actor="test")
        statements.set_threshold(session, seeded.community_id, 60, 2, actor="test")
        campaign_id = campaigns.create_campaign(session, seeded.community_id, kind="charter")
        campaigns.launch_campaign(session, campaign_id)
        session.commit()
    while drain_with(live.config, database, campaign_id):
        pass
    return seeded.community_id


def link_in(sink: Sink, email: str) -> str:
    body = sink.to(email)[-1].get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found
    return found.group(0)


def member_page(browser: Browser, locale: str, **options: object) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale=locale, **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def test_two_members_vote_one_amends_and_the_coordinator_adopts(
    live_server: LiveServer,
    database: Database,
    smtp_sink: Sink,
    browser: Browser,
    tmp_path: Path,
) -> None:
    community_id = prepare(live_server, database, smtp_sink)
    with database.session() as session:
        drawn = statements.statements_of(session, community_id)
        rompre = next(s for s in drawn if "isolement" in s.text)

    # Anne, in French, agrees with every statement.
    context, page = member_page(browser, "fr-CA")
    page.goto(link_in(smtp_sink, "anne@example.org"))
    expect(page.locator("#votes")).to_be_visible()
    assert_accessible(page, "the vote (fr)")
    for statement in drawn:
        page.locator(f"label[for=vote-{statement.id}-agree]").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer mes votes").click()
    expect(page.locator(".flash.success")).to_be_visible()
    expect(page.locator(f"#vote-{drawn[0].id}-agree")).to_be_checked()
    context.close()

    # Bob, in English on a phone, agrees with all but "Rompre l'isolement", which he passes.
    context, page = member_page(
        browser, "en-CA", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page.goto(link_in(smtp_sink, "bob@example.org"))
    assert_accessible(page, "the vote (en, phone)")
    for statement in drawn:
        choice = "pass" if statement.id == rompre.id else "agree"
        page.locator(f"label[for=vote-{statement.id}-{choice}]").tap()
    with page.expect_navigation():
        page.get_by_role("button", name="Save my votes").tap()
    expect(page.locator(".flash.success")).to_be_visible()
    context.close()

    # The coordinator closes the vote: "Rompre l'isolement" has one vote, below the threshold.
    coordinator, cpage = member_page(browser, "fr-CA")
    sign_in_page(cpage, live_server)
    cpage.goto(f"{live_server.base_url}/communities/cop-test/charter/statements")
    assert_accessible(cpage, "the statements")
    with cpage.expect_navigation():
        cpage.locator("#close-vote").click()
    expect(cpage.locator("#draft-governance + .charter-text")).to_contain_text("consensus")
    expect(cpage.locator("#draft-purpose + .charter-text")).not_to_contain_text("isolement")

    # Anne proposes an amendment to the governance section.
    context, page = member_page(browser, "fr-CA")
    page.goto(link_in(smtp_sink, "anne@example.org"))
    page.get_by_text("Proposer un amendement à « Gouvernance »").click()
    page.locator("#amend-governance").fill(
        "Nous nous gouvernons ainsi :\n\n- Les décisions se prennent par consensus\n"
        "- L’animation tourne chaque année"
    )
    page.locator("#reason-governance").fill("Pour que l’animation ne repose pas sur une personne")
    with page.expect_navigation():
        page.get_by_role("button", name="Proposer cet amendement").click()
    expect(page.locator(".amendment ins").first).to_contain_text("animation")
    assert_accessible(page, "the amendments (fr)")
    context.close()

    # Bob accepts it.
    context, page = member_page(browser, "en-CA")
    page.goto(link_in(smtp_sink, "bob@example.org"))
    with page.expect_navigation():
        page.locator(".amendment").get_by_role("button", name="Accept").click()
    expect(page.locator(".amendment")).to_contain_text("1 accept, 0 reject")
    context.close()

    # The coordinator applies it and opens the consent round.
    cpage.goto(f"{live_server.base_url}/communities/cop-test/charter/adoption")
    assert_accessible(cpage, "the adoption page")
    with cpage.expect_navigation():
        cpage.get_by_role("button", name="Appliquer au projet").click()
    with cpage.expect_navigation():
        cpage.locator("#open-consent").click()

    # Anne consents on her page; Bob by his.
    context, page = member_page(browser, "fr-CA")
    page.goto(link_in(smtp_sink, "anne@example.org"))
    expect(page.locator("#draft-title")).to_be_visible()
    expect(page.get_by_text("L’animation tourne chaque année")).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Je consens").click()
    expect(page.locator("#consent-status")).to_contain_text("vous consentez")
    context.close()
    with database.session() as session:
        bob = session.scalars(select(Person.id).where(Person.email == "bob@example.org")).one()
        charter_versions.answer(session, community_id, bob, "consent")
        session.commit()

    # The coordinator adopts; the public page and every export hold the six sections.
    cpage.goto(f"{live_server.base_url}/communities/cop-test/charter/adoption")
    expect(cpage.locator("#consent-count")).to_contain_text("2")
    with cpage.expect_navigation():
        cpage.locator("#adopt").click()
    expect(cpage.locator("#version-1")).to_be_visible()
    coordinator.close()

    context, page = member_page(browser, "fr-CA")
    page.goto(f"{live_server.base_url}/c/cop-test/charter")
    assert_accessible(page, "the public charter")
    expect(page.locator("h2")).to_have_text(HEADINGS)
    expect(page.locator("body")).not_to_contain_text("accept")
    markdown = page.request.get(f"{live_server.base_url}/c/cop-test/charter.md").text()
    assert re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE) == HEADINGS
    html = page.request.get(f"{live_server.base_url}/c/cop-test/charter.html").text()
    assert all(f"<h2>{heading}</h2>" in html for heading in HEADINGS)
    pdf = page.request.get(f"{live_server.base_url}/c/cop-test/charter.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    target = tmp_path / "charter.pdf"
    target.write_bytes(pdf.body())
    context.close()
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is installed by .ci/run"
    text = subprocess.run(
        [pdftotext, str(target), "-"], check=True, capture_output=True, text=True
    ).stdout
    positions = [text.index(heading) for heading in HEADINGS]
    assert positions == sorted(positions)
    assert "L’animation tourne chaque année" in text
    with database.session() as session:
        assert session.get_one(Statement, rompre.id).text == "Rompre l’isolement"
