"""A charter's Markdown as an A4 PDF, drawn by fpdf2 from markdown-it tokens (markup never runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from fpdf import FPDF
from markdown_it import MarkdownIt
from markdown_it.token import Token

FONT_DIR = Path("/usr/share/fonts/truetype")
FONT_FILES = (  # Regular, bold, italic, bold italic: the first family whose regular face exists.
    ("dejavu/DejaVuSans", ("", "-Bold", "-Oblique", "-BoldOblique")),
    ("liberation/LiberationSans", ("-Regular", "-Bold", "-Italic", "-BoldItalic")),
)
STYLES = ("", "B", "I", "BI")
LINKED_SCHEMES = {"http", "https", "mailto"}
# What the core font (latin-1 only) prints for the common characters it lacks.
LATIN1 = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2039": "<", "\u203a": ">", "\u0153": "oe", "\u0152": "OE", "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u2022": "-", "\u202f": " ", "\u2009": " ", "\u2011": "-", "\u20ac": "EUR",
})  # fmt: skip
SIZES = {"h1": 20.0, "h2": 15.0}  # Font sizes in points; other headings 12.5, body text 11.
INDENT = 7.0  # Millimetres per list level, room for the bullet or number.
GAP = 2.5  # Millimetres between blocks.


class _Parser(MarkdownIt):
    """CommonMark with every link parsed, so that unsafe ones can be printed as text only."""

    def validateLink(self, url: str) -> bool:  # noqa: N802 (markdown-it's name)
        return True


def _font_files() -> dict[str, Path] | None:
    """The TTF files of the first installed family, by fpdf2 style; None if none is installed."""
    for stem, suffixes in FONT_FILES:
        paths = [FONT_DIR / f"{stem}{suffix}.ttf" for suffix in suffixes]
        if paths[0].is_file():
            return {s: p if p.is_file() else paths[0] for s, p in zip(STYLES, paths, strict=True)}
    return None


class _CharterPDF(FPDF):
    """An A4 document that writes Markdown tokens, with page numbers and a footer line."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4")
        self.footer_text = footer_text
        files = _font_files()
        self.family = "amorce" if files else "helvetica"
        for style, path in (files or {}).items():
            self.add_font(self.family, style, str(path))
        self.unicode = files is not None
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(True, margin=22)
        self.base = self.l_margin
        self.bold = self.italic = 0
        self.size = 11.0

    def text_of(self, text: str) -> str:
        """The text as the current font can print it."""
        if self.unicode:
            return text
        return text.translate(LATIN1).encode("latin-1", "replace").decode("latin-1")

    def style(self, size: float | None = None) -> None:
        """Switch to the current bold and italic state, at ``size`` points if given."""
        self.size = size or self.size
        style = ("B" if self.bold else "") + ("I" if self.italic else "")
        self.set_font(self.family, style, self.size)

    def put(self, text: str, link: str = "") -> None:
        """Write inline text at the cursor, wrapping at the margins (and between runs)."""
        text = self.text_of(text)
        word = self.get_string_width(text.split(" ", 1)[0].split("\n", 1)[0])
        if self.w - self.r_margin - self.get_x() < word <= self.w - self.r_margin - self.l_margin:
            self.ln(self.size * 0.5)  # fpdf2 would cut this run's first word to fill the line.
        self.write(self.size * 0.5, text, link=link)

    def newline(self, gap: float = 0.0) -> None:
        """End the current line (if any text is on it), then leave ``gap`` millimetres."""
        if self.get_x() > self.l_margin + 0.01:
            self.ln(self.size * 0.5)
        if gap and self.get_y() > self.t_margin + 0.01:
            self.ln(gap)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(self.family, "", 8)
        self.set_text_color(90)
        width = self.w - self.l_margin - self.r_margin
        self.set_x(self.l_margin)
        self.cell(width, 5, self.text_of(self.footer_text))
        self.set_x(self.l_margin)
        self.cell(width, 5, f"{self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0)

    def inline(self, children: list[Token]) -> None:
        """Write one paragraph's or heading's inline tokens, switching style as they ask."""
        links: list[tuple[str, list[str]]] = []  # Per open link: its address and its words.
        for token in children:
            if token.type in ("strong_open", "strong_close", "em_open", "em_close"):
                step = 1 if token.type.endswith("open") else -1
                if token.type.startswith("strong"):
                    self.bold += step
                else:
                    self.italic += step
                self.style()
            elif token.type in ("text", "code_inline", "html_inline", "image"):
                self.put(token.content)
                for _, words in links:
                    words.append(token.content)
            elif token.type == "softbreak":
                self.put(" ")
            elif token.type == "hardbreak":
                self.put("\n")
            elif token.type == "link_open":
                links.append((str(token.attrGet("href") or ""), []))
            elif token.type == "link_close" and links:
                href, words = links.pop()
                shown = _PARSER.normalizeLinkText(href)
                if urlsplit(href).scheme.lower() in LINKED_SCHEMES and "".join(words) not in (
                    shown,
                    shown.removeprefix("mailto:"),
                ):
                    self.put(f" ({shown})", link=href)

    def render(self, tokens: list[Token]) -> None:
        """Draw the block tokens: headings, paragraphs, lists, quotes, code and rules."""
        counters: list[int | None] = []  # Per open list: the next number, or None for bullets.
        for token in tokens:
            kind = token.type
            if kind == "heading_open":
                if self.get_y() > self.page_break_trigger - 30:
                    self.add_page()
                self.newline(GAP * 2)
                self.bold = 1
                self.style(SIZES.get(token.tag, 12.5))
            elif kind == "heading_close":
                self.newline(GAP)
                self.bold = 0
                self.style(11)
            elif kind == "inline":
                self.inline(token.children or [])
            elif kind == "paragraph_close":
                self.newline(0 if token.hidden else GAP)
            elif kind in ("bullet_list_open", "ordered_list_open", "blockquote_open"):
                start = token.attrGet("start") if kind == "ordered_list_open" else None
                counters.append(int(start or 1) if kind == "ordered_list_open" else None)
                self.set_left_margin(self.base + INDENT * len(counters))
            elif kind in ("bullet_list_close", "ordered_list_close", "blockquote_close"):
                counters.pop()
                self.set_left_margin(self.base + INDENT * len(counters))
                self.newline(0 if counters else GAP)
            elif kind == "list_item_open":
                self.newline()
                marker = "\u2022" if counters[-1] is None else f"{counters[-1]}."
                counters[-1] = None if counters[-1] is None else counters[-1] + 1
                self.set_x(self.l_margin - INDENT)
                self.cell(INDENT, self.size * 0.5, self.text_of(marker))
            elif kind == "list_item_close":
                self.newline()
            elif kind in ("code_block", "fence", "html_block"):
                self.put(token.content.rstrip("\n"))
                self.newline(GAP)
            elif kind == "hr":
                self.newline()
                self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
                self.ln(GAP * 2)


_PARSER = _Parser("commonmark", {"html": False})


def markdown_to_pdf(markdown: str, *, title: str, language: str = "fr", footer: str = "") -> bytes:
    """The Markdown as an A4 PDF: the title as document metadata, headings, paragraphs and lists,
    page numbers and ``footer`` (e.g. "Version 2 · adoptée le 3 mars 2027") at the bottom."""
    pdf = _CharterPDF(footer)
    pdf.set_title(title)
    pdf.set_lang(language)
    pdf.set_creator("Amorce")
    pdf.set_creation_date(datetime(2000, 1, 1, tzinfo=UTC))
    pdf.add_page()
    pdf.style(11)
    pdf.render(_PARSER.parse(markdown))
    return bytes(pdf.output())
