"""DKIM signing (RELIABILITY U1): verified at the sink, covering both RFC 8058 headers."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from email import message_from_bytes
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sink import Sink

from webapp.config import Config, ConfigError
from webapp.db import Database
from webapp.mail import EmailRenderer, SmtpConnection, signer_for
from webapp.services import campaigns, communities, imports, messages
from workers.campaigns import drain_with

SELECTOR = "amorce1"
DOMAIN = "example.org"
DnsFunc = Callable[..., bytes | None]

# DKIM has nothing to do with the database: one backend is enough.
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """One RSA 2048 key for the module (generating one takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    """The private key as the PEM file ``AMORCE_DKIM_KEY_FILE`` names."""
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def dns(rsa_key: rsa.RSAPrivateKey) -> DnsFunc:
    """A fake resolver that publishes the public key at ``amorce1._domainkey.example.org``."""
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    return lookup


@pytest.fixture
def raw_messages(smtp_sink: Sink) -> Sequence[bytes]:
    """The bytes of every message the sink receives, exactly as they came after DATA."""

    class Received(Sequence[bytes]):
        def __getitem__(self, index: Any) -> Any:
            return [envelope.data for envelope in smtp_sink.envelopes][index]

        def __len__(self) -> int:
            return len(smtp_sink.envelopes)

    return Received()


@pytest.fixture
def signing(config: Config, smtp_sink: Sink, key_file: Path) -> Config:
    """Settings that sign with the test key, replies and unsubscribes on a reply domain."""
    return config.with_overrides(
        smtp_url=smtp_sink.url,
        mail_from=f"Amorce <amorce@{DOMAIN}>",
        reply_domain=f"reply.{DOMAIN}",
        dkim_selector=SELECTOR,
        dkim_key_file=str(key_file),
    )


def launch(database: Database) -> int:
    """A community with a non-ASCII name, two prospects and a launched recruitment campaign."""
    with database.session() as session:
        community_id = communities.create_community(
            session,
            communities.CommunityData(
                name="CoP Pédagogie",
                slug="cop",
                sender_name="Équipe CoP",
                organization="Université Test",
                postal_address="1 rue de l'Université, Québec",
                contact_email="cop@example.org",
            ),
        )
        imports.import_people(
            session,
            community_id,
            "email,first_name\nanne@example.net,Anne\nbob@example.com,Bob\n",
            source="list",
            consent="express",
        )
        campaign_id = campaigns.create_campaign(session, community_id)
        campaigns.launch_campaign(session, campaign_id)
    return campaign_id


def send_campaign(config: Config, database: Database, campaign_id: int) -> None:
    """Send every batch through the worker's own ``drain_with``."""
    renderer = EmailRenderer()
    while drain_with(config, database, campaign_id, renderer):
        pass


def signed_headers(raw: bytes) -> list[str]:
    """The ``h=`` tag of the message's DKIM-Signature, lower-cased names."""
    signature = message_from_bytes(raw)["DKIM-Signature"]
    tags = re.sub(r"\s+", "", str(signature))
    value = re.search(r"(?:^|;)h=([^;]*)", tags)
    assert value is not None
    return value.group(1).lower().split(":")


@sqlite_only
def test_campaign_messages_verify_at_the_sink_with_both_unsubscribe_headers_signed(
    database: Database,
    signing: Config,
    smtp_sink: Sink,
    dns: DnsFunc,
    raw_messages: Sequence[bytes],
) -> None:
    send_campaign(signing, database, launch(database))
    assert len(smtp_sink.messages) == len(raw_messages) == 2
    for raw in raw_messages:
        assert raw.startswith(b"DKIM-Signature: ")
        assert dkim.verify(raw, dnsfunc=dns), raw.decode(errors="replace")
        covered = signed_headers(raw)
        assert "list-unsubscribe" in covered and "list-unsubscribe-post" in covered
        assert {"from", "to", "subject", "date", "message-id", "reply-to", "list-id"} <= set(
            covered
        )
        parsed = message_from_bytes(raw)
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "mailto:unsubscribe+" in parsed["List-Unsubscribe"]
        assert f"d={DOMAIN}" in re.sub(r"\s+", "", parsed["DKIM-Signature"])
        assert parsed["Auto-Submitted"] is None


@sqlite_only
@pytest.mark.parametrize(
    ("original", "tampered"),
    [
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: x=y"),
        (b"List-Unsubscribe: <http://127.0.0.1:5000/u/", b"List-Unsubscribe: <http://evil/u/"),
        (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b""),
    ],
    ids=["post-changed", "url-changed", "post-removed"],
)
def test_a_tampered_unsubscribe_header_fails_verification(
    database: Database,
    signing: Config,
    dns: DnsFunc,
    raw_messages: Sequence[bytes],
    original: bytes,
    tampered: bytes,
) -> None:
    send_campaign(signing, database, launch(database))
    raw = raw_messages[0]
    assert dkim.verify(raw, dnsfunc=dns)
    assert raw.count(original) == 1
    assert not dkim.verify(raw.replace(original, tampered), dnsfunc=dns)


@sqlite_only
def test_adding_a_list_unsubscribe_post_breaks_a_signature(
    database: Database, signing: Config, dns: DnsFunc, raw_messages: Sequence[bytes]
) -> None:
    # Signed as absent on a message without one (a test send): it cannot be added on the way.
    campaign_id = launch(database)
    with database.session() as session, SmtpConnection.for_config(signing) as connection:
        messages.send_test(
            session,
            signing,
            EmailRenderer(),
            connection,
            campaign_id,
            email="coord@example.org",
            name="Coord",
            locale="fr",
        )
    raw = raw_messages[0]
    assert dkim.verify(raw, dnsfunc=dns)
    assert b"\r\nList-Unsubscribe-Post:" not in raw
    added = raw.replace(
        b"\r\nSubject:", b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nSubject:", 1
    )
    assert not dkim.verify(added, dnsfunc=dns)


@sqlite_only
def test_no_key_no_signature(
    database: Database, config: Config, smtp_sink: Sink, raw_messages: Sequence[bytes]
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    assert signer_for(settings) is None
    send_campaign(settings, database, launch(database))
    assert raw_messages and all(b"DKIM-Signature" not in raw for raw in raw_messages)
    assert all(m["DKIM-Signature"] is None for m in smtp_sink.messages)


@sqlite_only
@pytest.mark.parametrize("content", [None, b"", b"not a key", b"-----BEGIN RSA PRIVATE KEY-----\n"])
def test_a_bad_key_file_is_a_clear_error(
    config: Config, tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "missing.pem"
    if content is not None:
        path.write_bytes(content)
    settings = config.with_overrides(dkim_selector=SELECTOR, dkim_key_file=str(path))
    with pytest.raises(ConfigError, match="AMORCE_DKIM_KEY_FILE") as error:
        SmtpConnection.for_config(settings)
    assert str(path) in str(error.value)


@sqlite_only
def test_a_public_key_is_not_a_private_key(
    config: Config, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "public.pem"
    path.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    settings = config.with_overrides(dkim_selector=SELECTOR, dkim_key_file=str(path))
    with pytest.raises(ConfigError, match="AMORCE_DKIM_KEY_FILE"):
        signer_for(settings)


def test_settings_come_from_the_environment_and_go_together(tmp_path: Path, key_file: Path) -> None:
    base = {"AMORCE_INSTANCE_PATH": str(tmp_path), "AMORCE_MAIL_FROM": "A <a@mail.example.org>"}
    loaded = Config.from_env(
        {**base, "AMORCE_DKIM_SELECTOR": SELECTOR, "AMORCE_DKIM_KEY_FILE": str(key_file)}
    )
    signer = signer_for(loaded)
    assert signer is not None and (signer.selector, signer.domain) == (SELECTOR, "mail.example.org")
    assert signer is signer_for(loaded), "the key is read once per process"
    assert "private_key" not in repr(signer)
    other = Config.from_env(
        {
            **base,
            "AMORCE_DKIM_SELECTOR": SELECTOR,
            "AMORCE_DKIM_KEY_FILE": str(key_file),
            "AMORCE_DKIM_DOMAIN": DOMAIN,
        }
    )
    assert signer_for(other).domain == DOMAIN  # type: ignore[union-attr]
    for lonely in ("AMORCE_DKIM_SELECTOR", "AMORCE_DKIM_KEY_FILE"):
        with pytest.raises(ConfigError, match="AMORCE_DKIM_SELECTOR and AMORCE_DKIM_KEY_FILE"):
            Config.from_env({**base, lonely: "x"})
