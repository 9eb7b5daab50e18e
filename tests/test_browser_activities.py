"""Issue 8 in a real browser: the coordinator reads the rhythm the needs survey points to, adjusts
and confirms it, and gives the first activity its topic and facilitator; after an activity, a
member who came gives feedback on a phone, by keyboard, and its facilitator posts the summary,
which the coordinator then reads on the series page. Every page passes axe."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from browser import BROWSER_MARKS, TIMEOUT_MS, LiveServer, assert_accessible, sign_in_page
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sink import Sink
from sqlalchemy import select
from web_helpers import seed

from webapp.db import Database
from webapp.models import ActivityFeedback, Campaign, Meeting, Membership, Person, Response
from webapp.services import activity_clock, activity_series, meetings
from webapp.services.questionnaires import ensure_questionnaire
from workers.campaigns import drain_with

pytestmark = [*BROWSER_MARKS, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]
LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_-]+")
RULE = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=18;BYMINUTE=30;BYSECOND=0"
NEEDS = {
    "anne@example.org": (["reading_club", "case_study"], "biweekly", ["tue-evening"]),
    "bob@example.org": (["reading_club"], "biweekly", ["tue-evening", "wed-morning"]),
    "chloe@example.org": (["webinar"], "monthly", ["fri-morning"]),
}


def context_for(browser: Browser, locale: str, **options: object) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale=locale, **options)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def link_in(sink: Sink, email: str) -> str:
    body = sink.to(email)[-1].get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found
    return found.group(0)


def members_who_answered(database: Database, community_id: int) -> dict[str, int]:
    with database.session() as session:
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        survey = ensure_questionnaire(session, community_id, "needs")
        people = {p.email: p.id for p in session.scalars(select(Person))}
        for email, (types, frequency, slots) in NEEDS.items():
            session.add(
                Response(
                    questionnaire_id=survey.id,
                    person_id=people[email],
                    answers={
                        "activity_types": types,
                        "frequency": frequency,
                        "availability": slots,
                    },
                    complete=True,
                )
            )
        session.commit()
    return people


def test_the_coordinator_confirms_the_rhythm_and_members_follow_up_an_activity(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser
) -> None:
    seeded = seed(database)
    people = members_who_answered(database, seeded.community_id)
    base = f"{live_server.base_url}/communities/{seeded.slug}/activities"

    # The proposal: every two weeks on Tuesday evening, reading clubs first; Chloé left out.
    _, page = context_for(browser, "fr-CA")
    sign_in_page(page, live_server)
    page.goto(base)
    expect(page.locator("#proposal")).to_contain_text("toutes les deux semaines")
    expect(page.locator("#proposal")).to_contain_text("mardi")
    expect(page.locator("#rotation li").first).to_have_text("Club de lecture")
    expect(page.locator("#left-out")).to_contain_text("chloe@example.org")
    assert_accessible(page, "the activities page with a proposal")

    with page.expect_navigation():
        page.locator("#adjust").click()
    expect(page.get_by_label("Heure de début")).to_have_value("18:30")
    page.get_by_label("Titre").fill("Club de lecture du mardi")
    assert_accessible(page, "the rhythm to confirm")
    with page.expect_navigation():
        page.get_by_role("button", name="Confirmer et planifier les activités").click()
    expect(page.locator("h1")).to_have_text("Club de lecture du mardi")
    rows = page.locator("#occurrences tbody tr")
    expect(rows.first).to_contain_text("18:30")
    assert rows.count() >= 4
    assert_accessible(page, "the series page")

    # The first activity gets its topic and its facilitator, by keyboard.
    with database.session() as session:
        series = activity_series.series_of(session, seeded.community_id)[0]
        first = activity_series.occurrences(session, series.id)[0]
        first_id = first.id
    page.locator(f"#topic-{first_id}").fill("Wenger 1998, chapitre 1")
    page.locator(f"#facilitator-{first_id}").select_option(str(people["anne@example.org"]))
    page.locator(f"#topic-{first_id}").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(f"#row-{first_id}")).to_contain_text("Wenger 1998, chapitre 1")
    expect(page.locator(f"#row-{first_id}")).to_contain_text("Anne")

    # An activity that took place: a series started weeks ago, Bob came, Anne facilitated.
    past = datetime.now(UTC) - timedelta(days=30)
    with time_machine.travel(past, tick=False), database.session() as session:
        older = activity_series.create_series(
            session,
            seeded.community_id,
            activity_series.SeriesData(
                title="Études de cas",
                rrule=RULE,
                timezone="America/Toronto",
                first_start=activity_series.first_start(RULE, "America/Toronto", past.date()),
                activity_types=("case_study",),
            ),
            actor="t",
        )
        held = activity_series.occurrences(session, older)[0]
        held.facilitator_id = people["anne@example.org"]
        meetings.answer(session, held.id, people["bob@example.org"], "accepted")
        session.commit()
        held_id = held.id
    with database.session() as session:
        meetings.check_in(session, held_id, people["bob@example.org"], True)
        activity_clock.follow_up(session, session.get_one(Meeting, held_id))
        session.commit()
        campaign_ids = session.scalars(select(Campaign.id)).all()
    for campaign_id in campaign_ids:
        while drain_with(live_server.config, database, campaign_id):
            pass

    # Bob, in English on a phone: 4 out of 5, a comment and a next topic, by keyboard.
    _, phone = context_for(
        browser, "en-CA", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    phone.goto(link_in(smtp_sink, "bob@example.org"))
    expect(phone.locator("h1")).to_be_visible()
    assert_accessible(phone, "the feedback page (en, phone)")
    phone.get_by_label("4", exact=True).focus()
    phone.keyboard.press("Space")
    phone.get_by_label("A comment (optional)").fill("Un cas très concret.")
    phone.get_by_label("What should the next activities be about? (optional)").fill(
        "Les communautés en ligne"
    )
    with phone.expect_navigation():
        phone.get_by_role("button", name="Send my feedback").click()
    expect(phone.locator("#feedback-status")).to_be_visible()
    assert_accessible(phone, "the feedback page, answered")
    with database.session() as session:
        feedback = session.scalars(select(ActivityFeedback)).one()
        assert (feedback.usefulness, feedback.comment) == (4, "Un cas très concret.")
        assert [t.text for t in activity_series.open_topics(session, older)] == [
            "Les communautés en ligne"
        ]

    # Anne, who facilitated, posts the summary in French.
    _, anne = context_for(browser, "fr-CA")
    anne.goto(link_in(smtp_sink, "anne@example.org"))
    assert_accessible(anne, "the summary page")
    anne.get_by_role("textbox", name="La synthèse").fill("Nous avons comparé trois cas.")
    with anne.expect_navigation():
        anne.get_by_role("button", name="Publier la synthèse").click()
    expect(anne.locator("#summary-status")).to_be_visible()

    # The coordinator reads it on the series page, with the feedback's average.
    page.goto(f"{base}/{older}")
    row = page.locator(f"#row-{held_id}")
    expect(row).to_contain_text("4")
    row.get_by_text("Synthèse").click()
    expect(row).to_contain_text("Nous avons comparé trois cas.")
    assert_accessible(page, "the series page with feedback")
