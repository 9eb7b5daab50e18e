"""Received mail: telling automatic messages from people's own words (RELIABILITY R1).

Automatic mail (out-of-office replies, list echoes, bounces, other robots) is never counted as an
answer and never answered: answering it is how two robots end up mailing each other forever.
"""

from __future__ import annotations

from email.message import Message

from webapp.mail import envelope_address

# Precedence values that only machines and lists use.
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
# Headers that auto-responders set instead of (or beside) Auto-Submitted.
_AUTORESPONDER_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder")
_NULL_SENDERS = {"", "<>", "mailer-daemon", "postmaster"}


def automatic_reason(message: Message, envelope_from: str | None = None) -> str | None:
    """Why ``message`` was written by a machine, or None when a person wrote it.

    ``envelope_from`` is the SMTP ``MAIL FROM`` when known; otherwise ``Return-Path`` is read.
    The tests are RFC 3834's and the headers real clients and servers set; Exchange's bounces
    often lack ``Auto-Submitted``, hence the null sender and the report checks.
    """
    submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return "auto_submitted"
    if message.get("X-Auto-Response-Suppress") is not None:
        return "auto_response_suppress"
    if any(message.get(name) is not None for name in _AUTORESPONDER_HEADERS):
        return "autoresponder"
    if str(message.get("Precedence", "")).strip().lower() in _BULK_PRECEDENCE:
        return "precedence"
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None:
        return "mailing_list"
    if message.get_content_type() == "multipart/report":
        return "report"
    sender = envelope_from if envelope_from is not None else message.get("Return-Path")
    if sender is not None:
        address = envelope_address(str(sender)) if str(sender).strip() != "<>" else ""
        if address.lower() in _NULL_SENDERS or address.split("@")[0].lower() in _NULL_SENDERS:
            return "null_sender"
    return None
