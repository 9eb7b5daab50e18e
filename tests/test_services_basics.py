"""Personal link tokens, coordinator accounts and who may manage which community."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select, text

from webapp.db import Database
from webapp.models import Person, Token, User, utcnow
from webapp.services.communities import (
    CommunityData,
    communities_for_user,
    community_for_user,
    create_community,
)
from webapp.services.errors import DomainError, InvalidToken, NotFound
from webapp.services.tokens import grant_for_id, issue_token, resolve_token, revoke_tokens
from webapp.services.users import authenticate, create_user

PASSWORD = "correct horse battery"

# -- tokens --------------------------------------------------------------------------------


@pytest.fixture
def holder(database: Database) -> tuple[int, int]:
    """A community and a person in it: (community_id, person_id)."""
    with database.session() as session:
        community_id = create_community(session, CommunityData(name="C", slug="c"))
        person = Person(email="ana@example.org")
        session.add(person)
        session.flush()
        return community_id, person.id


def issue(database: Database, holder: tuple[int, int], **options: object) -> str:
    community_id, person_id = holder
    values: dict = {"purpose": "respond", "lifetime_days": 60, **options}
    with database.session() as session:
        return issue_token(session, person_id=person_id, community_id=community_id, **values)


def test_a_token_carries_128_bits_and_is_stored_only_hashed(
    database: Database, holder: tuple[int, int]
) -> None:
    tokens = [issue(database, holder) for _ in range(5)]

    assert len(set(tokens)) == 5
    for token in tokens:
        assert len(token) >= 22
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16
    with database.session() as session:
        stored = set(session.scalars(select(Token.token_hash)))
        assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
        for table in inspect(database.engine).get_table_names():
            cells = " ".join(
                str(c) for row in session.execute(text(f'SELECT * FROM "{table}"')) for c in row
            )
            assert not any(t in cells for t in tokens), f"plaintext token in {table}"


def test_a_valid_token_opens_its_grant(database: Database, holder: tuple[int, int]) -> None:
    token = issue(database, holder)

    with database.session() as session:
        grant = resolve_token(session, token, "respond")
        assert (grant.community_id, grant.person_id, grant.purpose) == (*holder, "respond")
        assert grant_for_id(session, grant.token_id) == grant


def test_expired_revoked_unknown_and_misused_tokens_are_refused(
    database: Database, holder: tuple[int, int]
) -> None:
    expired = issue(database, holder, lifetime_days=1, now=utcnow() - timedelta(days=2))
    revoked = issue(database, holder)
    with database.session() as session:
        revoked_id = resolve_token(session, revoked, "respond").token_id
        assert revoke_tokens(session, holder[1], holder[0]) == 2

    live = issue(database, holder)
    with database.session() as session:
        for token, purpose in [
            (expired, "respond"),
            (revoked, "respond"),
            (live, "unsubscribe"),
            (live[:-1], "respond"),
            ("", "respond"),
            ("x" * 500, "respond"),
        ]:
            with pytest.raises(InvalidToken):
                resolve_token(session, token, purpose)
        with pytest.raises(InvalidToken):
            grant_for_id(session, revoked_id)
        assert resolve_token(session, live, "respond").person_id == holder[1]


# -- users ---------------------------------------------------------------------------------


def test_an_account_signs_in_with_its_password_only(database: Database) -> None:
    with database.session() as session:
        user_id = create_user(session, "Coord@Example.org", PASSWORD)

    with database.session() as session:
        assert authenticate(session, "coord@example.org", PASSWORD) == user_id
        assert authenticate(session, " COORD@example.org ", PASSWORD) == user_id
        assert authenticate(session, "coord@example.org", PASSWORD + "!") is None
        assert authenticate(session, "nobody@example.org", PASSWORD) is None
        assert authenticate(session, "not an address", PASSWORD) is None
        session.get_one(User, user_id).active = False
    with database.session() as session:
        assert authenticate(session, "coord@example.org", PASSWORD) is None


def test_the_password_is_kept_as_an_argon2_hash(database: Database) -> None:
    with database.session() as session:
        user_id = create_user(session, "coord@example.org", PASSWORD)
    with database.session() as session:
        stored = session.get_one(User, user_id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("email", "password", "role", "message"),
    [
        ("COORD@example.org", PASSWORD, "coordinator", "already exists"),
        ("other@example.org", "short", "coordinator", "at least"),
        ("other@example.org", PASSWORD, "owner", "Unknown role"),
        ("not an address", PASSWORD, "coordinator", "@-sign"),
    ],
    ids=["duplicate", "short-password", "unknown-role", "bad-email"],
)
def test_a_bad_account_is_refused(
    database: Database, email: str, password: str, role: str, message: str
) -> None:
    with database.session() as session:
        create_user(session, "coord@example.org", PASSWORD)

    with database.session() as session:
        with pytest.raises(DomainError, match=message):
            create_user(session, email, password, role=role)
        assert len(session.scalars(select(User)).all()) == 1


# -- communities ---------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["Pedago", "péda", "a b", "-pedago", "pedago-", "", "a" * 81])
def test_a_bad_slug_is_refused(database: Database, slug: str) -> None:
    with database.session() as session, pytest.raises(DomainError, match="short name"):
        create_community(session, CommunityData(name="Pédagogie", slug=slug))


def test_a_slug_is_taken_once(database: Database) -> None:
    with database.session() as session:
        create_community(session, CommunityData(name="Pédagogie", slug="pedago-2"))

    with database.session() as session, pytest.raises(DomainError, match="already taken"):
        create_community(session, CommunityData(name="Autre", slug="pedago-2"))


def test_coordinators_see_only_their_communities_and_admins_see_all(database: Database) -> None:
    with database.session() as session:
        admin = create_user(session, "admin@example.org", PASSWORD, role="admin")
        alice = create_user(session, "alice@example.org", PASSWORD)
        bob = create_user(session, "bob@example.org", PASSWORD)
        create_community(session, CommunityData(name="A", slug="a"), user_id=alice)
        create_community(session, CommunityData(name="B", slug="b"), user_id=bob)

    with database.session() as session:
        assert community_for_user(session, alice, "a").slug == "a"
        with pytest.raises(NotFound):
            community_for_user(session, alice, "b")
        with pytest.raises(NotFound):
            community_for_user(session, alice, "missing")
        assert [c.slug for c in communities_for_user(session, alice)] == ["a"]
        assert community_for_user(session, admin, "b").slug == "b"
        assert [c.slug for c in communities_for_user(session, admin)] == ["a", "b"]
