"""Issue 5 in a real browser: a person arrives by a colleague's referral link, confirms by email,
applies, leaves halfway, comes back the next day on another device and finishes; a coordinator
defines a rubric of three criteria, rates, and selects under a cap of one per organisation.
Every public page passes axe, in French and in English."""

from __future__ import annotations

import re

import pytest
from browser import BROWSER_MARKS, TIMEOUT_MS, LiveServer, assert_accessible, sign_in_page
from builders import tell_decision
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sink import Sink
from sqlalchemy import select
from web_helpers import seed

from webapp.db import Database
from webapp.models import Membership, MembershipState, Person
from webapp.services import apply, referrals, signups

pytestmark = [*BROWSER_MARKS, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]
CONFIRM = re.compile(r"https?://\S+/c/confirm/[A-Za-z0-9_-]+")
PERSONAL = re.compile(r"https?://\S+/r/[A-Za-z0-9_-]+")
# Two earlier applicants: Marc shares Nora's organisation, Bob is at McGill.
EARLIER = {
    "marc@example.org": {"expertise_level": "beginner", "hours_per_month": 20, "org": "UQAR"},
    "bob@example.org": {"expertise_level": "intermediate", "hours_per_month": 10, "org": "McGill"},
}
RATINGS = {"nora@example.org": 5, "marc@example.org": 3, "bob@example.org": 4}


def person_id(database: Database, email: str) -> int:
    with database.session() as session:
        return session.scalars(select(Person.id).where(Person.email == email)).one()


def state_of(database: Database, email: str) -> str:
    with database.session() as session:
        return session.scalars(
            select(Membership.state)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.email == email)
        ).one()


def prepare(database: Database) -> str:
    """The seeded community, Anne interested (her referral code returned), two applicants."""
    seeded = seed(database)
    community_id = seeded.community_id
    with database.session() as session:
        anne = person_id(database, "anne@example.org")
        membership = session.scalars(select(Membership).where(Membership.person_id == anne)).one()
        membership.state = MembershipState.INTERESTED
        code = referrals.referral_code(session, community_id, anne)
        signups.request_signup(
            session,
            community_id,
            signups.SignupData(email="marc@example.org", first_name="Marc", consent=True),
        )
        session.flush()
        for email, given in EARLIER.items():
            applicant = session.scalars(select(Person).where(Person.email == email)).one()
            applicant.organization = str(given["org"])
            answers = {
                "motivation": "Partager",
                "expertise": "Évaluation",
                "expertise_level": given["expertise_level"],
                "hours_per_month": given["hours_per_month"],
                "participation_level": "active",
                "organization": given["org"],
            }
            apply.submit(session, community_id, applicant.id, answers)
        session.commit()
    return code


def new_page(browser: Browser, locale: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def sign_up_by_referral(
    page: Page, live: LiveServer, sink: Sink, code: str, *, email: str, axe: str
) -> None:
    """From the referral link to the confirmed page, with axe on each page."""
    page.goto(f"{live.base_url}/c/cop-test?ref={code}")
    expect(page.get_by_text(re.compile("Anne"))).to_be_visible()
    assert_accessible(page, f"the public page by referral ({axe})")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=first_name]").fill("Nora")
    page.locator("input[name=organization]").fill("UQAR")
    page.locator("input[name=consent]").check()
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert page.url.endswith("/c/cop-test/check")
    assert_accessible(page, f"the check-your-mailbox page ({axe})")
    body = sink.to(email)[0].get_body(("plain",))
    assert body is not None
    link = CONFIRM.search(body.get_content())
    assert link
    page.goto(link.group(0))
    assert_accessible(page, f"the confirmation page ({axe})")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert_accessible(page, f"the confirmed page ({axe})")


def emailed_application_link(sink: Sink, email: str) -> str:
    mails = sink.to(email)
    assert len(mails) == 2, [m["Subject"] for m in mails]
    body = mails[1].get_body(("plain",))
    assert body is not None
    link = PERSONAL.search(body.get_content())
    assert link
    return link.group(0)


def test_referral_application_over_two_days_then_selection_under_caps(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser
) -> None:
    code = prepare(database)
    anne = person_id(database, "anne@example.org")

    # Day one: by Anne's link, confirmed, the application started and left halfway.
    context, page = new_page(browser, "fr-CA")
    sign_up_by_referral(page, live_server, smtp_sink, code, email="nora@example.org", axe="fr")
    with page.expect_navigation():
        page.get_by_role("link", name="Remplir ma candidature").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre candidature")
    assert_accessible(page, "the application form")
    page.locator("textarea[name=question_motivation]").fill("Apprendre des collègues")
    page.locator("textarea[name=question_expertise]").fill("Évaluation (expert)")
    page.get_by_label("Rédaction").check()
    expect(page.locator("#autosave-status")).to_contain_text("Enregistré à")
    context.close()
    with database.session() as session:
        nora = session.scalars(select(Membership).where(Membership.referred_by_id == anne)).one()
        assert (nora.source, nora.state) == ("referral", "interested")

    # The next day, another device: the emailed link opens the application as it was left.
    context, page = new_page(browser, "fr-CA")
    page.goto(emailed_application_link(smtp_sink, "nora@example.org"))
    expect(page.get_by_text("Bon retour")).to_be_visible()
    expect(page.locator("textarea[name=question_motivation]")).to_have_value(
        "Apprendre des collègues"
    )
    expect(page.get_by_label("Rédaction")).to_be_checked()
    assert_accessible(page, "the application form, resumed")
    page.get_by_label("Expert·e").check()
    page.locator("input[name=question_hours_per_month]").fill("8")
    page.get_by_label(re.compile("^Au cœur")).check()
    page.locator("input[name=question_organization]").fill("UQAR")
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer ma candidature").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Merci, votre candidature est envoyée"
    )
    expect(page.locator("#referral-link")).to_have_value(re.compile(r"/c/cop-test\?ref="))
    assert_accessible(page, "the application sent page")
    context.close()
    assert state_of(database, "nora@example.org") == "applicant"

    # The coordinator: a rubric of three criteria, ratings, a suggestion capped per organisation.
    context, page = new_page(browser, "fr-CA")
    sign_in_page(page, live_server)
    rubric = f"{live_server.base_url}/communities/cop-test/applications/rubric"
    page.goto(rubric)
    add_criterion(page, "level", "Niveau", "2", question="expertise_level")
    points = page.locator("#points-expertise_level")
    for label, value in (("Débutant·e", "1"), ("Intermédiaire", "2"), ("Expert·e", "4")):
        points.get_by_label(label).fill(value)
    save_criterion(page)
    add_criterion(page, "hours", "Heures", "1", question="hours_per_month")
    page.locator("input[name=minimum]").fill("0")
    page.locator("input[name=maximum]").fill("20")
    save_criterion(page)
    add_criterion(page, "motivation", "Motivation", "3", question=None)
    save_criterion(page)
    expect(page.locator("#criteria tbody tr")).to_have_count(3)

    for email, rating in RATINGS.items():
        applicant = person_id(database, email)
        page.goto(f"{live_server.base_url}/communities/cop-test/applications/{applicant}")
        page.locator(f"input[name^=rating_][value='{rating}']").check()
        with page.expect_navigation():
            page.get_by_role("button", name="Enregistrer mes notes").click()

    page.goto(f"{live_server.base_url}/communities/cop-test/applications")
    page.locator("input[name=size]").fill("2")
    page.locator("input[name=per_organization]").fill("1")
    with page.expect_navigation():
        page.get_by_role("button", name="Suggérer").click()
    ids = {email: person_id(database, email) for email in RATINGS}
    # Nora: (2 × 4/4 + 1 × 8/20 + 3 × 5/5) / 6 = 90; Marc: (2 × 1/4 + 1 + 3 × 3/5) / 6 = 55.
    expect(page.locator(f"#applicant-{ids['nora@example.org']} .score")).to_have_text("90,0")
    expect(page.locator(f"#applicant-{ids['marc@example.org']} .score")).to_have_text("55,0")
    suggested = {
        email: page.locator(f"#applicant-{pid}").get_attribute("data-suggested")
        for email, pid in ids.items()
    }
    assert suggested == {
        "nora@example.org": "yes",
        "marc@example.org": "no",
        "bob@example.org": "yes",
    }
    for email in ("nora@example.org", "bob@example.org"):
        with page.expect_navigation():
            page.locator(f"#applicant-{ids[email]} button[value=selected]").click()
    context.close()
    assert [state_of(database, e) for e in RATINGS] == ["selected", "applicant", "selected"]


def add_criterion(page: Page, key: str, label: str, weight: str, *, question: str | None) -> None:
    page.locator("input[name=key]").fill(key)
    page.locator("input[name=label_fr]").fill(label)
    page.locator("input[name=weight]").fill(weight)
    if question is None:
        page.locator("input[name=source][value=rating]").check()
    else:
        page.locator("input[name=source][value=answer]").check()
        page.locator("select[name=question]").select_option(question)


def save_criterion(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Enregistrer le critère").click()
    expect(page.locator("#criterion-refused")).to_have_count(0)


@pytest.mark.parametrize("locale", ["fr-CA", "en-CA"])
def test_every_page_of_an_applicant_passes_axe(
    live_server: LiveServer, database: Database, smtp_sink: Sink, browser: Browser, locale: str
) -> None:
    code = prepare(database)
    context, page = new_page(browser, locale)
    sign_up_by_referral(page, live_server, smtp_sink, code, email="lea@example.org", axe=locale)
    page.goto(f"{live_server.base_url}/respond/application")
    expect(page.locator("html")).to_have_attribute("lang", locale[:2])
    assert_accessible(page, f"the application form ({locale})")
    with page.expect_navigation():
        page.locator("button[name=action][value=send]").click()  # nothing filled: refused
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(page, f"the application form with errors ({locale})")
    page.locator("textarea[name=question_motivation]").fill("Learn")
    page.locator("textarea[name=question_expertise]").fill("Assessment")
    page.locator("input[name=question_expertise_level][value=expert]").check()
    page.locator("input[name=question_hours_per_month]").fill("4")
    page.locator("input[name=question_participation_level][value=active]").check()
    with page.expect_navigation():
        page.locator("button[name=action][value=send]").click()
    assert page.url.endswith("/respond/application/sent")
    assert_accessible(page, f"the application sent page ({locale})")
    lea = person_id(database, "lea@example.org")
    community_id = state_of_row(database, lea).community_id
    for state in ("waitlisted", "declined", "selected"):
        set_state(database, lea, state)
        tell_decision(database, live_server.config, community_id, state)
        page.goto(f"{live_server.base_url}/respond")
        assert page.url.endswith("/respond/status")
        assert_accessible(page, f"the {state} page ({locale})")
    with page.expect_navigation():
        page.locator("form[action$='/respond/status/confirm'] button").click()
    expect(page.locator("#referral-link")).to_be_visible()
    assert_accessible(page, f"the member page ({locale})")
    assert state_of(database, "lea@example.org") == "member"
    set_state(database, lea, "selected")
    page.goto(f"{live_server.base_url}/respond/withdraw")
    assert_accessible(page, f"the withdraw page ({locale})")
    with page.expect_navigation():
        page.locator("form button[type=submit]").click()
    assert_accessible(page, f"the withdrawn page ({locale})")
    context.close()
    assert state_of(database, "lea@example.org") == "not_interested"


def state_of_row(database: Database, pid: int) -> Membership:
    with database.session() as session:
        return session.scalars(select(Membership).where(Membership.person_id == pid)).one()


def set_state(database: Database, pid: int, state: str) -> None:
    with database.session() as session:
        membership = session.scalars(select(Membership).where(Membership.person_id == pid)).one()
        membership.state = state
        session.commit()
