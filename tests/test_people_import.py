"""CSV import of prospects, the people list, unsubscribe and suppression, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from webapp.db import Database
from webapp.models import ConsentRecord, Membership, Person
from webapp.services.communities import CommunityData, create_community
from webapp.services.errors import DomainError
from webapp.services.imports import ImportReport, import_people
from webapp.services.people import PersonRow, has_consent, list_people, unsubscribe
from webapp.services.suppressions import is_suppressed, suppress

HEADER = "email,first_name,last_name,language,organization,timezone\n"


@pytest.fixture
def community_id(database: Database) -> int:
    with database.session() as session:
        return create_community(session, CommunityData(name="Pédagogie", slug="pedagogie"))


def run_import(database: Database, community_id: int, text: str, **options: Any) -> ImportReport:
    options = {"source": "network", "consent": "express", **options}
    with database.session() as session:
        return import_people(session, community_id, text, **options)


def people(database: Database, community_id: int, state: str | None = None) -> list[PersonRow]:
    with database.session() as session:
        return list(list_people(session, community_id, state=state))


def counts(database: Database) -> tuple[int, int, int]:
    """How many persons, memberships and consent records exist."""
    with database.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Person, Membership, ConsentRecord)
        )


def where(report: ImportReport) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in report.problems]


# -- rows ----------------------------------------------------------------------------------


def test_good_rows_are_kept_and_bad_rows_reported_by_line_and_column(
    database: Database, community_id: int
) -> None:
    text = (
        HEADER
        + "marie@example.org,Marie,Tremblay,fr,Université Laval,America/Toronto\n"
        + "not-an-address,Paul,,,,\n"
        + "jean@example.org,Jean,,de,,\n"
        + "\n"
        + "ana@example.org,Ana,,,,Mars/Olympus\n"
        + "leo@example.org,Léo,,en,,,surplus\n"
        + "Zoe@Example.org,Zoé,,EN,,Europe/Paris\n"
    )
    report = run_import(database, community_id, text)

    problems = {(p.line, p.column): p.message for p in report.problems}
    assert sorted(problems) == [(3, "email"), (4, "language"), (6, "timezone"), (7, "")]
    assert "not-an-address" in problems[3, "email"]
    assert "'de'" in problems[4, "language"]
    assert "Mars/Olympus" in problems[6, "timezone"]
    assert "7 fields" in problems[7, ""]
    assert report.applied and report.created == 2 and report.good_rows == 2
    rows = {r.email: r for r in people(database, community_id)}
    assert set(rows) == {"marie@example.org", "zoe@example.org"}
    assert (rows["zoe@example.org"].language, rows["zoe@example.org"].timezone) == (
        "en",
        "Europe/Paris",
    )
    marie = rows["marie@example.org"]
    assert (marie.first_name, marie.organization, marie.source, marie.state) == (
        "Marie",
        "Université Laval",
        "network",
        "prospect",
    )


@pytest.mark.parametrize(
    ("header", "named"),
    [("first_name,last_name\n", "email"), ("email,first_name,phone\n", "phone")],
    ids=["missing-email", "unknown-column"],
)
def test_a_bad_header_applies_nothing_and_names_the_column(
    database: Database, community_id: int, header: str, named: str
) -> None:
    report = run_import(database, community_id, header + "a@example.org,Ana,x\n")

    assert not report.applied
    assert where(report) == [(1, named)]
    assert f"'{named}'" in report.problems[0].message
    assert counts(database) == (0, 0, 0)


def test_semicolons_a_bom_and_quoted_commas_are_understood(
    database: Database, community_id: int
) -> None:
    run_import(
        database,
        community_id,
        "\ufeffemail;first_name;organization\r\na@example.org;Ana;Université Laval, Québec\r\n",
    )
    run_import(database, community_id, '\ufeffemail,organization\nb@example.org,"Laval, QC"\n')

    rows = {r.email: r.organization for r in people(database, community_id)}
    assert rows == {"a@example.org": "Université Laval, Québec", "b@example.org": "Laval, QC"}


def test_duplicates_in_the_file_are_merged_not_doubled(
    database: Database, community_id: int
) -> None:
    text = HEADER + "ana@example.org,,Roy,,,\nANA@example.org,Ana,Autre,,Cégep,\n"
    report = run_import(database, community_id, text)

    assert (report.created, report.duplicates_in_file) == (1, 1)
    [row] = people(database, community_id)
    assert (row.first_name, row.last_name, row.organization) == ("Ana", "Roy", "Cégep")
    assert counts(database) == (1, 1, 1)


def test_a_language_given_only_on_a_duplicate_row_is_kept(
    database: Database, community_id: int
) -> None:
    run_import(database, community_id, HEADER + "ana@example.org,,,,,\nana@example.org,,,en,,\n")

    [row] = people(database, community_id)
    assert row.language == "en"


def test_reimport_fills_blanks_without_a_second_membership(
    database: Database, community_id: int
) -> None:
    run_import(database, community_id, HEADER + "ana@example.org,Ana,,,,\n")
    report = run_import(
        database, community_id, HEADER + "ana@example.org,Anne,Roy,,Cégep,Europe/Paris\n"
    )

    assert (report.created, report.merged, report.already_members) == (0, 0, 1)
    [row] = people(database, community_id)
    assert (row.first_name, row.last_name, row.organization, row.timezone) == (
        "Ana",
        "Roy",
        "Cégep",
        "Europe/Paris",
    )
    assert counts(database) == (1, 1, 1)


def test_a_person_known_elsewhere_is_merged_into_a_new_membership(
    database: Database, community_id: int
) -> None:
    with database.session() as session:
        other = create_community(session, CommunityData(name="Autre", slug="autre"))
    run_import(database, other, HEADER + "ana@example.org,Ana,,,,\n")

    report = run_import(database, community_id, HEADER + "ana@example.org,,Roy,,,\n")

    assert (report.created, report.merged) == (0, 1)
    assert [r.last_name for r in people(database, community_id)] == ["Roy"]
    assert counts(database) == (1, 2, 2)


def test_all_or_nothing_applies_nothing_when_a_row_is_bad(
    database: Database, community_id: int
) -> None:
    text = HEADER + "ana@example.org,Ana,,,,\nbad@,Paul,,,,\n"
    report = run_import(database, community_id, text, all_or_nothing=True)

    assert not report.applied
    assert where(report) == [(3, "email")]
    assert counts(database) == (0, 0, 0)


def test_a_line_break_in_a_name_is_refused(database: Database, community_id: int) -> None:
    report = run_import(database, community_id, 'email,first_name\nana@example.org,"An\na"\n')

    assert [p.column for p in report.problems] == ["first_name"]


# -- consent -------------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   "])
def test_implied_consent_without_a_note_is_refused(
    database: Database, community_id: int, note: str
) -> None:
    with pytest.raises(DomainError, match="note"):
        run_import(
            database,
            community_id,
            HEADER + "ana@example.org,,,,,\n",
            consent="implied",
            consent_note=note,
        )
    assert counts(database) == (0, 0, 0)


def test_each_imported_person_gets_a_consent_record(database: Database, community_id: int) -> None:
    run_import(
        database,
        community_id,
        HEADER + "ana@example.org,,,,,\nleo@example.org,,,,,\n",
        consent="implied",
        consent_note="réseau depuis 2023",
        filename="reseau.csv",
    )

    with database.session() as session:
        records = session.scalars(select(ConsentRecord)).all()
    assert len(records) == 2
    for record in records:
        assert (record.basis, record.method, record.note, record.source) == (
            "implied",
            "import",
            "réseau depuis 2023",
            "reseau.csv",
        )
        assert record.text_version and record.community_id == community_id
        assert record.withdrawn_at is None
    assert {r.consent for r in people(database, community_id)} == {"implied"}


@pytest.mark.parametrize(("source", "consent"), [("friends", "express"), ("list", "maybe")])
def test_unknown_source_or_consent_is_refused(
    database: Database, community_id: int, source: str, consent: str
) -> None:
    with pytest.raises(DomainError, match="Unknown"):
        run_import(database, community_id, HEADER, source=source, consent=consent)


# -- suppression and unsubscribe -----------------------------------------------------------


def test_unsubscribe_suppresses_withdraws_consent_and_is_flagged(
    database: Database, community_id: int
) -> None:
    run_import(database, community_id, HEADER + "ana@example.org,,,,,\nleo@example.org,,,,,\n")
    ana = next(r for r in people(database, community_id) if r.email == "ana@example.org")

    with database.session() as session:
        assert unsubscribe(session, community_id, ana.person_id, how="link") is True
    with database.session() as session:
        assert unsubscribe(session, community_id, ana.person_id, how="link") is False
        assert is_suppressed(session, community_id, "ANA@example.org")
        assert not is_suppressed(session, community_id, "leo@example.org")
        assert not has_consent(session, community_id, ana.person_id)

    flags = {r.email: (r.suppressed, r.consent) for r in people(database, community_id)}
    assert flags == {"ana@example.org": (True, ""), "leo@example.org": (False, "express")}
    report = run_import(database, community_id, HEADER + "ana@example.org,,,,,\n")
    assert report.suppressed == ["ana@example.org"]


def test_reimport_does_not_revive_a_withdrawn_consent(
    database: Database, community_id: int
) -> None:
    run_import(database, community_id, HEADER + "ana@example.org,,,,,\n")
    [ana] = people(database, community_id)
    with database.session() as session:
        unsubscribe(session, community_id, ana.person_id, how="link")

    run_import(database, community_id, HEADER + "ana@example.org,,,,,\n")

    with database.session() as session:
        assert not has_consent(session, community_id, ana.person_id)


def test_suppression_is_per_community_unless_global(database: Database, community_id: int) -> None:
    with database.session() as session:
        other = create_community(session, CommunityData(name="Autre", slug="autre"))
        suppress(session, "ana@example.org", community_id=other, reason="test", actor="test")
        suppress(session, "leo@example.org", community_id=None, reason="test", actor="test")

    report = run_import(
        database, community_id, HEADER + "ana@example.org,,,,,\nleo@example.org,,,,,\n"
    )

    assert report.suppressed == ["leo@example.org"]
    with database.session() as session:
        assert is_suppressed(session, other, "ana@example.org")
        assert not is_suppressed(session, community_id, "ana@example.org")
        assert is_suppressed(session, community_id, "leo@example.org")
    flags = {r.email: r.suppressed for r in people(database, community_id)}
    assert flags == {"ana@example.org": False, "leo@example.org": True}


# -- listing -------------------------------------------------------------------------------


def test_list_people_filters_by_state_and_refuses_an_unknown_one(
    database: Database, community_id: int
) -> None:
    run_import(database, community_id, HEADER + "leo@example.org,,,,,\nana@example.org,,,,,\n")

    assert [r.email for r in people(database, community_id)] == [
        "ana@example.org",
        "leo@example.org",
    ]
    assert len(people(database, community_id, state="prospect")) == 2
    assert people(database, community_id, state="member") == []
    with pytest.raises(DomainError, match="'ghost'"):
        people(database, community_id, state="ghost")
