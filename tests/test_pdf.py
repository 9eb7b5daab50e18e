"""The charter's PDF as a reader sees it, read back by poppler's pdftotext."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from webapp.services import pdf
from webapp.services.pdf import markdown_to_pdf

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)

CHARTER = """# Charte de l’Amorce

Nous, membres fondateurs, voulons **agir** ensemble, *vraiment* — « œuvrer » à l’été…

## Raison d’être

- Prendre soin des lieux communs
- Décider ensemble, même quand c’est long et qu’il faut passer à la ligne plusieurs fois pour \
tout dire sans rien oublier de ce qui compte
  - Y compris les sous-points

1. Écouter
2. Répondre

## Qui la compose

\\<script\\>alert(1)\\</script\\> et `<b>code</b>`, voir [lien](https://example.org) ou \
[x](javascript:alert(1)) et [écrire](mailto:contact@example.org).
"""


def read(document: bytes, tmp_path: Path) -> str:
    """The text pdftotext sees in the PDF, pages separated by form feeds."""
    path = tmp_path / "charter.pdf"
    path.write_bytes(document)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_the_bytes_are_a_pdf() -> None:
    assert markdown_to_pdf(CHARTER, title="Charte").startswith(b"%PDF-")


@needs_pdftotext
def test_headings_come_in_order_with_french_text_intact(tmp_path: Path) -> None:
    text = read(markdown_to_pdf(CHARTER, title="Charte"), tmp_path)
    positions = [text.index(h) for h in ("Charte de l’Amorce", "Raison d’être", "Qui la compose")]
    assert positions == sorted(positions)
    assert "« œuvrer » à l’été…" in text
    assert "agir ensemble, vraiment —" in text


@needs_pdftotext
def test_lists_show_bullets_and_numbers(tmp_path: Path) -> None:
    text = read(markdown_to_pdf(CHARTER, title="Charte"), tmp_path)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for start in ("• Prendre soin", "• Décider", "• Y compris", "1. Écouter", "2. Répondre"):
        assert any(line.startswith(start) for line in lines), start


@needs_pdftotext
def test_markup_prints_as_text_and_only_safe_links_show_their_address(tmp_path: Path) -> None:
    text = read(markdown_to_pdf(CHARTER, title="Charte"), tmp_path)
    assert "<script>alert(1)</script>" in text
    assert "<b>code</b>" in text
    assert "lien (https://example.org)" in text
    assert "écrire (mailto:contact@example.org)" in text
    assert "javascript" not in text


@needs_pdftotext
def test_long_documents_paginate_and_carry_the_footer(tmp_path: Path) -> None:
    markdown = "# Charte\n\n" + "\n\n".join(
        f"Paragraphe {n} : nous décidons ensemble, à l’unanimité ou presque." for n in range(300)
    )
    markdown += "\n\n" + "x" * 2000  # One word wider than the page.
    footer = "Version 2 · adoptée le 3 mars 2027"
    text = read(markdown_to_pdf(markdown, title="Charte", footer=footer), tmp_path)
    pages = text.rstrip("\f").split("\f")
    assert len(pages) > 3
    assert all(footer in page for page in pages)
    assert f"1/{len(pages)}" in pages[0].replace(" ", "")
    assert text.index("Paragraphe 0 ") < text.index("Paragraphe 299 ")
    assert "x" * 60 in pages[-1]


@needs_pdftotext
def test_metadata_carries_title_language_and_creator(tmp_path: Path) -> None:
    document = markdown_to_pdf(CHARTER, title="Charte de l’Amorce", language="fr")
    path = tmp_path / "charter.pdf"
    path.write_bytes(document)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    assert "Charte de l’Amorce" in info
    assert "Amorce" in info.split("Creator:")[1].splitlines()[0]
    assert b"/Lang (fr)" in document


@needs_pdftotext
def test_without_a_unicode_font_the_core_font_prints_readable_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf, "_font_files", lambda: None)
    footer = "Version 2 · adoptée"
    text = read(markdown_to_pdf(CHARTER + "\n😀", title="Charte", footer=footer), tmp_path)
    assert "Charte de l'Amorce" in text
    assert "« oeuvrer » à l'été..." in text
    assert "agir ensemble, vraiment -" in text
    assert "<script>alert(1)</script>" in text
    assert footer in text


@needs_pdftotext
def test_styled_words_wrap_whole(tmp_path: Path) -> None:
    words = ["assemblée", "décision", "consentement", "œuvre", "communauté", "été"] * 40
    markup = ("**{}**", "*{}*", "{}")
    markdown = " ".join(markup[n % 3].format(word) for n, word in enumerate(words))
    text = read(markdown_to_pdf(markdown, title="Charte"), tmp_path)
    body = [line for line in text.splitlines() if line.replace(" ", "") != "1/1"]
    assert {word for line in body for word in line.split()} == set(words)
