"""Settings read once from the environment (``AMORCE_*``), typed, frozen and failing fast."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATCHER_PORT = 8025


class ConfigError(ValueError):
    """A setting is missing or malformed."""


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Config:
    """Every setting Amorce reads; build it with :meth:`from_env` or directly in tests."""

    secret_key: str
    instance_path: Path = field(default_factory=lambda: Path("instance").resolve())
    database_url: str = ""
    broker_url: str = ""
    smtp_url: str = ""
    base_url: str = "http://127.0.0.1:5000"
    mail_from: str = "Amorce <amorce@localhost>"
    reply_domain: str = ""
    proxy_count: int = 0
    env: str = "development"
    ratelimit_storage_url: str = "memory://"
    token_rate_limit: str = "60 per minute"
    token_lifetime_days: int = 180
    batch_size: int = 200
    lease_seconds: int = 300
    visibility_timeout: int = 3600  # seconds before Redis hands an unacknowledged task out again
    sweep_seconds: float = 30.0
    send_rate: int = 0  # messages per second for the whole instance; 0 means no limit
    domain_rate: int = 0  # messages per minute to one recipient domain; 0 means no limit
    max_consecutive_errors: int = 50
    default_locale: str = "fr"
    organization: str = ""
    postal_address: str = ""
    contact_email: str = ""
    dkim_selector: str = ""  # with dkim_key_file, outgoing mail is DKIM-signed
    dkim_domain: str = ""  # empty: the domain of mail_from
    dkim_key_file: str = ""  # path to a PEM RSA private key, read once per process when used
    inbound_retention_days: int = 90  # raw received messages are purged after this
    inbound_secret: str = ""  # the shared secret of POST /inbound/webhook; empty: webhook off
    inbound_host: str = "127.0.0.1"  # where `amorce inbound smtp` listens
    inbound_port: int = 2525
    imap_url: str = ""  # imaps://user:password@host/INBOX for `amorce inbound imap`
    imap_done_folder: str = ""  # move processed mail there; empty: flag it Seen and leave it
    imap_poll_seconds: float = 30.0
    testing: bool = False

    def __post_init__(self) -> None:
        base = self.instance_path
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{base / 'amorce.db'}")
        object.__setattr__(self, "database_url", normalise_database_url(self.database_url))
        if not self.broker_url:
            object.__setattr__(self, "broker_url", f"sqla+sqlite:///{base / 'broker.db'}")
        if not self.smtp_url:
            object.__setattr__(self, "smtp_url", f"smtp://127.0.0.1:{DEFAULT_CATCHER_PORT}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if urlsplit(self.base_url).scheme not in ("http", "https"):
            raise ConfigError("AMORCE_BASE_URL must start with http:// or https://")
        if urlsplit(self.smtp_url).scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ConfigError(
                "AMORCE_SMTP_URL must start with smtp://, smtps:// or smtp+starttls://"
            )
        if self.inbound_secret and len(self.inbound_secret) < 32:
            raise ConfigError(
                "AMORCE_INBOUND_SECRET must be at least 32 characters long (it is the webhook's "
                "only defence against guessing)"
            )
        if self.inbound_retention_days < 1:
            raise ConfigError("AMORCE_INBOUND_RETENTION_DAYS must be at least 1")
        if bool(self.dkim_selector) != bool(self.dkim_key_file):
            raise ConfigError(
                "AMORCE_DKIM_SELECTOR and AMORCE_DKIM_KEY_FILE must both be set, or neither"
            )

    @property
    def https(self) -> bool:
        """Whether public links and cookies use https."""
        return self.base_url.startswith("https://")

    @property
    def development(self) -> bool:
        """Whether the developer conveniences (the mailbox page) are on."""
        return self.env == "development"

    @property
    def mailbox_path(self) -> Path:
        """The Maildir where the local mail catcher stores what it receives."""
        return self.instance_path / "mailbox"

    def with_overrides(self, **changes: object) -> Config:
        """A copy with some settings changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read every ``AMORCE_*`` variable; refuse a production start without a secret."""
        env = os.environ if environ is None else environ
        mode = env.get("AMORCE_ENV", "development")
        if mode not in ("development", "production"):
            raise ConfigError("AMORCE_ENV must be 'development' or 'production'")
        instance = Path(env.get("AMORCE_INSTANCE_PATH", "instance")).resolve()
        secret = env.get("AMORCE_SECRET_KEY", "")
        if not secret:
            if mode == "production":
                raise ConfigError("AMORCE_SECRET_KEY is required when AMORCE_ENV=production")
            secret = _development_secret(instance)
        values: dict[str, object] = {"secret_key": secret, "instance_path": instance, "env": mode}
        text_settings = {
            "database_url": "AMORCE_DATABASE_URL",
            "broker_url": "AMORCE_BROKER_URL",
            "smtp_url": "AMORCE_SMTP_URL",
            "base_url": "AMORCE_BASE_URL",
            "mail_from": "AMORCE_MAIL_FROM",
            "reply_domain": "AMORCE_REPLY_DOMAIN",
            "ratelimit_storage_url": "AMORCE_RATELIMIT_STORAGE_URL",
            "token_rate_limit": "AMORCE_TOKEN_RATE_LIMIT",
            "default_locale": "AMORCE_DEFAULT_LOCALE",
            "organization": "AMORCE_ORGANIZATION",
            "postal_address": "AMORCE_POSTAL_ADDRESS",
            "contact_email": "AMORCE_CONTACT_EMAIL",
            "dkim_selector": "AMORCE_DKIM_SELECTOR",
            "dkim_domain": "AMORCE_DKIM_DOMAIN",
            "dkim_key_file": "AMORCE_DKIM_KEY_FILE",
            "inbound_secret": "AMORCE_INBOUND_SECRET",
            "inbound_host": "AMORCE_INBOUND_HOST",
            "imap_url": "AMORCE_IMAP_URL",
            "imap_done_folder": "AMORCE_IMAP_DONE_FOLDER",
        }
        for name, var in text_settings.items():
            if env.get(var):
                values[name] = env[var]
        number_settings = {
            "token_lifetime_days": "AMORCE_TOKEN_LIFETIME_DAYS",
            "batch_size": "AMORCE_BATCH_SIZE",
            "lease_seconds": "AMORCE_LEASE_SECONDS",
            "visibility_timeout": "AMORCE_VISIBILITY_TIMEOUT",
            "proxy_count": "AMORCE_PROXY_COUNT",
            "send_rate": "AMORCE_SEND_RATE",
            "domain_rate": "AMORCE_DOMAIN_RATE",
            "max_consecutive_errors": "AMORCE_MAX_CONSECUTIVE_ERRORS",
            "inbound_retention_days": "AMORCE_INBOUND_RETENTION_DAYS",
            "inbound_port": "AMORCE_INBOUND_PORT",
        }
        for name, var in number_settings.items():
            if env.get(var):
                try:
                    values[name] = int(env[var])
                except ValueError as exc:
                    raise ConfigError(f"{var} must be a whole number, not {env[var]!r}") from exc
        for name, var in (
            ("sweep_seconds", "AMORCE_SWEEP_SECONDS"),
            ("imap_poll_seconds", "AMORCE_IMAP_POLL_SECONDS"),
        ):
            if env.get(var):
                try:
                    values[name] = float(env[var])
                except ValueError as exc:
                    raise ConfigError(f"{var} must be a number") from exc
        if "ratelimit_storage_url" not in values:
            broker = str(values.get("broker_url", ""))
            if broker.startswith("redis://"):
                values["ratelimit_storage_url"] = broker
        return cls(**values)  # type: ignore[arg-type]


def _development_secret(instance: Path) -> str:
    """A random secret kept in the instance folder so sessions survive a restart."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        instance.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        path.write_text(value)
        path.chmod(0o600)
        return value
