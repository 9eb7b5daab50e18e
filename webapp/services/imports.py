"""Importing prospects from CSV: every bad line reported, good ones kept, people merged."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    ConsentBasis,
    ConsentRecord,
    Membership,
    MembershipState,
    Person,
    Source,
    utcnow,
)

from .errors import N_, DomainError
from .people import normalise_email
from .suppressions import email_hash, suppressed_hashes

COLUMNS = ("email", "first_name", "last_name", "language", "organization", "timezone")
IMPORT_CONSENT_TEXT = "import-attestation-1"
LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong in the file: where, and what."""

    line: int
    column: str
    msgid: str
    params: dict[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The English message with its values (pages translate ``msgid`` instead)."""
        return self.msgid % self.params if self.params else self.msgid

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import did, or would have done."""

    created: int = 0
    merged: int = 0
    already_members: int = 0
    duplicates_in_file: int = 0
    suppressed: list[str] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    applied: bool = False

    @property
    def good_rows(self) -> int:
        """Rows that were (or would be) applied."""
        return self.created + self.merged + self.already_members


@dataclass
class _Row:
    line: int
    values: dict[str, str]


def _read_rows(text: str, report: ImportReport) -> list[_Row] | None:
    text = text.lstrip("\ufeff")
    if not text.strip():
        report.problems.append(ImportProblem(1, "", N_("the file is empty")))
        return None
    first_line = text.splitlines()[0]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(first_line, ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader)]
    unknown = [h for h in header if h not in COLUMNS]
    if "email" not in header:
        report.problems.append(
            ImportProblem(
                1,
                "email",
                N_("the header has no 'email' column (expected: %(expected)s)"),
                {"expected": ", ".join(COLUMNS)},
            )
        )
    for name in unknown:
        report.problems.append(
            ImportProblem(
                1,
                name,
                N_("unknown column %(name)s (expected: %(expected)s)"),
                {"name": repr(name), "expected": ", ".join(COLUMNS)},
            )
        )
    repeated = {h for h in header if header.count(h) > 1}
    for name in sorted(repeated):
        report.problems.append(
            ImportProblem(1, name, N_("the column %(name)s appears twice"), {"name": repr(name)})
        )
    if report.problems:
        return None
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line = reader.line_num
        if len(values) > len(header):
            report.problems.append(
                ImportProblem(
                    line,
                    "",
                    N_("%(found)d fields where the header has %(expected)d"),
                    {"found": len(values), "expected": len(header)},
                )
            )
            continue
        padded = values + [""] * (len(header) - len(values))
        rows.append(_Row(line, {h: v.strip() for h, v in zip(header, padded, strict=True)}))
    return rows


def _check_row(row: _Row, zones: set[str]) -> list[ImportProblem]:
    problems = []
    try:
        row.values["email"] = normalise_email(row.values.get("email", ""))
    except DomainError as exc:
        shown = row.values.get("email", "") or "(empty)"
        problems.append(
            ImportProblem(
                row.line,
                "email",
                N_("%(value)s is not a valid address: %(reason)s"),
                {"value": shown, "reason": str(exc)},
            )
        )
    language = row.values.get("language", "").lower()
    if language and language not in ("fr", "en"):
        problems.append(
            ImportProblem(
                row.line,
                "language",
                N_("%(value)s is not a language: use fr or en"),
                {"value": repr(language)},
            )
        )
    row.values["language"] = language
    zone = row.values.get("timezone", "")
    if zone and zone not in zones:
        problems.append(
            ImportProblem(
                row.line,
                "timezone",
                N_("%(value)s is not an IANA time zone (e.g. America/Toronto)"),
                {"value": repr(zone)},
            )
        )
    for name in ("first_name", "last_name", "organization"):
        value = row.values.get(name, "")
        if len(value) > 200:
            problems.append(ImportProblem(row.line, name, N_("longer than 200 characters")))
        if "\r" in value or "\n" in value:
            problems.append(ImportProblem(row.line, name, N_("a line break inside the value")))
    return problems


def import_people(
    session: Session,
    community_id: int,
    text: str,
    *,
    source: str,
    consent: str,
    consent_note: str = "",
    filename: str = "",
    all_or_nothing: bool = False,
    actor: str = "cli",
) -> ImportReport:
    """Import prospects from CSV text; bad rows are reported by line, good ones kept."""
    from webapp.models import Community

    if source not in (Source.NETWORK, Source.LIST, Source.REFERRAL):
        raise DomainError(
            N_("Unknown source %(source)s: use network, list or referral."), source=source
        )
    if consent not in set(ConsentBasis):
        raise DomainError(
            N_("Unknown consent basis %(basis)s: use express or implied."), basis=consent
        )
    if consent == ConsentBasis.IMPLIED and not consent_note.strip():
        raise DomainError(
            N_(
                "An implied consent needs a note saying where it comes from "
                "(for example: members of our network since 2023)."
            )
        )
    community = session.get(Community, community_id)
    if community is None:
        raise DomainError(N_("No such community."))
    report = ImportReport()
    rows = _read_rows(text, report)
    if rows is None:
        return report
    zones = available_timezones()
    merged_rows: dict[str, _Row] = {}
    for row in rows:
        problems = _check_row(row, zones)
        if problems:
            report.problems.extend(problems)
            continue
        email = row.values["email"]
        if email in merged_rows:
            report.duplicates_in_file += 1
            kept = merged_rows[email].values
            for key, value in row.values.items():
                if value and not kept.get(key):
                    kept[key] = value
        else:
            merged_rows[email] = row
    if report.problems and all_or_nothing:
        return report
    for row in merged_rows.values():
        row.values["language"] = row.values["language"] or community.language
    _apply(
        session,
        community_id,
        list(merged_rows.values()),
        report,
        source=source,
        consent=consent,
        consent_note=consent_note,
        filename=filename,
    )
    report.applied = True
    session.add(
        AuditLog(
            community_id=community_id,
            actor=actor,
            action="people.imported",
            details={
                "file": filename,
                "created": report.created,
                "merged": report.merged,
                "problems": len(report.problems),
                "source": source,
                "consent": consent,
            },
        )
    )
    return report


def _apply(
    session: Session,
    community_id: int,
    rows: list[_Row],
    report: ImportReport,
    *,
    source: str,
    consent: str,
    consent_note: str,
    filename: str,
) -> None:
    hashes = suppressed_hashes(session, community_id)
    now = utcnow()
    for start in range(0, len(rows), LOOKUP_CHUNK):
        chunk = rows[start : start + LOOKUP_CHUNK]
        emails = [r.values["email"] for r in chunk]
        persons = {
            p.email: p for p in session.scalars(select(Person).where(Person.email.in_(emails)))
        }
        ids = [p.id for p in persons.values()]
        members = (
            set(
                session.scalars(
                    select(Membership.person_id).where(
                        Membership.community_id == community_id, Membership.person_id.in_(ids)
                    )
                )
            )
            if ids
            else set()
        )
        # Anyone with a consent record here, live or withdrawn: an import never revives a
        # consent the person withdrew (only they can give it again).
        consented = (
            set(
                session.scalars(
                    select(ConsentRecord.person_id).where(
                        ConsentRecord.community_id == community_id,
                        ConsentRecord.person_id.in_(ids),
                    )
                )
            )
            if ids
            else set()
        )
        for row in chunk:
            values = row.values
            person = persons.get(values["email"])
            if person is None:
                person = Person(email=values["email"], created_at=now)
                session.add(person)
                report.created += 1
            elif person.id in members:
                report.already_members += 1
            else:
                report.merged += 1
            for name in ("first_name", "last_name", "language", "organization", "timezone"):
                if values.get(name) and not getattr(person, name):
                    setattr(person, name, values[name])
            session.flush()
            if person.id not in members:
                session.add(
                    Membership(
                        community_id=community_id,
                        person_id=person.id,
                        source=source,
                        state=MembershipState.PROSPECT,
                        created_at=now,
                        updated_at=now,
                    )
                )
            if person.id not in consented:
                session.add(
                    ConsentRecord(
                        person_id=person.id,
                        community_id=community_id,
                        basis=consent,
                        text_version=IMPORT_CONSENT_TEXT,
                        method="import",
                        source=filename or "csv",
                        note=consent_note,
                        created_at=now,
                    )
                )
            if email_hash(session, person.email) in hashes:
                report.suppressed.append(person.email)
        session.flush()
