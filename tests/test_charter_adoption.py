"""Amendments, consent and adoption of the charter (issue 7): an amendment shows its change and
applies only to the text it was written against; the consent round needs every amendment decided
and adopts only without objection; each adopted version is kept with its diff, a review reminder
is scheduled, and `amorce charter export` writes Markdown, HTML and PDF. Member text never becomes
markup in the pages or the exports (W6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from builders import community_with_people
from sqlalchemy import select

from webapp.db import Database
from webapp.models import Campaign, CharterVersion, Delivery, Membership, Person
from webapp.services import amendments, charter_versions, charters, statements
from webapp.services.errors import DomainError, NotFound

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = """email,first_name,language
ana@example.org,Ana,fr
ben@example.org,Ben,en
cleo@example.org,Cléo,fr
"""
ANSWER = {
    "nature": "Une communauté de pratique ouverte",
    "purpose": "Partager nos pratiques",
    "members": "Des conseillers pédagogiques",
    "objectives": "Documenter les pratiques efficaces",
    "domain": "La pédagogie numérique",
    "governance": "Les décisions se prennent par consensus",
}
REVIEW = date.today() + timedelta(days=365)


def drafted(database: Database) -> tuple[int, dict[str, int]]:
    """Three members answered the same; everyone agreed; the draft is out for amendments."""
    with database.session() as session:
        community_id = community_with_people(session, PEOPLE)
        for membership in session.scalars(select(Membership)):
            membership.state = "member"
        ids = {p.first_name: p.id for p in session.scalars(select(Person))}
        for name, person_id in ids.items():
            answer = dict(ANSWER)
            if name == "Cléo":
                answer["values"] = "ignored: not a question of the questionnaire"
                answer["domain"] = "La pédagogie numérique\n<script>alert(1)</script> **gras**"
            charters.save_answers(session, community_id, person_id, answer, complete=True)
        statements.draw(session, community_id, actor="t")
        statements.set_threshold(session, community_id, 60, 1, actor="t")
        for person_id in ids.values():
            choices = {s.id: "agree" for s in statements.statements_of(session, community_id)}
            statements.vote(session, community_id, person_id, choices)
        statements.close_vote(session, community_id, actor="t")
        session.commit()
    return community_id, ids


def test_amendments_consent_and_adoption(database: Database) -> None:
    community_id, ids = drafted(database)
    with database.session() as session:
        before = amendments.current_text(session, community_id, "governance")
        assert before.startswith("Nous nous gouvernons ainsi :")
        with pytest.raises(DomainError, match="change something"):
            amendments.propose(
                session, community_id, "governance", before, "", person_id=ids["Ana"], actor="t"
            )
        with pytest.raises(NotFound):
            amendments.propose(
                session, community_id, "nothing", "x", "", person_id=ids["Ana"], actor="t"
            )
        first = amendments.propose(
            session,
            community_id,
            "governance",
            before + "\n- L’animation tourne chaque année",
            "Une <b>rotation</b>",
            person_id=ids["Ana"],
            actor="t",
        )
        second = amendments.propose(
            session,
            community_id,
            "governance",
            before.replace("consensus", "vote"),
            "",
            person_id=ids["Ben"],
            actor="t",
        )
        amendments.vote(session, community_id, first, ids["Ben"], True)
        amendments.vote(session, community_id, first, ids["Cléo"], False)
        amendments.vote(session, community_id, first, ids["Cléo"], True)  # changed her mind
        session.commit()
    with database.session() as session:
        views = {v.amendment.id: v for v in amendments.amendments_of(session, community_id)}
        assert (views[first].accepts, views[first].rejects) == (2, 0)
        assert "<ins>\n- L’animation tourne chaque année</ins>" in views[first].diff
        assert "<del>consensus</del><ins>vote</ins>" in views[second].diff
        with pytest.raises(DomainError, match="Decide the open amendments first"):
            charter_versions.open_consent(session, community_id, actor="t")
        amendments.decide(session, community_id, first, True, actor="t")
        # The second was written against the old text: it no longer applies as is.
        with pytest.raises(DomainError, match="changed since"):
            amendments.decide(session, community_id, second, True, actor="t")
        with pytest.raises(DomainError, match="Only its author"):
            amendments.withdraw(session, community_id, second, ids["Ana"])
        amendments.withdraw(session, community_id, second, ids["Ben"])
        assert "L’animation" in amendments.current_text(session, community_id, "governance")

        assert charter_versions.open_consent(session, community_id, actor="t") == 1
        with pytest.raises(DomainError, match="Say why you object"):
            charter_versions.answer(session, community_id, ids["Cléo"], "object", "  ")
        charter_versions.answer(session, community_id, ids["Ana"], "consent")
        charter_versions.answer(session, community_id, ids["Cléo"], "object", "Trop vague")
        with pytest.raises(DomainError, match=r"Objections remain \(1\)"):
            charter_versions.adopt(session, community_id, REVIEW, actor="t")
        charter_versions.answer(session, community_id, ids["Cléo"], "consent")
        with pytest.raises(DomainError, match="in the future"):
            charter_versions.adopt(
                session, community_id, date.today() - timedelta(days=1), actor="t"
            )
        assert charter_versions.adopt(session, community_id, REVIEW, actor="t") == 1
        session.commit()

    with database.session() as session:
        # The review reminder waits for its day, 9:00 in the community's zone (Toronto).
        review = session.scalars(select(Campaign).where(Campaign.kind == "announcement")).one()
        due = {
            d.due_at
            for d in session.scalars(select(Delivery).where(Delivery.campaign_id == review.id))
        }
        assert len(due) == 1
        assert due.pop().astimezone(UTC).date() == REVIEW
        # A revision: amend, a new consent round, version 2 with its diff.
        charter_versions.revise(session, community_id, actor="t")
        text = amendments.current_text(session, community_id, "purpose")
        change = amendments.propose(
            session,
            community_id,
            "purpose",
            text + "\n- Rompre l’isolement",
            "",
            person_id=None,
            actor="user:1",
        )
        amendments.decide(session, community_id, change, True, actor="t")
        assert charter_versions.open_consent(session, community_id, actor="t") == 2
        for person_id in ids.values():
            charter_versions.answer(session, community_id, person_id, "consent")
        assert charter_versions.adopt(session, community_id, REVIEW, actor="t") == 2
        session.commit()
    with database.session() as session:
        latest = charter_versions.version(session, community_id)
        changes = charter_versions.diff_to_previous(session, latest)
        assert [heading for heading, _ in changes] == ["Raison d’être"]
        assert "<ins>\n- Rompre l’isolement</ins>" in changes[0][1]
        assert session.scalar(select(CharterVersion.number).where(CharterVersion.number == 1))
        with pytest.raises(NotFound, match="no version 7"):
            charter_versions.version(session, community_id, 7)


def test_exports_and_the_command_line_keep_member_text_as_text(
    database: Database, tmp_path: Path
) -> None:
    community_id, ids = drafted(database)
    with database.session() as session:
        charter_versions.open_consent(session, community_id, actor="t")
        for person_id in ids.values():
            charter_versions.answer(session, community_id, person_id, "consent")
        charter_versions.adopt(session, community_id, REVIEW, actor="t")
        session.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMORCE_")}
    env.update(AMORCE_DATABASE_URL=database.url, AMORCE_INSTANCE_PATH=str(tmp_path))

    def export(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "webapp.cli", "charter", "export", "cop", *args],
            env=env,
            capture_output=True,
            cwd=ROOT,
        )

    markdown = export().stdout.decode()
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Nature",
        "## Raison d’être",
        "## Qui nous sommes",
        "## Objectifs",
        "## Domaine d’intérêt et de pratique",
        "## Gouvernance",
    ]
    assert markdown.startswith("# Charte de CoP\n")
    assert r"\<script\>alert\(1\)\<\/script\> \*\*gras\*\*" in markdown
    html = export("--format", "html", "--version", "1").stdout.decode()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; **gras**" in html
    pdf = export("--format", "pdf").stdout
    assert pdf.startswith(b"%PDF-")
    missing = export("--version", "3")
    assert missing.returncode != 0 and b"no version 3" in missing.stderr
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        target = tmp_path / "charter.pdf"
        target.write_bytes(pdf)
        text = subprocess.run(
            [pdftotext, str(target), "-"], check=True, capture_output=True, text=True
        ).stdout
        assert "<script>alert(1)</script> **gras**" in text
        assert "Gouvernance" in text and "Version 1" in text


def test_a_version_keeps_its_text_when_the_draft_changes(database: Database) -> None:
    community_id, ids = drafted(database)
    with database.session() as session:
        charter_versions.open_consent(session, community_id, actor="t")
        charter_versions.answer(session, community_id, ids["Ana"], "consent")
        charter_versions.adopt(session, community_id, REVIEW, actor="t")
        charter_versions.revise(session, community_id, actor="t")
        text = amendments.current_text(session, community_id, "nature")
        change = amendments.propose(
            session, community_id, "nature", "Tout autre chose", "", person_id=None, actor="t"
        )
        amendments.decide(session, community_id, change, True, actor="t")
        session.commit()
    with database.session() as session:
        first = charter_versions.version(session, community_id, 1)
        assert first.sections[0]["text"] == text
        assert charters.charter_of(session, community_id).stage == "amending"
        assert datetime.now(UTC) > first.adopted_at
