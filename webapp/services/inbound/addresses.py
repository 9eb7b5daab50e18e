"""Signed per-delivery addresses: how a reply or a bounce is tied to a person (RELIABILITY R2).

``reply+42.<signature>@reply.example`` names delivery 42; the signature is an HMAC of the purpose
and the id under the instance's secret, so nobody can make one up. ``From:`` is never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from webapp.config import Config

PURPOSES = ("reply", "unsubscribe", "bounce")
_SIGNED = re.compile(
    r"^(?P<purpose>reply|unsubscribe|bounce)\+(?P<id>\d{1,18})\.(?P<signature>[0-9a-f]{16})@",
    re.IGNORECASE,
)
# Where servers and fetchers record the envelope recipient, then the visible ones.
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


def signature(config: Config, purpose: str, delivery_id: int) -> str:
    """The 16 hex digits that sign ``purpose`` for ``delivery_id``."""
    return hmac.new(
        config.secret_key.encode(), f"{purpose}:{delivery_id}".encode(), hashlib.sha256
    ).hexdigest()[:16]


def signed_address(config: Config, purpose: str, delivery_id: int) -> str:
    """A signed per-delivery address such as ``reply+42.ab12…@reply.example``."""
    signed = signature(config, purpose, delivery_id)
    return f"{purpose}+{delivery_id}.{signed}@{config.reply_domain}"


@dataclass(frozen=True)
class SignedAddress:
    """A recipient address Amorce signed: what it is for and which delivery it names."""

    purpose: str
    delivery_id: int
    address: str


@dataclass(frozen=True)
class Attribution:
    """The valid signed address found in a message, and whether a forged one was seen."""

    signed: SignedAddress | None
    forged: bool


def read_signed(config: Config, address: str) -> SignedAddress | None | bool:
    """The signed address ``address`` is, None when it is not one, False when it is forged."""
    match = _SIGNED.match(address.strip())
    if match is None:
        return None
    purpose = match["purpose"].lower()
    delivery_id = int(match["id"])
    domain = address.rpartition("@")[2].lower()
    if config.reply_domain and domain != config.reply_domain.lower():
        return None
    expected = signature(config, purpose, delivery_id)
    if not hmac.compare_digest(expected, match["signature"].lower()):
        return False
    return SignedAddress(purpose, delivery_id, address.strip().lower())


def candidate_addresses(message: Message, recipients: Iterable[str] = ()) -> list[str]:
    """The envelope recipients first, then those the headers name, each once."""
    seen: dict[str, None] = {}
    for address in recipients:
        seen.setdefault(address.strip().strip("<>"), None)
    for name in _RECIPIENT_HEADERS:
        values = [str(value) for value in message.get_all(name, [])]
        for _, address in getaddresses(values):
            if address:
                seen.setdefault(address.strip(), None)
    return [address for address in seen if address]


def attribute(config: Config, message: Message, recipients: Iterable[str] = ()) -> Attribution:
    """The first valid signed address among the message's recipients."""
    forged = False
    for address in candidate_addresses(message, recipients):
        found = read_signed(config, address)
        if isinstance(found, SignedAddress):
            return Attribution(found, forged)
        if found is False:
            forged = True
    return Attribution(None, forged)


def accepts(config: Config, address: str) -> bool:
    """Whether an SMTP receiver should take mail for ``address`` (refuses relaying)."""
    return isinstance(read_signed(config, address), SignedAddress)
