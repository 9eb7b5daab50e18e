"""Snapshot of every email in both languages: what a recipient reads, letter for letter.

Refresh: ``AMORCE_UPDATE_SNAPSHOTS=1 pytest tests/test_email_snapshots.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from webapp.mail import EmailRenderer, markdown_to_html, render_coordinator_text

SNAPSHOTS = Path(__file__).parent / "snapshots"
MESSAGE = {
    "fr": "Nous lançons **{{ community }}** et votre expérience compterait, {{ first_name }}.",
    "en": "We are starting **{{ community }}** and your experience would count, {{ first_name }}.",
}


def recruitment_values(locale: str, reminder: bool = False) -> dict[str, object]:
    placeholders = {"first_name": "Anne", "last_name": "Tremblay", "community": "CoP Pédagogie"}
    message = render_coordinator_text(MESSAGE[locale], placeholders)
    return {
        "subject": "CoP Pédagogie",
        "first_name": "Anne",
        "reminder": reminder,
        "community_name": "CoP Pédagogie",
        "benefits": ["Partager vos pratiques", "Apprendre <vraiment> des collègues"],
        "message_text": message,
        "message_html": markdown_to_html(message),
        "link": "https://amorce.example.org/r/TOKEN",
        "unsubscribe_url": "https://amorce.example.org/u/TOKEN",
        "sender": {
            "name": "Équipe CoP",
            "organization": "Université Test",
            "postal_address": "1 rue de l'Université, Québec",
            "contact_email": "cop@example.org",
        },
    }


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize(
    ("template", "reminder"),
    [("recruitment", False), ("recruitment", True), ("announcement", False)],
    ids=["recruitment", "recruitment-reminder", "announcement"],
)
def test_campaign_email(locale: str, template: str, reminder: bool) -> None:
    values = recruitment_values(locale, reminder)
    rendered = EmailRenderer().render(template, locale, values)
    actual = {
        "subject.txt": rendered.subject + "\n",
        "txt": rendered.text,
        "html": rendered.html,
    }
    name = f"{template}-reminder" if reminder else template
    for suffix, content in actual.items():
        path = SNAPSHOTS / f"{name}.{locale}.{suffix}"
        if os.environ.get("AMORCE_UPDATE_SNAPSHOTS") == "1" or not path.exists():
            path.write_text(content, encoding="utf-8")
        assert content == path.read_text(encoding="utf-8"), f"{path.name} changed"
    assert "&lt;vraiment&gt;" in rendered.html or template != "recruitment"
    assert "https://amorce.example.org/u/TOKEN" in rendered.text
    assert "https://amorce.example.org/u/TOKEN" in rendered.html


WHEN = {
    "fr": "mardi 3 mars 2027 à 18:30 (America/Toronto)",
    "en": "Tuesday, March 3, 2027 at 6:30 PM",
}


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("step", ["feedback", "reengage"])
def test_activity_email(locale: str, step: str) -> None:
    values = recruitment_values(locale)
    values.update(
        subject="Comment s’est passée l’activité ?" if locale == "fr" else "How was it?",
        activity_step=step,
        meeting={"when": WHEN[locale]} if step == "feedback" else None,
    )
    rendered = EmailRenderer().render("activity", locale, values)
    actual = {"subject.txt": rendered.subject + "\n", "txt": rendered.text, "html": rendered.html}
    for suffix, content in actual.items():
        path = SNAPSHOTS / f"activity-{step}.{locale}.{suffix}"
        if os.environ.get("AMORCE_UPDATE_SNAPSHOTS") == "1" or not path.exists():
            path.write_text(content, encoding="utf-8")
        assert content == path.read_text(encoding="utf-8"), f"{path.name} changed"
    assert ("2027" in rendered.text) == (step == "feedback")
    assert "https://amorce.example.org/r/TOKEN" in rendered.html
