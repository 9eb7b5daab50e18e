"""Emails: render a txt + html pair from finished values, build the MIME message, send over SMTP."""

from __future__ import annotations

import base64
import binascii
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import dkim
import nh3
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from webapp.config import ConfigError
from webapp.i18n import LOCALES, translations_for

if TYPE_CHECKING:
    from webapp.config import Config

EMAIL_TEMPLATES = Path(str(files("email_templates")))


class NotSent(Exception):
    """The server could not be used (connect, greeting, login, MAIL FROM, or a drop before DATA).

    The message was certainly not delivered, and the fault is the server's, not the recipient's.
    """


class HeaderInjection(ValueError):
    """A header value holds a line break."""


@dataclass(frozen=True)
class RenderedEmail:
    """A finished email: subject, text part and HTML part."""

    subject: str
    text: str
    html: str


class EmailRenderer:
    """Jinja environments, one per locale, each template compiled once per process."""

    def __init__(self, directory: Path = EMAIL_TEMPLATES) -> None:
        self._envs: dict[str, Environment] = {}
        for locale in LOCALES:
            env = Environment(
                loader=FileSystemLoader(str(directory)),
                undefined=StrictUndefined,
                autoescape=select_autoescape(["html"]),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                keep_trailing_newline=True,
            )
            env.install_gettext_translations(translations_for(locale), newstyle=True)  # type: ignore[attr-defined]
            self._envs[locale] = env

    def render(self, name: str, locale: str, context: dict[str, Any]) -> RenderedEmail:
        """Render ``<name>.txt`` (which declares the subject) and ``<name>.html``."""
        env = self._envs[locale if locale in self._envs else "fr"]
        values = {"locale": locale, **context}
        text_template = env.get_template(f"{name}.txt")
        subject = "".join(
            text_template.blocks["subject"](text_template.new_context(values))
        ).strip()
        check_header(subject)
        values["subject"] = subject
        text = text_template.render(values)
        html = env.get_template(f"{name}.html").render(values)
        return RenderedEmail(subject=subject, text=text, html=html)


# -- what coordinators write ---------------------------------------------------------------

_sandbox = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})
MESSAGE_PLACEHOLDERS = ("first_name", "last_name", "community")


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    return _sandbox.from_string(source)


def render_coordinator_text(source: str, values: dict[str, str]) -> str:
    """Render text a coordinator wrote, in Jinja's sandbox, with the allowed placeholders."""
    return str(_compiled(source).render(**values))


def check_coordinator_text(source: str) -> str | None:
    """An error message if the text does not render with sample values, else None."""
    try:
        render_coordinator_text(source, {name: "x" for name in MESSAGE_PLACEHOLDERS})
    except Exception as exc:  # noqa: BLE001 - any template error is reported to the coordinator
        return str(exc)
    return None


@lru_cache(maxsize=512)
def markdown_to_html(source: str) -> Markup:
    """Markdown rendered then sanitised with nh3 (no scripts, no event handlers).

    Cached: a campaign's message is often the same for every recipient.
    """
    html = _markdown.render(source)
    clean = nh3.clean(html, url_schemes={"http", "https", "mailto"})
    return Markup(clean)  # noqa: S704 - sanitised just above


# -- MIME ---------------------------------------------------------------------------------


def check_header(value: str) -> str:
    """Refuse line breaks in a header value (no header injection)."""
    if "\r" in value or "\n" in value:
        raise HeaderInjection("line break in a header value")
    return value


def address_header(name: str, address: str) -> str:
    """``Name <address>``, encoded when the name is not ASCII."""
    check_header(name)
    check_header(address)
    return formataddr((name, address), charset="utf-8")


@dataclass(frozen=True)
class OutgoingMessage:
    """A finished message as the bytes that go on the wire, with its headers readable.

    Built by hand rather than with :mod:`email`'s generator, which spends most of its time
    folding headers: composing the MIME message is the largest cost of sending.
    """

    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    def __getitem__(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def as_bytes(self) -> bytes:
        """The whole message with CRLF line ends, as it goes on the wire."""
        head = "".join(f"{key}: {value}\r\n" for key, value in self.headers)
        return head.encode("ascii") + b"\r\n" + self.body


def _encoded(value: str) -> str:
    """A header value as RFC 2047 encoded words (base64) when it is not plain ASCII.

    Each word carries whole characters and stays under 76 columns; words are folded onto
    continuation lines. (``email.header.Header`` does the same, much more slowly.)
    """
    check_header(value)
    if value.isascii():
        return value
    data, words, start = value.encode("utf-8"), [], 0
    while start < len(data):
        end = min(start + 45, len(data))  # 45 bytes -> 60 base64 characters
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        words.append(data[start:end])
        start = end
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


@dataclass(frozen=True)
class CalendarPart:
    """An iCalendar event to carry in an email, and its iTIP method (REQUEST, CANCEL)."""

    data: bytes
    method: str = "REQUEST"
    filename: str = "invite.ics"


def _base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, CRLF-terminated."""
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def _quoted_printable(text: str) -> bytes:
    crlf = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return binascii.b2a_qp(crlf, quotetabs=False, istext=True, header=False)


def build_message(
    rendered: RenderedEmail,
    *,
    from_header: str,
    to_header: str,
    headers: dict[str, str],
    message_id_domain: str,
    calendar: CalendarPart | None = None,
) -> OutgoingMessage:
    """A multipart/alternative message (text and HTML, quoted-printable UTF-8).

    With ``calendar``, the alternative also carries the event as ``text/calendar`` (what mail
    clients turn into accept and decline buttons) and the whole is multipart/mixed with the
    same event attached as a file, for the clients that only offer to open it.
    """
    boundary = f"=_amorce_{secrets.token_hex(12)}"  # "=_" cannot occur in quoted-printable
    fields = [
        ("Subject", _encoded(rendered.subject)),
        ("From", check_header(from_header)),
        ("To", check_header(to_header)),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", make_msgid(domain=message_id_domain)),
        *((key, _encoded(value)) for key, value in headers.items()),
        ("MIME-Version", "1.0"),
    ]
    parts = []
    for subtype, text in (("plain", rendered.text), ("html", rendered.html)):
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii")
            + _quoted_printable(text)
            + b"\r\n"
        )
    if calendar is None:
        fields.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        body = b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")
        return OutgoingMessage(tuple(fields), body)
    encoded = _base64_lines(calendar.data)
    parts.append(
        f"--{boundary}\r\n"
        f'Content-Type: text/calendar; charset="utf-8"; method={calendar.method}\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
        + encoded
    )
    alternative = b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")
    outer = f"=_amorce_{secrets.token_hex(12)}"
    fields.append(("Content-Type", f'multipart/mixed; boundary="{outer}"'))
    body = (
        f'--{outer}\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(
            "ascii"
        )
        + alternative
        + f"--{outer}\r\n"
        f'Content-Type: application/ics; name="{calendar.filename}"\r\n'
        f'Content-Disposition: attachment; filename="{calendar.filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
        + encoded
        + f"--{outer}--\r\n".encode("ascii")
    )
    return OutgoingMessage(tuple(fields), body)


@lru_cache(maxsize=1024)
def envelope_address(header: str) -> str:
    """The bare address of a ``Name <address>`` header."""
    return parseaddr(header)[1]


# -- DKIM ---------------------------------------------------------------------------------

# Signed once each, in this order; a name the message lacks is signed as absent, so it cannot be
# added on the way. List-Unsubscribe-Post must be named: dkimpy leaves it out by default (U1).
DKIM_SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
_DKIM_HEADERS = [name.lower().encode("ascii") for name in DKIM_SIGNED_HEADERS]
_DKIM_PROBE = b"From: probe@example.org\r\nSubject: probe\r\n\r\nprobe\r\n"


@dataclass(frozen=True)
class DkimSigner:
    """DKIM (RFC 6376) signing with one key: RSA-SHA256, relaxed/relaxed."""

    selector: str
    domain: str
    private_key: bytes = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """The message with a ``DKIM-Signature`` header prepended."""
        signature = dkim.sign(
            message,
            self.selector.encode("ascii"),
            self.domain.encode("idna"),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=_DKIM_HEADERS,
        )
        return bytes(signature) + message


@lru_cache(maxsize=8)
def load_dkim_signer(key_file: str, selector: str, domain: str) -> DkimSigner:
    """Read the PEM private key once per process and check that it signs."""
    try:
        key = Path(key_file).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"AMORCE_DKIM_KEY_FILE: cannot read {key_file} ({reason})") from exc
    signer = DkimSigner(selector, domain, key)
    try:
        signer.sign(_DKIM_PROBE)
    except (dkim.DKIMException, ValueError, IndexError, TypeError) as exc:
        raise ConfigError(
            f"AMORCE_DKIM_KEY_FILE: {key_file} is not a usable PEM RSA private key ({exc})"
        ) from exc
    return signer


def signer_for(config: Config) -> DkimSigner | None:
    """The DKIM signer of these settings, or None when no selector and key file are set.

    The signing domain defaults to the domain of ``AMORCE_MAIL_FROM`` (DMARC alignment). A key
    file that cannot be read or used raises :class:`ConfigError` naming the variable.
    """
    if not (config.dkim_selector and config.dkim_key_file):
        return None
    domain = config.dkim_domain or envelope_address(config.mail_from).rpartition("@")[2]
    if not domain:
        raise ConfigError("AMORCE_DKIM_DOMAIN is required when AMORCE_MAIL_FROM has no domain")
    return load_dkim_signer(config.dkim_key_file, config.dkim_selector, domain)


# -- SMTP ---------------------------------------------------------------------------------


class SmtpConnection:
    """One SMTP connection, opened lazily and reused for a batch; DKIM-signs given a signer."""

    def __init__(
        self, url: str, timeout: float = 30.0, *, signer: DkimSigner | None = None
    ) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.signer = signer
        self._client: smtplib.SMTP | None = None

    @classmethod
    def for_config(cls, config: Config) -> SmtpConnection:
        """A connection to ``AMORCE_SMTP_URL`` that signs with the configured DKIM key, if any."""
        return cls(config.smtp_url, signer=signer_for(config))

    def _open(self) -> smtplib.SMTP:
        try:
            return self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise NotSent(f"cannot use {self.host}:{self.port}: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
        if self.username:
            client.login(self.username, self.password or "")
        return client

    def _envelope(self, envelope_from: str, recipient: str) -> smtplib.SMTP:
        """MAIL FROM and RCPT TO on an open connection; refusals raise smtplib's errors."""
        if self._client is None:
            self._client = self._open()
        client = self._client
        client.ehlo_or_helo_if_needed()
        code, reply = client.mail(envelope_from)
        if code != 250:
            self._after_refusal(code)
            raise NotSent(f"MAIL FROM refused: {code} {reply.decode(errors='replace')}")
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            self._after_refusal(code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        return client

    def _after_refusal(self, code: int) -> None:
        if code == 421:  # the server is closing the channel
            self.reset()
            return
        try:
            assert self._client is not None
            self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.reset()

    def send(self, message: OutgoingMessage, envelope_from: str, recipient: str) -> None:
        """Send one message; SMTP refusals propagate for the caller to classify.

        A connection lost before DATA (an idle connection the server closed, say) is retried
        once on a fresh one, then raises :class:`NotSent`: nothing was delivered. A connection
        lost during or after DATA raises ``SMTPServerDisconnected``: the outcome is unknown.
        The bytes are built (and signed) before MAIL FROM, and exactly those bytes go out.
        """
        data = message.as_bytes()
        if self.signer is not None:
            data = self.signer.sign(data)
        for attempt in (1, 2):
            try:
                client = self._envelope(envelope_from, recipient)
                break
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, NotSent):
                raise
            except OSError as exc:  # includes SMTPServerDisconnected
                self.reset()
                if attempt == 2:
                    raise NotSent(str(exc)) from exc
        try:
            client.data(data)
        except smtplib.SMTPDataError:
            self._after_refusal(0)
            raise

    def reset(self) -> None:
        """Drop the connection after an error so the next send opens a fresh one."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except OSError:
                pass

    def close(self) -> None:
        """Say QUIT and close."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
