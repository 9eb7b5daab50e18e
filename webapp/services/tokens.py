"""Personal link tokens: 192 random bits handed out once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from webapp.models import Token, utcnow

from .errors import InvalidToken

TOKEN_BYTES = 24


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    *,
    person_id: int,
    community_id: int,
    purpose: str,
    lifetime_days: int,
    delivery_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Create a token row and return the only copy of the secret."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    moment = now or utcnow()
    session.add(
        Token(
            token_hash=hash_token(token),
            purpose=purpose,
            person_id=person_id,
            community_id=community_id,
            delivery_id=delivery_id,
            expires_at=moment + timedelta(days=lifetime_days),
            created_at=moment,
        )
    )
    return token


def issue_delivery_tokens(
    session: Session,
    deliveries: list[tuple[int, int]],
    *,
    community_id: int,
    purpose: str,
    lifetime_days: int,
) -> dict[int, str]:
    """One token per (delivery id, person id), written in one statement; secrets by delivery."""
    moment = utcnow()
    secrets_by_delivery: dict[int, str] = {}
    rows = []
    for delivery_id, person_id in deliveries:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        secrets_by_delivery[delivery_id] = token
        rows.append(
            {
                "token_hash": hash_token(token),
                "purpose": purpose,
                "person_id": person_id,
                "community_id": community_id,
                "delivery_id": delivery_id,
                "expires_at": moment + timedelta(days=lifetime_days),
                "created_at": moment,
            }
        )
    if rows:
        session.execute(insert(Token), rows)
    return secrets_by_delivery


@dataclass(frozen=True)
class TokenGrant:
    """What a valid token opens."""

    token_id: int
    person_id: int
    community_id: int
    purpose: str
    delivery_id: int | None


def resolve_token(session: Session, token: str, purpose: str) -> TokenGrant:
    """The grant of a valid token, or :class:`InvalidToken` whatever the reason."""
    if not token or len(token) > 100:
        raise InvalidToken()
    row = session.scalar(select(Token).where(Token.token_hash == hash_token(token)))
    if row is None or row.purpose != purpose or row.revoked_at is not None:
        raise InvalidToken()
    if row.expires_at <= utcnow():
        raise InvalidToken()
    return TokenGrant(row.id, row.person_id, row.community_id, row.purpose, row.delivery_id)


def grant_for_id(session: Session, token_id: int) -> TokenGrant:
    """Re-check a grant held in a session cookie: still valid, not revoked, not expired."""
    row = session.get(Token, token_id)
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise InvalidToken()
    return TokenGrant(row.id, row.person_id, row.community_id, row.purpose, row.delivery_id)


def revoke_tokens(session: Session, person_id: int, community_id: int) -> int:
    """Revoke every live token of a person in a community; returns how many."""
    result = session.execute(
        update(Token)
        .where(
            Token.person_id == person_id,
            Token.community_id == community_id,
            Token.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
