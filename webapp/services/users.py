"""Coordinator accounts: creation and sign-in with argon2 hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import Role, User

from .errors import N_, DomainError
from .people import normalise_email

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def create_user(
    session: Session, email: str, password: str, *, role: str = Role.COORDINATOR, name: str = ""
) -> int:
    """Create an account and return its id."""
    address = normalise_email(email)
    if role not in set(Role):
        raise DomainError(N_("Unknown role %(role)s: use admin or coordinator."), role=role)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            N_("The password must have at least %(count)d characters."), count=MIN_PASSWORD_LENGTH
        )
    if session.scalar(select(func.count()).where(User.email == address)):
        raise DomainError(N_("An account already exists for %(email)s."), email=address)
    user = User(email=address, name=name, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user.id


def authenticate(session: Session, email: str, password: str) -> int | None:
    """The id of the active account with these credentials, or None."""
    try:
        address = normalise_email(email)
    except DomainError:
        return None
    user = session.scalar(select(User).where(User.email == address))
    if user is None or not user.active:
        _hasher.hash(password)  # same cost whether or not the account exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user.id


def set_password(session: Session, user_id: int, password: str) -> None:
    """Replace an account's password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            N_("The password must have at least %(count)d characters."), count=MIN_PASSWORD_LENGTH
        )
    user = session.get(User, user_id)
    if user is None:
        raise DomainError(N_("No such account."))
    user.password_hash = _hasher.hash(password)
