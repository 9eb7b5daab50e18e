"""People who come by themselves: the public page's "I'm interested", confirmed by email.

Double opt-in: the form only creates a pending prospect and sends one confirmation link; nothing
else is ever sent until the person clicks it and confirms (a button, since mail scanners follow
links). The page answers the same whatever the address, so it tells nobody who is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.i18n import pick_locale
from webapp.mail import (
    EmailRenderer,
    OutgoingMessage,
    address_header,
    build_message,
    envelope_address,
)
from webapp.models import (
    AuditLog,
    Community,
    ConsentBasis,
    ConsentRecord,
    Membership,
    MembershipState,
    Person,
    Source,
    Token,
    TokenPurpose,
    utcnow,
)

from . import suppressions, tokens
from .communities import sender_of
from .errors import N_, DomainError, InvalidToken
from .people import normalise_email

CONFIRM_LIFETIME_DAYS = 7
RESEND_AFTER = timedelta(minutes=10)  # one confirmation email per address in this time
SIGNUP_CONSENT_TEXT = "public-signup-1"
NAME_LIMIT = 200
# States a confirmation moves to "interested": those who have not said more yet.
CONFIRM_FROM = {MembershipState.PROSPECT, MembershipState.INVITED, MembershipState.NOT_INTERESTED}


@dataclass(frozen=True)
class SignupData:
    """What a person types on the public page."""

    email: str
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    organization: str = ""
    consent: bool = False
    referred_by_id: int | None = None  # who shared the link the person came by


@dataclass(frozen=True)
class SignupRequest:
    """Who asked, and the confirmation token to mail them (None: mail nothing this time)."""

    person_id: int
    email: str
    language: str
    token: str | None


def check_signup(data: SignupData) -> dict[str, str]:
    """The problems of a sign-up, by field (empty when none)."""
    errors: dict[str, str] = {}
    try:
        normalise_email(data.email)
    except DomainError as exc:
        errors["email"] = str(exc)
    for name in ("first_name", "last_name", "organization"):
        value = getattr(data, name)
        if len(value) > NAME_LIMIT or any(ord(c) < 32 for c in value):
            errors[name] = N_("Keep it on one line, at most 200 characters.")
    if data.language not in ("", "fr", "en"):
        errors["language"] = N_("Choose French or English.")
    if not data.consent:
        errors["consent"] = N_("We can only write to you with your agreement.")
    return errors


def request_signup(session: Session, community_id: int, data: SignupData) -> SignupRequest:
    """Record an "I'm interested" from the public page; the caller mails ``token`` if any.

    A person already known keeps what they had (a stranger cannot edit them through this form);
    a suppressed address, or one mailed a moment ago, gets no new email.
    """
    errors = check_signup(data)
    if errors:
        raise DomainError(next(iter(errors.values())))
    email = normalise_email(data.email)
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        person = Person(
            email=email,
            first_name=data.first_name.strip(),
            last_name=data.last_name.strip(),
            language=data.language,
            organization=data.organization.strip(),
        )
        session.add(person)
        session.flush()
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person.id
        )
    )
    if membership is None:
        referred = data.referred_by_id is not None and data.referred_by_id != person.id
        session.add(
            Membership(
                community_id=community_id,
                person_id=person.id,
                source=Source.REFERRAL if referred else Source.SELF,
                referred_by_id=data.referred_by_id if referred else None,
            )
        )
    language = person.language or data.language
    if suppressions.is_suppressed(session, community_id, email) or _recently_mailed(
        session, community_id, person.id
    ):
        return SignupRequest(person.id, email, language, None)
    token = tokens.issue_token(
        session,
        person_id=person.id,
        community_id=community_id,
        purpose=TokenPurpose.CONFIRM,
        lifetime_days=CONFIRM_LIFETIME_DAYS,
    )
    session.add(
        AuditLog(
            community_id=community_id,
            actor="public",
            action="signup.requested",
            details={"person_id": person.id},
        )
    )
    return SignupRequest(person.id, email, language, token)


def _recently_mailed(session: Session, community_id: int, person_id: int) -> bool:
    return (
        session.scalar(
            select(Token.id)
            .where(
                Token.person_id == person_id,
                Token.community_id == community_id,
                Token.purpose == TokenPurpose.CONFIRM,
                Token.created_at > utcnow() - RESEND_AFTER,
            )
            .limit(1)
        )
        is not None
    )


def confirm_signup(session: Session, token: str, *, source: str) -> tokens.TokenGrant:
    """The person confirmed: express consent, ``interested``, and the link is used up."""
    grant = tokens.resolve_token(session, token, TokenPurpose.CONFIRM)
    now = utcnow()
    # The link is used up first, conditionally: of two presses at once, one confirms.
    used = session.execute(
        update(Token)
        .where(Token.id == grant.token_id, Token.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if not getattr(used, "rowcount", 0):
        raise InvalidToken()
    membership = session.scalar(
        select(Membership).where(
            Membership.community_id == grant.community_id,
            Membership.person_id == grant.person_id,
        )
    )
    if membership is not None:
        if membership.state in CONFIRM_FROM:
            membership.state = MembershipState.INTERESTED
        membership.answered_at = membership.answered_at or now
    session.add(
        ConsentRecord(
            person_id=grant.person_id,
            community_id=grant.community_id,
            basis=ConsentBasis.EXPRESS,
            text_version=SIGNUP_CONSENT_TEXT,
            method="double-opt-in",
            source=source,
            created_at=now,
        )
    )
    session.add(
        AuditLog(
            community_id=grant.community_id,
            actor=f"person:{grant.person_id}",
            action="signup.confirmed",
            details={},
        )
    )
    return grant


def _personal_message(
    config: Config,
    renderer: EmailRenderer,
    community: Community,
    template: str,
    to: tuple[str, str],
    values: dict[str, object],
) -> OutgoingMessage:
    """A one-off email to one person (address, language), outside any campaign."""
    email, language = to
    locale = pick_locale(language, community.language)
    rendered = renderer.render(
        template,
        locale,
        {
            "community_name": community.name,
            "subject": "",
            "sender": sender_of(community),
            **values,
        },
    )
    sender = envelope_address(config.mail_from)
    return build_message(
        rendered,
        from_header=address_header(community.sender_name or community.name, sender),
        to_header=email,
        headers={"Auto-Submitted": "auto-generated"},
        message_id_domain=sender.rpartition("@")[2] or "localhost",
    )


def confirmation_message(
    config: Config, renderer: EmailRenderer, community: Community, request: SignupRequest
) -> OutgoingMessage:
    """The double opt-in email, in the person's language (the community's otherwise)."""
    assert request.token is not None
    return _personal_message(
        config,
        renderer,
        community,
        "signup_confirmation",
        (request.email, request.language),
        {"link": f"{config.base_url}/c/confirm/{request.token}"},
    )


def application_link(
    session: Session, community_id: int, person_id: int, lifetime_days: int
) -> str:
    """A personal link to the application, given once the person confirmed their interest."""
    return tokens.issue_token(
        session,
        person_id=person_id,
        community_id=community_id,
        purpose=TokenPurpose.RESPOND,
        lifetime_days=lifetime_days,
    )


def application_link_message(
    config: Config, renderer: EmailRenderer, community: Community, person: Person, token: str
) -> OutgoingMessage:
    """The email that keeps the personal link to the application, to come back to it."""
    return _personal_message(
        config,
        renderer,
        community,
        "application_link",
        (person.email, person.language),
        {
            "first_name": person.first_name,
            "link": f"{config.base_url}/r/{token}",
            "unsubscribe_url": f"{config.base_url}/u/{token}",
        },
    )
