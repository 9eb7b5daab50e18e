"""The IMAP poller: read replies from a mailbox (``AMORCE_IMAP_URL``), store each once, mark it.

Each poll stores, through :func:`webapp.receivers.store_and_queue`, the messages not handled yet
(unseen ones, or all of them when ``AMORCE_IMAP_DONE_FOLDER`` is set), and only once a message's
row is committed flags it ``\\Seen`` or moves it to the done folder. A crash in between stores it
again on the next poll as a duplicate of the same Message-ID, which is then simply marked.
Bodies are fetched with ``BODY.PEEK[]`` so that reading them never marks them before that.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from celery import Celery
from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy.exc import OperationalError

from webapp.config import Config, ConfigError
from webapp.db import Database
from webapp.services.inbound.pipeline import MAX_MESSAGE_BYTES

from . import store_and_queue

log = logging.getLogger(__name__)

CHUNK = 100  # messages whose sizes are asked for at once
BATCH_BYTES = 20 * 1024 * 1024  # bodies fetched at once, at most (a single message always is)
TIMEOUT = 60.0  # seconds the server may stay silent before the poll gives up
STORED = "$AmorceStored"  # the keyword marking what Amorce has stored, where the server keeps one
MAX_BACKOFF = 300.0  # the longest wait between polls while the server or the database is down
_WARNED: set[str] = set()  # servers already warned about, once per process
_ENVELOPE_RECIPIENTS = ("Delivered-To", "X-Original-To")  # where the delivering server writes them
_HEADERS = BytesHeaderParser(policy=policy.compat32)
_EXPECTED = "imap[s]://user:password@host[:port][/folder][?starttls=1]"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class ImapUnavailable(ConnectionError):
    """The IMAP server could not be reached, refused the login or failed during the poll."""


@dataclass(frozen=True)
class ImapSettings:
    """Where the poller reads mail: parsed from ``AMORCE_IMAP_URL``."""

    host: str
    user: str
    password: str = field(repr=False)
    port: int = 143
    folder: str = "INBOX"
    tls: bool = False  # imaps://: TLS from the first byte
    starttls: bool = False  # imap://…?starttls=1: upgrade the plain connection before the login

    @property
    def where(self) -> str:
        """``host:port``, for messages (never the password)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str) -> ImapSettings:
        """Parse ``imap[s]://user:password@host[:port][/folder][?starttls=1]``.

        The user and the password are percent-decoded; the port defaults to 143 (993 for
        imaps) and the folder to INBOX. Raises :class:`ConfigError` naming the variable.
        """

        def bad(problem: str) -> ConfigError:  # the URL holds a password: never quoted back
            return ConfigError(f"AMORCE_IMAP_URL {problem} (expected {_EXPECTED})")

        if not url.strip():
            raise bad("is not set")
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("imap", "imaps"):
            raise bad("must start with imap:// or imaps://")
        if parts.fragment:
            raise bad("holds a '#': percent-encode it (%23) in the password")
        try:
            port = parts.port
        except ValueError:
            raise bad("has a port that is not a number from 1 to 65535") from None
        if port == 0:
            raise bad("has a port that is not a number from 1 to 65535")
        if not parts.hostname:
            raise bad("names no host")
        if not parts.username or parts.password is None:
            raise bad("needs a user and a password")
        starttls = False
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name != "starttls":
                raise bad(f"has an unknown option {name!r}; the only one is starttls")
            if value.lower() not in _TRUE + _FALSE:
                raise bad("has a starttls option that is neither 1 nor 0")
            starttls = value.lower() in _TRUE
        if starttls and scheme == "imaps":
            raise bad("asks for starttls on imaps://, which is TLS already")
        return cls(
            host=parts.hostname,
            user=unquote(parts.username),
            password=unquote(parts.password),
            port=port or (993 if scheme == "imaps" else 143),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            tls=scheme == "imaps",
            starttls=starttls,
        )


def settings_for(config: Config) -> ImapSettings:
    """The IMAP settings of ``config``, checked against the done folder."""
    settings = ImapSettings.from_url(config.imap_url)
    if config.imap_done_folder and config.imap_done_folder == settings.folder:
        raise ConfigError(
            "AMORCE_IMAP_DONE_FOLDER must differ from the folder AMORCE_IMAP_URL reads"
        )
    return settings


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translated(
    method: Callable[Concatenate[_Mailbox, _P], _R],
) -> Callable[Concatenate[_Mailbox, _P], _R]:
    """Turn the socket and protocol errors of an IMAP exchange into :class:`ImapUnavailable`."""

    @wraps(method)
    def wrapper(self: _Mailbox, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapUnavailable(
                f"IMAP server {self.settings.where} (AMORCE_IMAP_URL) failed: {exc}"
            ) from exc

    return wrapper


class _Mailbox:
    """One logged-in session on the folder the poller reads."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.keywords = False
        context = ssl.create_default_context()
        try:
            self.client: Any = IMAPClient(
                settings.host,
                settings.port,
                ssl=settings.tls,
                ssl_context=context if settings.tls else None,
                timeout=TIMEOUT,
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapUnavailable(
                f"cannot connect to the IMAP server {settings.where} (AMORCE_IMAP_URL): {exc}"
            ) from exc
        try:
            self._open(context)
        except BaseException:
            self.close()
            raise

    def _open(self, context: ssl.SSLContext) -> None:
        try:
            if self.settings.starttls:
                self.client.starttls(context)
            self.client.login(self.settings.user, self.settings.password)
        except LoginError as exc:
            raise ImapUnavailable(
                f"the IMAP server {self.settings.where} refused the login of "
                f"{self.settings.user!r} (AMORCE_IMAP_URL): {exc}"
            ) from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapUnavailable(
                f"IMAP server {self.settings.where} (AMORCE_IMAP_URL) failed: {exc}"
            ) from exc
        self.select()

    @_translated
    def select(self) -> None:
        """Open the folder read-write; note whether it keeps keywords of our own."""
        answer = self.client.select_folder(self.settings.folder)
        self.keywords = b"\\*" in tuple(answer.get(b"PERMANENTFLAGS", ()))

    @_translated
    def pending(self, moving: bool) -> list[int]:
        """UIDs of the messages not handled yet, oldest first."""
        if moving:
            criteria = ["UNDELETED"]
        elif self.keywords:
            # Not "UNSEEN": a person who reads the mailbox first must not hide a reply from us.
            criteria = ["UNKEYWORD", STORED, "UNDELETED"]
        else:
            if self.settings.where not in _WARNED:
                _WARNED.add(self.settings.where)
                log.warning(
                    "IMAP server %s keeps no keywords of ours: a reply someone opens in a mail "
                    "client before Amorce polls would be skipped; set AMORCE_IMAP_DONE_FOLDER",
                    self.settings.where,
                )
            criteria = ["UNSEEN", "UNDELETED"]
        return sorted(int(uid) for uid in self.client.search(criteria))

    @_translated
    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """The size in bytes of each message still there."""
        found = self.client.fetch(list(uids), ["RFC822.SIZE"])
        return {int(uid): int(data.get(b"RFC822.SIZE", 0)) for uid, data in found.items()}

    @_translated
    def bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The raw bytes of each message still there, without setting ``\\Seen``."""
        found = self.client.fetch(list(uids), ["BODY.PEEK[]"])
        return {
            int(uid): bytes(data[b"BODY[]"])
            for uid, data in found.items()
            if data.get(b"BODY[]") is not None
        }

    @_translated
    def ensure_folder(self, folder: str) -> None:
        """Create (and subscribe to) ``folder`` unless it exists; another poller may race us."""
        if self.client.folder_exists(folder):
            return
        try:
            self.client.create_folder(folder)
        except imaplib.IMAP4.error:
            if not self.client.folder_exists(folder):
                raise
            return
        self.client.subscribe_folder(folder)

    @_translated
    def mark(self, uids: Sequence[int], done_folder: str) -> None:
        """Flag the messages ``\\Seen`` (and ``$AmorceStored`` where the server keeps keywords),
        or move them to ``done_folder`` when there is one."""
        if not uids:
            return
        messages = list(uids)
        if not done_folder:
            flags = [SEEN, STORED.encode()] if self.keywords else [SEEN]
            self.client.add_flags(messages, flags, silent=True)
        elif self.client.has_capability("MOVE"):
            self.client.move(messages, done_folder)
        else:
            self.client.copy(messages, done_folder)
            self.client.add_flags(messages, [DELETED], silent=True)
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge(messages)
            else:  # without UIDPLUS, EXPUNGE removes every \Deleted message of the folder
                self.client.expunge()

    def close(self) -> None:
        """Log out; a connection already broken is just dropped."""
        try:
            self.client.logout()
        except (OSError, imaplib.IMAP4.error):
            try:
                self.client.shutdown()
            except (OSError, imaplib.IMAP4.error):
                pass  # the socket is gone either way

    def __enter__(self) -> _Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def envelope(raw: bytes) -> tuple[str, list[str]]:
    """The envelope sender (``Return-Path``) and recipients (``Delivered-To``,
    ``X-Original-To``) that the delivering server wrote into the message."""
    headers = _HEADERS.parsebytes(raw[:65536], headersonly=True)
    return_path = str(headers.get("Return-Path", "")).strip()
    sender = "<>" if return_path == "<>" else parseaddr(return_path)[1]
    recipients: dict[str, None] = {}
    for name in _ENVELOPE_RECIPIENTS:
        values = [str(value) for value in headers.get_all(name, [])]
        for _, address in getaddresses(values):
            if address:
                recipients.setdefault(address, None)
    return sender, list(recipients)


def _batches(sizes: dict[int, int]) -> Iterator[list[int]]:
    """UIDs grouped so that one fetch holds at most :data:`BATCH_BYTES` (or one message)."""
    batch: list[int] = []
    total = 0
    for uid in sorted(sizes):
        if batch and total + sizes[uid] > BATCH_BYTES:
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += sizes[uid]
    if batch:
        yield batch


def poll_once(config: Config, database: Database, celery: Celery | None) -> int:
    """Store the mailbox's new messages, then mark them; the number of new messages stored.

    Raises :class:`ImapUnavailable` when the server cannot be reached or fails, and
    :class:`ConfigError` when ``AMORCE_IMAP_URL`` is malformed.
    """
    settings = settings_for(config)
    done_folder = config.imap_done_folder
    stored = duplicates = 0
    with _Mailbox(settings) as mailbox:
        pending = mailbox.pending(moving=bool(done_folder))
        if pending and done_folder:
            mailbox.ensure_folder(done_folder)
        for start in range(0, len(pending), CHUNK):
            sizes = mailbox.sizes(pending[start : start + CHUNK])
            too_large = sorted(uid for uid, size in sizes.items() if size > MAX_MESSAGE_BYTES)
            if too_large:
                log.warning(
                    "IMAP %s: messages %s exceed %d bytes; left in %s for a person to read",
                    settings.where,
                    too_large,
                    MAX_MESSAGE_BYTES,
                    settings.folder,
                )
            wanted = {uid: size for uid, size in sizes.items() if size <= MAX_MESSAGE_BYTES}
            for batch in _batches(wanted):
                handled: list[int] = []
                for uid, raw in mailbox.bodies(batch).items():
                    sender, recipients = envelope(raw)
                    inbound_id = store_and_queue(
                        database,
                        celery,
                        raw,
                        channel="imap",
                        envelope_from=sender,
                        recipients=recipients,
                    )
                    stored += inbound_id is not None
                    duplicates += inbound_id is None
                    handled.append(uid)
                mailbox.mark(handled, done_folder)  # only now: every row above is committed
    if stored or duplicates:
        log.info(
            "IMAP %s: %d new message(s) stored, %d already stored; marked done",
            settings.where,
            stored,
            duplicates,
        )
    return stored


def run(config: Config, database: Database, celery: Celery | None, stop: threading.Event) -> None:
    """Poll every ``imap_poll_seconds`` until ``stop`` is set.

    An unreachable IMAP server or database is logged and retried with a growing delay (up to
    :data:`MAX_BACKOFF`); a malformed ``AMORCE_IMAP_URL`` raises :class:`ConfigError` at once.
    """
    settings = settings_for(config)
    interval = config.imap_poll_seconds
    failures = 0
    log.info("polling IMAP %s/%s every %g s", settings.where, settings.folder, interval)
    while not stop.is_set():
        try:
            poll_once(config, database, celery)
        except (ImapUnavailable, OperationalError) as exc:
            failures += 1
            delay = min(interval * 2 ** min(failures, 16), max(MAX_BACKOFF, interval))
            log.warning("IMAP poll failed (attempt %d, next in %g s): %s", failures, delay, exc)
        else:
            failures = 0
            delay = interval
        stop.wait(delay)
