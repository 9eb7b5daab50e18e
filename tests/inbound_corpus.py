"""A labelled corpus of raw inbound messages: replies, automatic replies, bounces and the rest.

``tests/inbound_samples/`` holds real-looking ``.eml`` files, each imitating what a given mail
client or MTA produces in answer to an Amorce recruitment or invitation email (Gmail, Outlook, Apple
Mail, Thunderbird, Postfix and Exim bounces, Exchange NDRs, iMIP calendar replies, out-of-office).
Human replies quote the original, which holds the very words a naive reader would act on
("Êtes-vous intéressé·e ?", "To unsubscribe", "Will you attend?").

``labels.yaml`` says what each message truly is (kind, intent, campaign, language, source and, for
bounces, hard or soft). The addresses a test needs to control are placeholders, replaced by
:func:`load_samples`:

``%%REPLY%%``        the signed per-recipient reply address Amorce put in Reply-To
``%%UNSUBSCRIBE%%``  the signed mailto address of List-Unsubscribe
``%%BOUNCE%%``       the signed VERP return path, where delivery reports arrive
``%%FORGED%%``       a reply address whose signature is wrong
``%%PERSON%%``       the prospect's own address
``%%AMORCE%%``       the address campaigns are sent From
``%%COMMUNITY%%``    the community's contact address

Placeholders only appear in headers and in 7bit or quoted-printable text, so a plain replacement on
the file's text keeps every message well formed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SAMPLES_DIR = Path(__file__).parent / "inbound_samples"
LABELS = SAMPLES_DIR / "labels.yaml"

PLACEHOLDERS = ("REPLY", "UNSUBSCRIBE", "BOUNCE", "FORGED", "PERSON", "AMORCE", "COMMUNITY")
KINDS = ("reply", "auto_reply", "bounce", "unsubscribe", "calendar_reply", "unattributed")
INTENTS = (
    "interested",
    "not_interested",
    "maybe",
    "attending",
    "not_attending",
    "question",
    "unknown",
)
CAMPAIGNS = ("recruitment", "invitation")
LANGUAGES = ("fr", "en")
BOUNCES = ("hard", "soft")

_PLACEHOLDER = re.compile(r"%%([A-Z]+)%%")


@dataclass(frozen=True)
class Sample:
    """One raw message with what it truly is."""

    name: str
    raw: bytes
    kind: str
    intent: str
    campaign: str
    language: str
    source: str
    bounce: str | None = None


def _placeholder_values(values: dict[str, str]) -> dict[str, str]:
    """``values`` keyed by bare placeholder name; ``"REPLY"`` and ``"%%REPLY%%"`` both work."""
    found: dict[str, str] = {}
    for key, value in values.items():
        match = _PLACEHOLDER.fullmatch(key)
        name = match.group(1) if match else key
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {key!r}; expected one of {PLACEHOLDERS}")
        found[name] = value
    return found


def _check_labels(name: str, entry: dict[str, Any]) -> None:
    """Refuse a label that is missing or outside the vocabulary above."""
    allowed = {
        "kind": KINDS,
        "intent": INTENTS,
        "campaign": CAMPAIGNS,
        "language": LANGUAGES,
    }
    for field, choices in allowed.items():
        if entry.get(field) not in choices:
            raise ValueError(f"{name}: {field} {entry.get(field)!r} is not one of {choices}")
    if not isinstance(entry.get("source"), str) or not entry["source"]:
        raise ValueError(f"{name}: source is missing")
    bounce = entry.get("bounce")
    if (entry["kind"] == "bounce") != (bounce is not None):
        raise ValueError(f"{name}: bounce is required for bounces and only for them")
    if bounce is not None and bounce not in BOUNCES:
        raise ValueError(f"{name}: bounce {bounce!r} is not one of {BOUNCES}")


def load_samples(values: dict[str, str]) -> list[Sample]:
    """Every labelled message, placeholders replaced by ``values``, in file name order.

    ``values`` maps placeholder names (``"%%REPLY%%"`` or just ``"REPLY"``) to addresses; an
    unknown name is an error. A placeholder without a value stays as it is, so ``load_samples({})``
    lists the samples and their labels with the raw text untouched.
    """
    replacements = _placeholder_values(values)
    labels = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    if not isinstance(labels, dict):
        raise ValueError(f"{LABELS} should map file names to labels")
    on_disk = {path.name for path in SAMPLES_DIR.glob("*.eml")}
    if on_disk != set(labels):
        raise ValueError(
            f"labels and files differ: unlabelled {sorted(on_disk - set(labels))}, "
            f"missing {sorted(set(labels) - on_disk)}"
        )

    samples = []
    for name in sorted(labels):
        entry = labels[name]
        _check_labels(name, entry)
        text = (SAMPLES_DIR / name).read_bytes().decode("ascii")
        text = _PLACEHOLDER.sub(lambda match: replacements.get(match[1], match[0]), text)
        samples.append(
            Sample(
                name=name,
                raw=text.encode("utf-8"),
                kind=entry["kind"],
                intent=entry["intent"],
                campaign=entry["campaign"],
                language=entry["language"],
                source=entry["source"],
                bounce=entry.get("bounce"),
            )
        )
    return samples
