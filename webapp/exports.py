"""Tables as files to download: CSV that Excel opens with its accents right, and XLSX."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

import xlsxwriter

Cell = str | int | float | None
CSV_MIMETYPE = "text/csv"  # the response adds "; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A cell starting with one of these is read by spreadsheets as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MIN_WIDTH, MAX_WIDTH = 8, 60
SHEET_NAME_LIMIT = 31


def neutralise(cell: Cell) -> Cell:
    """Text a spreadsheet would take for a formula, made plain text by a leading apostrophe;
    numbers stay numbers."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    """UTF-8 with a byte order mark, every text cell neutralised, empty cells empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _width(cells: Sequence[Cell]) -> int:
    """Enough for the longest line of a column, within bounds."""
    longest = max(
        (len(line) for cell in cells if cell is not None for line in str(cell).splitlines()),
        default=0,
    )
    return min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)


def sheet_name(title: str) -> str:
    """A name Excel accepts for a sheet: at most 31 characters, none of []:*?/\\."""
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip().strip("'")
    return name[:SHEET_NAME_LIMIT] or "Sheet1"


def to_xlsx(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, title: str) -> bytes:
    """One sheet: a bold, frozen header row with a filter, numbers as numbers, text as text
    (never a formula), columns as wide as their content allows."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    sheet = workbook.add_worksheet(sheet_name(title))
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    wrapped = workbook.add_format({"text_wrap": True, "valign": "top"})
    for column, text in enumerate(headers):
        sheet.write_string(0, column, text, header)
    for line, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            if isinstance(cell, int | float) and not isinstance(cell, bool):
                sheet.write_number(line, column, cell)
            elif cell is not None:
                text = str(cell)
                sheet.write_string(line, column, text, wrapped if "\n" in text else None)
    for column, text in enumerate(headers):
        cells: list[Cell] = [text, *(row[column] for row in rows if column < len(row))]
        sheet.set_column(column, column, _width(cells))
    sheet.freeze_panes(1, 0)
    if headers:
        sheet.autofilter(0, 0, len(rows), len(headers) - 1)
    workbook.close()
    return buffer.getvalue()
