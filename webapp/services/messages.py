"""Campaign messages: rendered per recipient and language, with their headers and addresses."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from email.header import Header
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.i18n import pick_locale, translations_for
from webapp.mail import (
    EmailRenderer,
    RenderedEmail,
    SmtpConnection,
    address_header,
    build_message,
    envelope_address,
    markdown_to_html,
    render_coordinator_text,
)
from webapp.models import (
    Campaign,
    CampaignKind,
    Community,
    Membership,
    Person,
)

from .campaigns import _campaign
from .errors import N_, NotFound

TEMPLATES = {
    CampaignKind.RECRUITMENT: "recruitment",
    CampaignKind.ANNOUNCEMENT: "announcement",
}


def reply_address(config: Config, local: str, delivery_id: int) -> str:
    """A signed per-delivery address such as ``reply+42.ab12…@reply.example``."""
    signature = hmac.new(
        config.secret_key.encode(), f"{local}:{delivery_id}".encode(), hashlib.sha256
    ).hexdigest()[:16]
    return f"{local}+{delivery_id}.{signature}@{config.reply_domain}"


@dataclass
class MessageContext:
    community: Community
    campaign: Campaign


def _message_values(
    ctx: MessageContext,
    person: Person,
    locale: str,
    link: str,
    unsubscribe_url: str,
    step: int = 0,
) -> dict[str, Any]:
    community = ctx.community
    content = ctx.campaign.content.get(locale) or ctx.campaign.content.get("fr") or {}
    placeholders = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "community": community.name,
    }
    message = render_coordinator_text(content.get("message", ""), placeholders)
    subject = render_coordinator_text(content.get("subject", ""), placeholders)
    if step > 0:
        subject = translations_for(locale).gettext("Reminder: %(subject)s") % {"subject": subject}
    return {
        "subject": subject,
        "reminder": step > 0,
        "first_name": person.first_name,
        "community_name": community.name,
        "benefits": list(community.benefits or []),
        "message_text": message,
        "message_html": markdown_to_html(message),
        "link": link,
        "unsubscribe_url": unsubscribe_url,
        "sender": {
            "name": community.sender_name,
            "organization": community.organization,
            "postal_address": community.postal_address,
            "contact_email": community.contact_email,
        },
    }


def render_for(
    config: Config,
    renderer: EmailRenderer,
    ctx: MessageContext,
    person: Person,
    token: str,
    step: int = 0,
) -> tuple[str, RenderedEmail]:
    """The language and the rendered email of one recipient (a reminder when ``step`` > 0)."""
    locale = pick_locale(person.language, ctx.community.language)
    link = f"{config.base_url}/r/{token}"
    unsubscribe_url = f"{config.base_url}/u/{token}"
    values = _message_values(ctx, person, locale, link, unsubscribe_url, step)
    return locale, renderer.render(TEMPLATES[CampaignKind(ctx.campaign.kind)], locale, values)


def preview(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    campaign_id: int,
    person_id: int | None = None,
    locale: str | None = None,
) -> RenderedEmail:
    """The email a recipient would get, with placeholder links."""
    campaign = _campaign(session, campaign_id)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    person = None
    if person_id is not None:
        person = session.scalar(
            select(Person)
            .join(Membership, Membership.person_id == Person.id)
            .where(Person.id == person_id, Membership.community_id == community.id)
        )
        if person is None:
            raise NotFound(N_("This person is not in this community."))
    if person is None:
        person = Person(
            email="preview@example.org",
            first_name="Alex",
            last_name="Tremblay",
            language=locale or community.language,
        )
    elif locale:
        person = Person(
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            language=locale,
        )
    return render_for(config, renderer, MessageContext(community, campaign), person, "PREVIEW")[1]


def _message_id_domain(config: Config) -> str:
    return (
        config.reply_domain or envelope_address(config.mail_from).rpartition("@")[2] or "localhost"
    )


def _list_id(community: Community, domain: str) -> str:
    """RFC 2919: a phrase (encoded when not ASCII) and an ASCII identifier."""
    name = community.name.replace('"', "'")
    phrase = f'"{name}"' if name.isascii() else Header(name, "utf-8").encode()
    return f"{phrase} <{community.slug}.{domain}>"


def _headers(config: Config, delivery_id: int, token: str, community: Community) -> dict[str, str]:
    """Unsubscribe (RFC 8058), list identity and where replies go.

    With ``AMORCE_REPLY_DOMAIN`` set, replies and mailto unsubscribes go to signed per-delivery
    addresses that Amorce receives; without it, replies go to the community's contact.
    """
    unsubscribe = f"<{config.base_url}/u/{token}>"
    headers: dict[str, str] = {}
    if config.reply_domain:
        unsubscribe += f", <mailto:{reply_address(config, 'unsubscribe', delivery_id)}>"
        headers["Reply-To"] = reply_address(config, "reply", delivery_id)
    elif community.contact_email:
        headers["Reply-To"] = community.contact_email
    headers.update(
        {
            "List-Unsubscribe": unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": _list_id(community, _message_id_domain(config)),
            "X-Amorce-Delivery": str(delivery_id),
        }
    )
    return headers


def message_for(
    config: Config,
    renderer: EmailRenderer,
    ctx: MessageContext,
    person: Person,
    delivery_id: int,
    token: str,
    step: int = 0,
) -> Any:
    """The finished MIME message of one delivery."""
    community = ctx.community
    _, rendered = render_for(config, renderer, ctx, person, token, step)
    return build_message(
        rendered,
        from_header=address_header(
            community.sender_name or community.name, envelope_address(config.mail_from)
        ),
        to_header=address_header(person.display_name, person.email),
        headers=_headers(config, delivery_id, token, community),
        message_id_domain=_message_id_domain(config),
    )


def send_test(
    session: Session,
    config: Config,
    renderer: EmailRenderer,
    connection: SmtpConnection,
    campaign_id: int,
    *,
    email: str,
    name: str,
    locale: str,
) -> None:
    """Send the campaign's email to a coordinator, subject marked as a test, links inert."""
    campaign = _campaign(session, campaign_id)
    community = session.get(Community, campaign.community_id)
    assert community is not None
    person = Person(email=email, first_name=name.split(" ")[0] if name else "", language=locale)
    _, rendered = render_for(config, renderer, MessageContext(community, campaign), person, "TEST")
    marked = RenderedEmail(f"[TEST] {rendered.subject}", rendered.text, rendered.html)
    message = build_message(
        marked,
        from_header=address_header(
            community.sender_name or community.name, envelope_address(config.mail_from)
        ),
        to_header=address_header(name, email),
        headers={"Auto-Submitted": "auto-generated"},
        message_id_domain=_message_id_domain(config),
    )
    connection.send(message, envelope_address(config.mail_from), email)
