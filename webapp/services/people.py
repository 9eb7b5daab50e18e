"""Persons and memberships: addresses, the people list, consent, answers by personal link."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models import (
    AuditLog,
    ConsentRecord,
    Membership,
    MembershipState,
    Person,
    utcnow,
)

from .errors import N_, DomainError, NotFound
from .memberships import membership_of
from .referrals import referral_counts
from .suppressions import email_hash, suppress, suppressed_hashes


def normalise_email(address: str) -> str:
    """A syntactically valid address, lowercased; :class:`DomainError` otherwise."""
    try:
        checked = validate_email(
            address.strip(),
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
            allow_smtputf8=False,
        )
    except EmailNotValidError as exc:
        raise DomainError(N_("%(reason)s"), reason=str(exc)) from exc
    # An internationalised domain is kept in its ASCII (punycode) form, which every relay takes.
    return (checked.ascii_email or checked.normalized).lower()


def find_person(session: Session, address: str) -> Person:
    """The person with this address, or :class:`NotFound`."""
    person = session.scalar(select(Person).where(Person.email == normalise_email(address)))
    if person is None:
        raise NotFound(N_("Nobody has the address %(email)s."), email=address)
    return person


# -- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRow:
    """One line of the people list."""

    person_id: int
    email: str
    first_name: str
    last_name: str
    language: str
    organization: str
    timezone: str
    source: str
    state: str
    participation_level: str
    suppressed: bool
    consent: str
    referred_by: str = ""  # the email of whoever brought them
    referrals: int = 0  # how many people they brought

    def as_dict(self) -> dict[str, object]:
        """The row as the CLI and the CSV export print it."""
        return {
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "language": self.language,
            "organization": self.organization,
            "timezone": self.timezone,
            "source": self.source,
            "state": self.state,
            "participation_level": self.participation_level,
            "suppressed": "true" if self.suppressed else "false",
            "consent": self.consent,
            "referred_by": self.referred_by,
            "referrals": self.referrals,
        }


LIST_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "language",
    "organization",
    "timezone",
    "source",
    "state",
    "participation_level",
    "suppressed",
    "consent",
    "referred_by",
    "referrals",
)


def list_people(
    session: Session, community_id: int, *, state: str | None = None
) -> Iterable[PersonRow]:
    """Every person of a community with state, source, suppression and consent basis."""
    if state is not None and state not in set(MembershipState):
        raise DomainError(
            N_("Unknown state %(state)s: use one of %(states)s."),
            state=repr(state),
            states=", ".join(s.value for s in MembershipState),
        )
    hashes = suppressed_hashes(session, community_id)
    consents: dict[int, str] = {}
    for person_id, basis in session.execute(
        select(ConsentRecord.person_id, ConsentRecord.basis)
        .where(ConsentRecord.community_id == community_id, ConsentRecord.withdrawn_at.is_(None))
        .order_by(ConsentRecord.id)
    ):
        consents[person_id] = basis
    query = (
        select(Membership, Person)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.community_id == community_id)
        .order_by(Person.email)
    )
    if state is not None:
        query = query.where(Membership.state == state)
    referrers = {
        person_id: email
        for person_id, email in session.execute(
            select(Membership.person_id, Person.email)
            .join(Person, Person.id == Membership.referred_by_id)
            .where(Membership.community_id == community_id)
        )
    }
    brought = referral_counts(session, community_id)
    for membership, person in session.execute(query):
        yield PersonRow(
            person.id,
            person.email,
            person.first_name,
            person.last_name,
            person.language,
            person.organization,
            person.timezone,
            membership.source,
            membership.state,
            membership.participation_level,
            email_hash(session, person.email) in hashes,
            consents.get(person.id, ""),
            referrers.get(person.id, ""),
            brought.get(person.id, 0),
        )


# -- what a person says through their link ------------------------------------------------------


def record_not_now(
    session: Session, community_id: int, person_id: int, *, membership: Membership | None = None
) -> None:
    """The person is not interested for now: no more recruitment mail, still reachable.

    ``membership``: the person's membership when the caller already holds it.
    """
    membership = membership or membership_of(session, community_id, person_id)
    if membership.state in (
        MembershipState.PROSPECT,
        MembershipState.INVITED,
        MembershipState.INTERESTED,
    ):
        membership.state = MembershipState.NOT_INTERESTED
    membership.answered_at = utcnow()
    session.add(
        AuditLog(
            community_id=community_id,
            actor=f"person:{person_id}",
            action="membership.not_now",
            details={},
        )
    )


def unsubscribe(
    session: Session,
    community_id: int,
    person_id: int,
    *,
    how: str,
    membership: Membership | None = None,
) -> bool:
    """Suppress the person for this community and withdraw their consent; False if already."""
    membership = membership or membership_of(session, community_id, person_id)
    person = session.get(Person, person_id)
    assert person is not None
    added = suppress(
        session,
        person.email,
        community_id=community_id,
        reason=f"unsubscribe:{how}",
        actor=f"person:{person_id}",
    )
    now = utcnow()
    for record in session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.person_id == person_id,
            ConsentRecord.community_id == community_id,
            ConsentRecord.withdrawn_at.is_(None),
        )
    ):
        record.withdrawn_at = now
    membership.answered_at = membership.answered_at or now
    return added


def has_consent(session: Session, community_id: int, person_id: int) -> bool:
    """Whether a live consent record lets this community write to this person."""
    return (
        session.scalar(
            select(ConsentRecord.id)
            .where(
                ConsentRecord.community_id == community_id,
                ConsentRecord.person_id == person_id,
                ConsentRecord.withdrawn_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )
