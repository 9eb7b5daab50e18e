"""Campaign messages: rendered per recipient and language, with their headers and addresses."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms.questionnaires import localised
from webapp.config import Config
from webapp.i18n import LOCALES, pick_locale, translations_for
from webapp.mail import (
    CalendarPart,
    EmailRenderer,
    OutgoingMessage,
    RenderedEmail,
    SmtpConnection,
    address_header,
    build_message,
    check_header,
    envelope_address,
    markdown_to_html,
    render_coordinator_text,
)
from webapp.models import (
    Campaign,
    CampaignKind,
    Community,
    Meeting,
    MeetingState,
    Membership,
    Person,
    Poll,
    Statement,
    StatementState,
)

from . import charters, ics, meetings, statements
from .campaigns import _campaign
from .communities import sender_of
from .errors import N_, NotFound
from .inbound.addresses import signed_address
from .reminders import zone

TEMPLATES = {
    CampaignKind.RECRUITMENT: "recruitment",
    CampaignKind.ANNOUNCEMENT: "announcement",
    CampaignKind.APPLICATION: "application",
    CampaignKind.DECISION: "decision",
    CampaignKind.AVAILABILITY: "availability",
    CampaignKind.INVITATION: "invitation",
    CampaignKind.CHARTER: "charter",
    CampaignKind.ACTIVITY: "activity",
}


def reply_address(config: Config, local: str, delivery_id: int) -> str:
    """A signed per-delivery address such as ``reply+42.ab12…@reply.example``."""
    return signed_address(config, local, delivery_id)


@dataclass
class MessageContext:
    """What a batch's messages share; caches the skeletons rendered once for the batch."""

    community: Community
    campaign: Campaign
    meeting: Meeting | None = None  # what an invitation is about
    poll: Poll | None = None  # what an availability request is about
    update: bool = False  # an invitation already went out for this meeting before this one
    # The UID and RECURRENCE-ID a calendar knows the meeting by (an occurrence of a series).
    calendar_identity: tuple[str, datetime | None] | None = None
    facilitator: str = ""  # who facilitates the activity, by name
    attended: frozenset[int] = frozenset()  # who came to the meeting a follow-up is about
    # A vote's statements as its email numbers them: (number, {locale: section heading}, text).
    statements: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    skeletons: dict[tuple[Any, ...], _Skeleton | None] = field(
        default_factory=dict, repr=False, compare=False
    )


def context_for(session: Session, community: Community, campaign: Campaign) -> MessageContext:
    """The campaign's context, with the meeting or the poll it is about."""
    earlier = None
    attended: frozenset[int] = frozenset()
    if campaign.meeting_id is not None and campaign.kind == CampaignKind.CHARTER:
        attended = frozenset(meetings.attendees(session, campaign.meeting_id))
    elif campaign.meeting_id is not None:
        earlier = session.scalar(
            select(Campaign.id)
            .where(
                Campaign.meeting_id == campaign.meeting_id,
                Campaign.kind == CampaignKind.INVITATION,
                Campaign.id < campaign.id,
                Campaign.launched_at.is_not(None),
            )
            .limit(1)
        )
    meeting = session.get(Meeting, campaign.meeting_id) if campaign.meeting_id else None
    return MessageContext(
        community,
        campaign,
        meeting=meeting,
        calendar_identity=meetings.calendar_identity(session, meeting) if meeting else None,
        facilitator=_facilitator(session, meeting),
        poll=session.get(Poll, campaign.poll_id) if campaign.poll_id else None,
        # A personal notice (a seat freed up) is not an update of the meeting.
        update=earlier is not None and not (campaign.audience_filter or {}).get("people"),
        attended=attended,
        statements=_numbered_statements(session, campaign),
    )


def _facilitator(session: Session, meeting: Meeting | None) -> str:
    """Who facilitates the activity, by name (empty for a meeting without one)."""
    if meeting is None or meeting.facilitator_id is None:
        return ""
    person = session.get(Person, meeting.facilitator_id)
    return person.display_name if person else ""


def _numbered_statements(
    session: Session, campaign: Campaign
) -> list[tuple[int, dict[str, str], str]]:
    """The statements a vote's email lists, numbered as fixed at launch (those merged or
    removed since are left out; the numbers of the others stay)."""
    if campaign.kind != CampaignKind.CHARTER or campaign.charter_stage != "voting":
        return []
    ids = campaign.charter_statements
    if ids is None:  # a preview before launch: as they stand
        ids = [s.id for s in statements.numbered(session, campaign.community_id)]
    found = {
        s.id: s
        for s in session.scalars(select(Statement).where(Statement.id.in_(ids)))
        if s.state == StatementState.ACTIVE
    }
    headings: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        for section in charters.sections(session, campaign.community_id, locale):
            headings.setdefault(section.key, {})[locale] = section.heading
    return [
        (number, headings.get(found[i].section, {}), found[i].text)
        for number, i in enumerate(ids, start=1)
        if i in found
    ]


def _event_values(ctx: MessageContext, locale: str, zone_name: str) -> dict[str, Any]:
    """The meeting (when, where, the agenda) and the poll's deadline, in the reader's language
    and time zone, with the zone written out."""
    values: dict[str, Any] = {"meeting": None, "poll_deadline": ""}
    if ctx.poll is None and ctx.meeting is None:
        return values
    reader = zone(zone_name or ctx.community.timezone)
    if ctx.poll is not None and ctx.poll.deadline_at is not None:
        values["poll_deadline"] = moment_text(ctx.poll.deadline_at, reader, locale)
    meeting = ctx.meeting
    if meeting is not None:
        ends = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
        values["meeting"] = {
            "title": meeting.title,
            "when": moment_text(meeting.starts_at, reader, locale),
            "ends": format_time(ends, format="short", tzinfo=reader, locale=locale),
            "place": meeting.place,
            "agenda": [localised(item, locale) for item in meeting.agenda or []],
            "cancelled": meeting.state == MeetingState.CANCELLED,
            "changed": ctx.update and meeting.sequence > 0,
            # An activity's own topic and facilitator, as they stand when the email goes.
            "topic": meeting.topic,
            "facilitator": ctx.facilitator,
        }
    return values


def moment_text(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """ "mardi 3 mars 2027 à 09:30 (America/Toronto)": a moment as a reader in ``zone`` reads
    it, the zone written out."""
    day = format_date(moment.astimezone(zone), format="full", locale=locale)
    hour = format_time(moment, format="short", tzinfo=zone, locale=locale)
    return translations_for(locale).gettext("%(day)s at %(time)s (%(zone)s)") % {
        "day": day,
        "time": hour,
        "zone": zone.key,
    }


def _message_values(
    ctx: MessageContext,
    locale: str,
    names: tuple[dict[str, str], dict[str, str]],
    first_name: str,
    link: str,
    unsubscribe_url: str,
    step: int = 0,
    zone: str = "",
) -> dict[str, Any]:
    """Template values; ``names`` holds the placeholders of the subject and of the message."""
    community = ctx.community
    content = ctx.campaign.content.get(locale) or ctx.campaign.content.get("fr") or {}
    subject_names, message_names = names
    message = render_coordinator_text(
        content.get("message", ""), {**message_names, "community": community.name}
    )
    subject = render_coordinator_text(
        content.get("subject", ""), {**subject_names, "community": community.name}
    )
    if step > 0:
        subject = translations_for(locale).gettext("Reminder: %(subject)s") % {"subject": subject}
    return {
        "subject": subject,
        "reminder": step > 0,
        "first_name": first_name,
        "community_name": community.name,
        "benefits": list(community.benefits or []),
        "commitment": community.commitment,
        "charter_stage": ctx.campaign.charter_stage or "",
        "activity_step": ctx.campaign.activity_step or "",
        "attended": False,  # per recipient: see render_for
        "statements": [
            (number, headings.get(locale) or next(iter(headings.values()), ""), text)
            for number, headings, text in ctx.statements
        ],
        # The follow-up of the founding meeting asks each member to confirm these.
        "commitments": charters.commitment_lines(community)
        if ctx.campaign.kind == CampaignKind.CHARTER and ctx.campaign.meeting_id
        else [],
        "decision": ctx.campaign.audience_state,
        "message_text": message,
        "message_html": markdown_to_html(message),
        "link": link,
        "unsubscribe_url": unsubscribe_url,
        "sender": sender_of(community),
        **_event_values(ctx, locale, zone),
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
    names = {"first_name": person.first_name, "last_name": person.last_name}
    values = _message_values(
        ctx, locale, (names, names), person.first_name, link, unsubscribe_url, step, person.timezone
    )
    values["attended"] = person.id in ctx.attended
    return locale, renderer.render(TEMPLATES[CampaignKind(ctx.campaign.kind)], locale, values)


# -- skeletons: one render per (locale, step, names present), then substitution per recipient --

# Alphanumeric and mixed-case, so Markdown leaves them whole and any filter shows; random per
# process, so no name can spell one. A second set, of another length, checks the first.
_KEYS = ("Fs", "Ls", "Fm", "Lm", "Lk", "Un")  # names (subject, template; message), the links
_MARKS = {key: f"Qz{secrets.token_hex(8)}{key}Xw" for key in _KEYS}
_CHECK = {key: f"Vk{secrets.token_hex(11)}{key}Jy" for key in _KEYS}
_SPLIT = re.compile("(" + "|".join(_MARKS.values()) + ")")
_PLAIN_NAME = re.compile(r"\{\{ ?(?:first_name|last_name) ?\}\}")

# A rendered subject, text and HTML, each split on the marks (odd positions are marks).
_Skeleton = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _names_plain(source: str) -> bool:
    """Whether ``source`` uses the names only as plain ``{{ first_name }}``/``{{ last_name }}``."""
    rest = _PLAIN_NAME.sub("", source)
    mentioned = "first_name" in rest or "last_name" in rest
    return not mentioned and (rest == source or "{%" not in rest)


def _fits(name: object) -> bool:
    """A name the skeleton can carry: text without edge spaces nor control characters."""
    return isinstance(name, str) and name == name.strip() and name.isprintable()


def _text_html(value: str) -> str:
    """A name in the Markdown part, escaped as nh3 writes text (quotes left as they are)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _TextNodes(HTMLParser):
    """The text of an HTML fragment, outside tags and attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.feed(html)
        self.close()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _fill(parts: tuple[str, ...], values: dict[str, str]) -> str:
    filled = list(parts)
    for index in range(1, len(filled), 2):
        filled[index] = values[filled[index]]
    return "".join(filled)


def _render_marked(
    renderer: EmailRenderer,
    ctx: MessageContext,
    locale: str,
    step: int,
    present: tuple[bool, bool],
    marks: dict[str, str],
) -> tuple[RenderedEmail, str]:
    """The email rendered with ``marks`` for the names present and the links; its message HTML."""
    first, last = present
    subject = {"first_name": marks["Fs"] if first else "", "last_name": marks["Ls"] if last else ""}
    message = {"first_name": marks["Fm"] if first else "", "last_name": marks["Lm"] if last else ""}
    values = _message_values(
        ctx, locale, (subject, message), subject["first_name"], marks["Lk"], marks["Un"], step
    )
    kind = TEMPLATES[CampaignKind(ctx.campaign.kind)]
    return renderer.render(kind, locale, values), str(values["message_html"])


def _build_skeleton(
    renderer: EmailRenderer,
    ctx: MessageContext,
    locale: str,
    step: int,
    present: tuple[bool, bool],
) -> _Skeleton | None:
    """The skeleton of these messages, or None when substitution would not match a full render."""
    content = ctx.campaign.content.get(locale) or ctx.campaign.content.get("fr") or {}
    if not all(_names_plain(content.get(part, "")) for part in ("subject", "message")):
        return None  # a filter, test or statement on a name
    marked, message_html = _render_marked(renderer, ctx, locale, step, present, _MARKS)
    checked, _ = _render_marked(renderer, ctx, locale, step, present, _CHECK)
    back = {_CHECK[key]: _MARKS[key] for key in _KEYS}
    other = re.compile("|".join(back))
    parts = (marked.subject, marked.text, marked.html)
    for mine, theirs in zip(parts, (checked.subject, checked.text, checked.html), strict=True):
        if other.sub(lambda match: back[match[0]], theirs) != mine:
            return None  # a name or link is transformed, not merely inserted
    link, unsubscribe = _MARKS["Lk"], _MARKS["Un"]
    if (link in marked.text) != (link in marked.html) or not (
        unsubscribe in marked.text and unsubscribe in marked.html
    ):
        return None  # the unsubscribe link in both parts, the personal link in both or neither
    nodes = "".join(_TextNodes(message_html).parts)
    if any(nodes.count(_MARKS[key]) != message_html.count(_MARKS[key]) for key in ("Fm", "Lm")):
        return None  # a name inside a tag or an attribute of the Markdown
    subject, text, html = (tuple(_SPLIT.split(part)) for part in parts)
    return subject, text, html


def _skeleton_email(
    config: Config,
    renderer: EmailRenderer,
    ctx: MessageContext,
    person: Person,
    token: str,
    step: int,
) -> RenderedEmail | None:
    """The email of one recipient filled into the batch's skeleton, or None to render it fully."""
    first, last = person.first_name, person.last_name
    if not (_fits(first) and _fits(last)):
        return None
    locale = pick_locale(person.language, ctx.community.language)
    key = (renderer, locale, step, bool(first), bool(last))
    if key not in ctx.skeletons:
        ctx.skeletons[key] = _build_skeleton(renderer, ctx, locale, step, (bool(first), bool(last)))
    skeleton = ctx.skeletons[key]
    if skeleton is None:
        return None
    link, unsubscribe_url = f"{config.base_url}/r/{token}", f"{config.base_url}/u/{token}"
    values = zip(_KEYS, (first, last, first, last, link, unsubscribe_url), strict=True)
    plain, html = {}, {}
    for name, value in values:
        plain[_MARKS[name]] = value
        html[_MARKS[name]] = _text_html(value) if name in ("Fm", "Lm") else str(escape(value))
    subject, text, body = skeleton
    return RenderedEmail(check_header(_fill(subject, plain)), _fill(text, plain), _fill(body, html))


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
    ctx = context_for(session, community, campaign)
    return render_for(config, renderer, ctx, person, "PREVIEW")[1]


def _message_id_domain(config: Config) -> str:
    return (
        config.reply_domain or envelope_address(config.mail_from).rpartition("@")[2] or "localhost"
    )


def _list_id(community: Community, domain: str) -> str:
    return _list_id_of(community.name, community.slug, domain)


@lru_cache(maxsize=64)
def _list_id_of(name: str, slug: str, domain: str) -> str:
    """RFC 2919: a phrase (encoded when not ASCII) and an ASCII identifier."""
    name = name.replace('"', "'")
    phrase = f'"{name}"' if name.isascii() else Header(name, "utf-8").encode()
    return f"{phrase} <{slug}.{domain}>"


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
    *,
    cache: bool = True,
) -> OutgoingMessage:
    """The finished MIME message of one delivery.

    With ``cache``, the batch's skeleton is filled with the recipient's names and links when it
    can be (see :func:`_build_skeleton`); otherwise, and with ``cache=False``, the whole email is
    rendered for this recipient.
    """
    community = ctx.community
    # A meeting or a poll reads in each recipient's own time zone: rendered per recipient.
    cache = cache and ctx.meeting is None and ctx.poll is None
    rendered = _skeleton_email(config, renderer, ctx, person, token, step) if cache else None
    if rendered is None:
        rendered = render_for(config, renderer, ctx, person, token, step)[1]
    calendar = invitation_calendar(config, ctx, person, token, delivery_id) if step == 0 else None
    return build_message(
        rendered,
        from_header=_from_header(community.sender_name or community.name, config.mail_from),
        to_header=address_header(person.display_name, person.email),
        headers=_headers(config, delivery_id, token, community),
        message_id_domain=_message_id_domain(config),
        calendar=calendar,
    )


@lru_cache(maxsize=64)
def _from_header(name: str, mail_from: str) -> str:
    return address_header(name, envelope_address(mail_from))


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
    ctx = context_for(session, community, campaign)
    _, rendered = render_for(config, renderer, ctx, person, "TEST")
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


def invitation_calendar(
    config: Config, ctx: MessageContext, person: Person, token: str, delivery_id: int
) -> CalendarPart | None:
    """The event an invitation carries for this recipient: a request, or a cancellation once
    the meeting is cancelled; None for any other campaign."""
    meeting = ctx.meeting
    if meeting is None or ctx.campaign.kind != CampaignKind.INVITATION:
        return None
    cancelled = meeting.state == MeetingState.CANCELLED
    event = meetings.calendar_event(
        meeting,
        ctx.community,
        # Calendars send their accept or decline to the organizer: the signed reply address,
        # when Amorce receives replies, attributes it like any reply.
        organizer_email=reply_address(config, "reply", delivery_id)
        if config.reply_domain
        else envelope_address(config.mail_from),
        attendees=(ics.Attendee(person.display_name, person.email),),
        locale=pick_locale(person.language, ctx.community.language),
        url=f"{config.base_url}/r/{token}",
        identity=ctx.calendar_identity,
    )
    if cancelled:
        return CalendarPart(ics.cancellation(event), "CANCEL", ics.filename("CANCEL"))
    return CalendarPart(ics.invitation(event), "REQUEST", ics.filename("REQUEST"))
