"""The applications and their scores downloaded as CSV and XLSX (issue 5): one row per
applicant with their score, each criterion, the reviewers' disagreement and every answer; headers
in the coordinator's language; formula-looking answers neutralised; another coordinator finds
nothing (W9)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from web_helpers import PASSWORD, other_coordinator, running_app, seed, sign_in

from webapp.config import Config
from webapp.db import Database
from webapp.exports import neutralise, sheet_name
from webapp.models import Membership, Person, QuestionnaireKind, Response, User
from webapp.services import applications, users
from webapp.services.applications import CriterionData
from webapp.services.questionnaires import ensure_questionnaire

FORMULA = '=HYPERLINK("http://evil.example","clic")'
ANSWERS = {
    "anne@example.org": {
        "motivation": FORMULA,
        "expertise_level": "expert",
        "skills": ["facilitation", "writing"],
        "hours_per_month": 10,
        "participation_level": "core",
    },
    "bob@example.org": {
        "motivation": "Partager",
        "expertise_level": "intermediate",
        "skills": ["research"],
        "hours_per_month": 30,
        "other": "@SUM(A1:A9)",
    },
    "chloe@example.org": {
        "motivation": "-2+3",
        "expertise_level": "beginner",
        "hours_per_month": 5,
    },
}
QUESTIONS_EN = [
    "What makes you want to join the community?",
    "Your areas of expertise",
    "Your level in your main area",
    "The skills you can bring",
    "How many hours a month can you give?",
    "How would you like to take part?",
    "Your department or organisation",
    "Anything else?",
]
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@dataclass
class Exports:
    """A community with three scored applications and its coordinator."""

    app: object
    slug: str
    community_id: int

    def client(self, email: str = "coord@example.org", *, lang: str = "en") -> FlaskClient:
        client = self.app.test_client()  # type: ignore[attr-defined]
        sign_in(client, email)
        if lang:
            client.get(f"/?lang={lang}")
        return client

    def path(self, kind: str) -> str:
        return f"/communities/{self.slug}/applications/export.{kind}"


@pytest.fixture
def exports(database: Database, config: Config) -> Iterator[Exports]:
    seeded = seed(database)
    with database.session() as session:
        cid = seeded.community_id
        ids = {email: id_ for email, id_ in session.execute(select(Person.email, Person.id))}
        questionnaire = ensure_questionnaire(session, cid, QuestionnaireKind.APPLICATION)
        for email, answers in ANSWERS.items():
            session.add(
                Response(
                    questionnaire_id=questionnaire.id,
                    person_id=ids[email],
                    answers=answers,
                    complete=True,
                )
            )
        session.query(Membership).update({"state": "applicant"})
        define = applications.define_criterion
        define(
            session,
            cid,
            CriterionData(
                key="level",
                label={"fr": "Niveau d’expertise", "en": "Expertise level"},
                weight=2,
                source="answer",
                question="expertise_level",
                scoring={"points": {"beginner": 1, "intermediate": 2, "expert": 4}},
            ),
        )
        define(
            session,
            cid,
            CriterionData(
                key="hours",
                label={"fr": "Heures", "en": "Hours"},
                source="answer",
                question="hours_per_month",
                scoring={"min": 0, "max": 20},
            ),
        )
        expertise = define(
            session,
            cid,
            CriterionData(key="expertise", label={"fr": "Expertise", "en": "Expertise"}, weight=3),
        )
        reviewer = users.create_user(session, "reviewer@example.org", PASSWORD)
        coordinator = session.scalars(select(User.id).where(User.email == seeded.user_email)).one()
        for person, who, score in (
            ("anne@example.org", coordinator, 5),
            ("anne@example.org", reviewer, 2),
            ("bob@example.org", coordinator, 4),
        ):
            applications.rate(session, cid, expertise, ids[person], who, score)
        applications.decide(session, cid, ids["anne@example.org"], "selected", actor="t")
        applications.decide(session, cid, ids["bob@example.org"], "waitlisted", actor="t")
    with running_app(config) as app:
        yield Exports(app, seeded.slug, seeded.community_id)


def download(client: FlaskClient, path: str) -> tuple[bytes, str]:
    """The file's bytes and the name the browser saves it under."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    match = re.search(r'filename="([^"]+)"', disposition)
    assert match, disposition
    return response.get_data(), match.group(1)


def today() -> str:
    return datetime.now(ZoneInfo("America/Toronto")).date().isoformat()


def test_the_csv_has_a_row_per_applicant_best_first(exports: Exports) -> None:
    client = exports.client()
    before = today()
    data, filename = download(client, exports.path("csv"))
    assert filename in {f"cop-test-applications-{d}.csv" for d in (before, today())}
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the accents right
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [
        "Email",
        "First name",
        "Last name",
        "Organization",
        "Source",
        "State",
        "Score",
        "Expertise level",
        "Hours",
        "Expertise",
        "Expertise: disagreement",
        *QUESTIONS_EN,
    ]
    assert [r[:11] for r in rows[1:]] == [
        # Anne: (2 × 4/4 + 1 × 10/20 + 3 × 3.5/5) / 6 = 76.7; her reviewers are 3 points apart.
        ["anne@example.org", "Anne", "Tremblay", "Université Laval", "network", "selected"]
        + ["76.7", "100.0", "50.0", "70.0", "3"],
        ["bob@example.org", "Bob", "Smith", "McGill", "network", "waitlisted"]
        + ["73.3", "50.0", "100.0", "80.0", ""],  # one rating: no disagreement to speak of
        ["chloe@example.org", "Chloé", "Roy", "UQAM", "network", "applicant"]
        + ["12.5", "25.0", "25.0", "", ""],  # not rated yet
    ]
    answers = {r[0]: dict(zip(QUESTIONS_EN, r[11:], strict=True)) for r in rows[1:]}
    anne, bob, chloe = (answers[f"{n}@example.org"] for n in ("anne", "bob", "chloe"))
    assert anne["The skills you can bring"] == "Facilitation; Writing"
    assert anne["Your level in your main area"] == "Expert"
    assert anne["How many hours a month can you give?"] == "10"
    assert anne["How would you like to take part?"] == "At the core: lead and carry the community"
    assert chloe["The skills you can bring"] == "" and chloe["Anything else?"] == ""
    # Answers a spreadsheet would run as formulas arrive as plain text.
    assert anne["What makes you want to join the community?"] == "'" + FORMULA
    assert bob["Anything else?"] == "'@SUM(A1:A9)"
    assert chloe["What makes you want to join the community?"] == "'-2+3"


def test_the_headers_follow_the_coordinators_language(exports: Exports) -> None:
    data, _name = download(exports.client(lang="fr"), exports.path("csv"))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:10] == [
        "Courriel",
        "Prénom",
        "Nom",
        "Organisation",
        "Provenance",
        "État",
        "Score",
        "Niveau d’expertise",
        "Heures",
        "Expertise",
    ]
    assert "Les compétences que vous pouvez apporter" in rows[0]
    skills = rows[0].index("Les compétences que vous pouvez apporter")
    assert rows[1][skills] == "Animation; Rédaction"


def read_xlsx(data: bytes) -> tuple[dict[str, str | float], str, str]:
    """The cells of the first sheet by reference (text or number), the sheet's XML and the
    styles' XML."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        strings_xml = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
        styles = archive.read("xl/styles.xml").decode()
        workbook = archive.read("xl/workbook.xml").decode()
    assert 'name="Applications"' in workbook
    strings = ["".join(t.text or "" for t in si.iter(f"{SHEET}t")) for si in strings_xml]
    cells: dict[str, str | float] = {}
    for cell in ElementTree.fromstring(sheet_xml).iter(f"{SHEET}c"):
        value = cell.find(f"{SHEET}v")
        if value is None or value.text is None:
            continue
        shared = cell.get("t") == "s"
        cells[cell.get("r", "")] = strings[int(value.text)] if shared else float(value.text)
    return cells, sheet_xml, styles


def test_the_xlsx_opens_with_a_frozen_bold_header_and_numbers_as_numbers(
    exports: Exports,
) -> None:
    data, filename = download(exports.client(), exports.path("xlsx"))
    assert re.fullmatch(r"cop-test-applications-\d{4}-\d{2}-\d{2}\.xlsx", filename)
    cells, sheet, styles = read_xlsx(data)
    assert [cells[f"{c}1"] for c in "ABCDEFG"] == [
        "Email",
        "First name",
        "Last name",
        "Organization",
        "Source",
        "State",
        "Score",
    ]
    assert cells["A2"] == "anne@example.org" and cells["F2"] == "selected"
    assert cells["G2"] == 76.7 and cells["H2"] == 100.0 and cells["K2"] == 3.0
    assert cells["G4"] == 12.5 and "J4" not in cells  # Chloé has no rating: an empty cell
    assert 'state="frozen"' in sheet and 'ySplit="1"' in sheet
    assert "<b/>" in styles  # the header row is bold
    widths = [float(w) for w in re.findall(r'<col [^>]*width="([\d.]+)"', sheet)]
    assert len(widths) == 11 + len(QUESTIONS_EN) and all(8 <= w <= 61 for w in widths)
    # Text stays text: the formula-looking answer is a string, never a formula.
    assert FORMULA in cells.values() and "<f>" not in sheet


def test_the_ranking_links_to_the_downloads(exports: Exports) -> None:
    page = exports.client().get(f"/communities/{exports.slug}/applications").get_data(True)
    assert f'href="{exports.path("csv")}"' in page and f'href="{exports.path("xlsx")}"' in page
    assert f'href="/communities/{exports.slug}/applications/coverage"' in page


def test_only_the_communitys_coordinators_download(exports: Exports, database: Database) -> None:
    anonymous = exports.app.test_client()  # type: ignore[attr-defined]
    for kind in ("csv", "xlsx"):
        response = anonymous.get(exports.path(kind))
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    other_coordinator(database)
    client = exports.client("other@example.org")
    for kind in ("csv", "xlsx"):
        assert client.get(exports.path(kind)).status_code == 404
        other_export = f"/communities/other/applications/export.{kind}"
        data, _name = download(client, other_export)  # their own: nobody applied yet
        if kind == "csv":
            assert data.decode("utf-8-sig").count("\r\n") == 1  # the header alone
    assert exports.client().get(exports.path("pdf")).status_code == 404


def test_cells_that_look_like_formulas_are_neutralised_and_numbers_kept() -> None:
    for text in ("=1+1", "+33 1 23", "-x", "@cmd", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("Université Laval") == "Université Laval"
    assert neutralise(-5) == -5 and neutralise(None) is None
    name = sheet_name("Candidatures: 2025/26 [brouillon] et beaucoup plus")
    assert name.startswith("Candidatures  2025 26") and len(name) == 31  # Excel's limit
    assert not set(name) & set("[]:*?/\\")
