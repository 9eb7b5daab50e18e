"""Bounces: which address failed, and whether for good (RELIABILITY R3).

RFC 3464 reports are read first (``Status: 5.x.x`` is permanent, ``4.x.x`` temporary, RFC 3463);
the non-standard notices of older MTAs (qmail, Exim's plain text, Exchange) go through Mailman's
detectors (flufl.bounce). The signed VERP return path says whose message it was in any case.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import parseaddr
from typing import Any

from flufl.bounce import all_failures

# Its detectors log every exception they raise at ERROR level; odd MIME is expected here.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"^\s*([45])\d\d[ -]", re.MULTILINE)  # a reply code opening a line


@dataclass(frozen=True)
class BounceReport:
    """What a delivery failure notice says."""

    hard: bool  # a permanent failure (5.x.x); False for delays and temporary failures
    delayed: bool = False  # only a delay warning: the message may still arrive
    recipients: tuple[str, ...] = ()
    status: str = ""  # the RFC 3463 code when the report gives one
    diagnostic: str = ""
    original_message_id: str = ""  # of the message that failed, from the returned headers
    standard: bool = False  # an RFC 3464 report
    details: dict[str, str] = field(default_factory=dict, compare=False)


def is_delivery_report(message: Message) -> bool:
    """An RFC 3464 report (``multipart/report; report-type=delivery-status``)."""
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def read_bounce(message: Message) -> BounceReport | None:
    """The failure a notice reports, or None when it reports none that can be read."""
    original = _original_message_id(message)
    report = _read_standard(message, original) if is_delivery_report(message) else None
    if report is not None:
        return report
    return _read_other(message, original)


def _fields(block: Any) -> dict[str, str]:
    if isinstance(block, Message):
        return {str(k).lower(): " ".join(str(v).split()) for k, v in block.items()}
    headers = HeaderParser().parsestr(str(block))
    return {str(k).lower(): " ".join(str(v).split()) for k, v in headers.items()}


def _status_blocks(message: Message) -> list[dict[str, str]]:
    for part in message.walk():
        if part.get_content_type() not in (
            "message/delivery-status",
            "message/global-delivery-status",
        ):
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            return [_fields(block) for block in payload]
        text = payload if isinstance(payload, str) else ""
        return [_fields(block) for block in re.split(r"\r?\n\s*\r?\n", text.strip()) if block]
    return []


def _read_standard(message: Message, original: str) -> BounceReport | None:
    blocks = [b for b in _status_blocks(message) if "final-recipient" in b or "action" in b]
    failed: list[str] = []
    hard = False
    delayed = True
    status = diagnostic = ""
    for block in blocks:
        action = block.get("action", "").lower()
        code = _STATUS.search(block.get("status", ""))
        if action in ("delivered", "relayed", "expanded"):
            continue
        delayed = delayed and action == "delayed"
        for name in ("original-recipient", "final-recipient"):
            recipient = block.get(name, "")
            if recipient:
                failed.append(_address(recipient.partition(";")[2] or recipient))
        permanent = action == "failed" and (code is None or code.group(1) == "5")
        if code is not None and code.group(1) == "5":
            permanent = action != "delayed"
        if permanent or not status:
            status = code.group(0) if code else status
            diagnostic = block.get("diagnostic-code", "").partition(";")[2].strip()
        hard = hard or permanent
    if not failed:
        return None
    return BounceReport(
        hard=hard,
        delayed=delayed and not hard,
        recipients=tuple(a for a in failed if a),
        status=status,
        diagnostic=diagnostic[:500],
        original_message_id=original,
        standard=True,
    )


def _read_other(message: Message, original: str) -> BounceReport | None:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector choking on odd MIME: not a bounce it can read
        temporary, permanent = frozenset(), frozenset()
    if not temporary and not permanent:
        return None
    text = _plain_text(message)
    code = _STATUS.search(text)
    hard = bool(permanent)
    if not hard and not temporary and code is None:
        smtp = _SMTP_CODE.search(text)
        hard = smtp is not None and smtp.group(1) == "5"
    return BounceReport(
        hard=hard,
        delayed=not permanent and bool(temporary),
        recipients=tuple(_decode(a) for a in sorted(permanent or temporary)),
        status=code.group(0) if code else "",
        original_message_id=original,
    )


def _decode(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return _address(text)


def _address(value: str) -> str:
    return parseaddr(value.strip())[1].lower() or value.strip().lower()


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def _original_message_id(message: Message) -> str:
    """The Message-ID of the message that failed, from the headers the report returns."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            found = HeaderParser().parsestr(text).get("Message-ID")
            if found:
                return str(found).strip()
    return ""
