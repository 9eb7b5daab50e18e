"""What comes back after a campaign: a realistic mix of raw messages to its signed addresses.

Replies from people (French and English, quoting the original as Gmail, Outlook, Apple Mail and
Thunderbird do), out-of-office notices, RFC 3464 delivery reports, mail to the unsubscribe address,
iMIP calendar replies and forgeries, each with its own Message-ID, built before any timing.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import charset as email_charset
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate
from html import escape

from _inbound_texts import OUT_OF_OFFICE, REPLIES

from webapp.config import Config
from webapp.services.inbound.addresses import signed_address

# The share of each kind, in percent (the rest of the rounding goes to replies).
MIX = {"reply": 60, "ooo": 15, "dsn": 10, "unsubscribe": 5, "imip": 5, "forged": 5}
_INTENTS = (("interested", 35), ("not_interested", 25), ("maybe", 20), ("question", 20))
_CLIENTS = (("gmail", 40), ("outlook", 30), ("apple", 15), ("thunderbird", 15))
_DSN = (("hard", 60), ("soft", 25), ("delayed", 15))
_PARTSTAT = (("ACCEPTED", 60), ("DECLINED", 25), ("TENTATIVE", 15))
_QP = email_charset.Charset("utf-8")
_QP.body_encoding = email_charset.QP
_QP.header_encoding = email_charset.QP
_POLICY = compat32.clone(linesep="\r\n")
MX = "mx.bench.example.net"
_RETURNED = "Undelivered Mail Returned to Sender"
_DELAYED = "Delayed Mail (still being retried)"


@dataclass(frozen=True)
class Recipient:
    """A delivery marked sent: whom it went to and the message it carried."""

    delivery_id: int
    email: str
    first_name: str
    last_name: str
    language: str
    organization: str
    message_id: str


@dataclass(frozen=True)
class Original:
    """The campaign's email in one language, as the recipient read it."""

    subject: str
    text: str
    html: str
    sender: str  # the From: header of the campaign


@dataclass(frozen=True)
class Mail:
    """One raw message and its SMTP envelope; ``label`` says what the bench generated."""

    label: str
    mail_from: str
    rcpt: str
    raw: bytes
    message_id: str


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def kinds_for(count: int, seed: int) -> list[str]:
    """``count`` kinds in the proportions of :data:`MIX`, shuffled reproducibly."""
    kinds: list[str] = []
    for kind, percent in MIX.items():
        if kind != "reply":
            kinds += [kind] * round(count * percent / 100)
    kinds = kinds[:count]
    kinds += ["reply"] * (count - len(kinds))
    random.Random(seed).shuffle(kinds)
    return kinds


class MailBuilder:
    """Builds each kind of message for one round; ``tag`` makes its Message-IDs unique."""

    def __init__(self, config: Config, originals: dict[str, Original], tag: str, seed: int):
        self.config, self.originals, self.tag = config, originals, tag
        self.rng = random.Random(seed)
        self.count = 0

    def build(self, recipients: list[Recipient], seed: int) -> list[Mail]:
        """One message per recipient, kinds in the proportions of :data:`MIX`."""
        makers: dict[str, Callable[[Recipient], Mail]] = {
            "reply": self.reply,
            "ooo": self.out_of_office,
            "dsn": self.delivery_report,
            "unsubscribe": self.unsubscribe,
            "imip": self.calendar_reply,
            "forged": self.forged,
        }
        kinds = kinds_for(len(recipients), seed)
        return [makers[kind](r) for kind, r in zip(kinds, recipients, strict=True)]

    # -- headers -------------------------------------------------------------------------------

    def _message_id(self, domain: str) -> str:
        self.count += 1
        return f"<{self.tag}.{self.count}.{self.rng.getrandbits(40):010x}@{domain}>"

    def _trace(self, rcpt: str, sender_host: str) -> list[tuple[str, str]]:
        """The headers the receiving MTA and the sender's provider add."""
        queue_id = base64.b32encode(self.rng.randbytes(10)).decode().rstrip("=")
        signature = base64.b64encode(self.rng.randbytes(256)).decode()
        body_hash = base64.b64encode(self.rng.randbytes(32)).decode()
        folded = "\r\n\t ".join(signature[i : i + 72] for i in range(0, len(signature), 72))
        return [
            (
                "Received",
                f"from {sender_host} ({sender_host} [198.51.100.{self.rng.randrange(2, 250)}])"
                f"\r\n\tby {MX} (Postfix) with ESMTPS id {queue_id}\r\n\tfor <{rcpt}>; "
                + formatdate(),
            ),
            (
                "Authentication-Results",
                f"{MX};\r\n\tdkim=pass header.d=example.org header.s=s2026;\r\n\tspf=pass "
                "smtp.mailfrom=example.org;\r\n\tdmarc=pass header.from=example.org",
            ),
            (
                "DKIM-Signature",
                "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s2026;\r\n\t "
                "h=from:to:subject:date:message-id:in-reply-to:references:mime-version;\r\n\t "
                f"bh={body_hash};\r\n\t b={folded}",
            ),
        ]

    @staticmethod
    def _set(message: MIMEBase, headers: list[tuple[str, str]]) -> None:
        """Trace and message headers first, then the MIME ones email.mime already set."""
        content = list(message.items())
        for name in {name for name, _ in content}:
            del message[name]
        for name, value in [*headers, *content]:
            message[name] = value

    def _person(self, r: Recipient) -> str:
        return formataddr((f"{r.first_name} {r.last_name}", r.email), charset="utf-8")

    def _common(self, r: Recipient, to: str, subject: str, domain: str) -> list[tuple[str, str]]:
        message_id = self._message_id(domain)
        return [
            *self._trace(to, f"mail-{self.rng.randrange(1, 99)}.{domain}"),
            ("From", self._person(r)),
            ("To", to),
            ("Subject", subject if subject.isascii() else Header(subject, _QP).encode()),
            ("Date", formatdate(localtime=True)),
            ("Message-ID", message_id),
        ]

    @staticmethod
    def _mail(label: str, mail_from: str, rcpt: str, message: MIMEBase) -> Mail:
        return Mail(label, mail_from, rcpt, message.as_bytes(policy=_POLICY), message["Message-ID"])

    # -- people --------------------------------------------------------------------------------

    def _quote_parts(self, r: Recipient, client: str) -> tuple[str, str]:
        """The quoted original, as text and as HTML, in the style of ``client``."""
        original = self.originals[r.language]
        link = f"{self.rng.getrandbits(96):024x}"
        text = original.text.replace("Alex", r.first_name).replace("PREVIEW", link)
        html = original.html.replace("Alex", r.first_name).replace("PREVIEW", link)
        body = re.search(r"<body[^>]*>(.*)</body>", html, re.S)
        inner = body.group(1) if body else html
        fr = r.language == "fr"
        when = "lun. 23 nov. 2026 à 10:02" if fr else "Mon, Nov 23, 2026 at 10:02 AM"
        if client == "outlook":
            block = (
                f"De : {original.sender}\nEnvoyé : lundi 23 novembre 2026 10:02\n"
                f"À : {r.first_name} {r.last_name} <{r.email}>\nObjet : {original.subject}"
                if fr
                else f"From: {original.sender}\nSent: Monday, November 23, 2026 10:02 AM\n"
                f"To: {r.first_name} {r.last_name} <{r.email}>\nSubject: {original.subject}"
            )
            quoted_text = f"________________________________\n{block}\n\n{text}"
            quoted_html = (
                '<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr">'
                f"{escape(block).replace(chr(10), '<br>')}</div><div>{inner}</div>"
            )
            return quoted_text, quoted_html
        lead = (
            f"Le {when}, {original.sender} a écrit :"
            if fr
            else f"On {when}, {original.sender} wrote:"
        )
        quoted = "\n".join(f"> {line}".rstrip() for line in text.splitlines())
        if client == "apple":
            return f"> {lead}\n>\n{quoted}", ""
        quoted_html = (
            f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{escape(lead)}<br></div>'
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px '
            f'solid rgb(204,204,204);padding-left:1ex">{inner}</blockquote></div>'
        )
        return f"{lead}\n{quoted}", quoted_html

    def reply(self, r: Recipient) -> Mail:
        """A person's answer above the quoted original, as their mail client writes it."""
        intent = _weighted(self.rng, _INTENTS)
        client = _weighted(self.rng, _CLIENTS)
        words = self.rng.choice(REPLIES[intent][r.language])
        if words.endswith(","):
            words += f"\n{r.first_name}"
        if client == "outlook" and self.rng.random() < 0.5:
            words += f"\n\n--\n{r.first_name} {r.last_name}\n{r.organization}"
        if client == "apple":
            words += "\n\nEnvoyé de mon iPhone" if r.language == "fr" else "\n\nSent from my iPhone"
        quoted_text, quoted_html = self._quote_parts(r, client)
        text = f"{words}\n\n{quoted_text}\n"
        original = self.originals[r.language]
        prefix = "RE: " if client == "outlook" else "Re: "
        to = signed_address(self.config, "reply", r.delivery_id)
        headers = self._common(r, to, prefix + original.subject, r.email.rpartition("@")[2])
        headers += [("In-Reply-To", r.message_id), ("References", r.message_id)]
        if client == "thunderbird":
            headers.append(("User-Agent", "Mozilla Thunderbird"))
        elif client == "outlook":
            headers.append(("X-Mailer", "Microsoft Outlook 16.0"))
        if quoted_html:
            message: MIMEBase = MIMEMultipart("alternative")
            message.attach(MIMEText(text, "plain", _QP))  # type: ignore[arg-type]
            answer = escape(words).replace("\n", "<br>")
            html = f'<div dir="ltr">{answer}</div><br>{quoted_html}'
            message.attach(MIMEText(html, "html", _QP))  # type: ignore[arg-type]
        else:
            message = MIMEText(text, "plain", _QP)  # type: ignore[arg-type]
            if client == "thunderbird":
                message.set_param("format", "flowed")
        self._set(message, headers)
        return self._mail(f"reply:{intent}", r.email, to, message)

    def out_of_office(self, r: Recipient) -> Mail:
        """An automatic absence notice, to the reply address or (RFC 3834) the return path."""
        subject, body = OUT_OF_OFFICE[r.language]
        original = self.originals[r.language]
        to_return_path = self.rng.random() < 1 / 3
        purpose = "bounce" if to_return_path else "reply"
        to = signed_address(self.config, purpose, r.delivery_id)
        message = MIMEText(body.format(name=r.first_name), "plain", _QP)  # type: ignore[arg-type]
        headers = self._common(
            r, to, subject.format(subject=original.subject), r.email.rpartition("@")[2]
        )
        headers += [("In-Reply-To", r.message_id), ("Auto-Submitted", "auto-replied")]
        if not to_return_path:
            headers.append(("X-Auto-Response-Suppress", "All"))
        self._set(message, headers)
        return self._mail("ooo", "" if to_return_path else r.email, to, message)

    def unsubscribe(self, r: Recipient) -> Mail:
        """What a mail client sends to the mailto: of List-Unsubscribe."""
        to = signed_address(self.config, "unsubscribe", r.delivery_id)
        if self.rng.random() < 0.5:
            subject, body = "Unsubscribe", "This message was automatically generated by Gmail.\n"
        else:
            subject, body = ("Se désabonner" if r.language == "fr" else "unsubscribe"), ""
        message = MIMEText(body, "plain", _QP)  # type: ignore[arg-type]
        self._set(message, self._common(r, to, subject, r.email.rpartition("@")[2]))
        return self._mail("unsubscribe", r.email, to, message)

    def forged(self, r: Recipient) -> Mail:
        """A reply to an address whose signature is wrong or missing: refused at RCPT."""
        if self.rng.random() < 0.5:  # a made-up signature
            forged = f"{self.rng.getrandbits(64):016x}"
            to = f"reply+{r.delivery_id}.{forged}@{self.config.reply_domain}"
        else:
            to = f"reply@{self.config.reply_domain}"
        message = MIMEText("Oui, ça m'intéresse !\n", "plain", _QP)  # type: ignore[arg-type]
        self._set(message, self._common(r, to, "Re: inscription", "spoof.example.net"))
        return self._mail("forged", r.email, to, message)

    # -- machines ------------------------------------------------------------------------------

    def delivery_report(self, r: Recipient) -> Mail:
        """A Postfix RFC 3464 report to the signed return path: failed for good, for now, or
        only delayed."""
        severity = _weighted(self.rng, _DSN)
        status, action, diagnostic, subject = {
            "hard": ("5.1.1", "failed", "550 5.1.1 User unknown", _RETURNED),
            "soft": ("4.2.2", "failed", "452 4.2.2 Mailbox full", _RETURNED),
            "delayed": ("4.4.7", "delayed", "421 4.4.7 Timed out", _DELAYED),
        }[severity]
        to = signed_address(self.config, "bounce", r.delivery_id)
        message_id = self._message_id(MX)
        boundary = f"{self.rng.getrandbits(64):016X}.{self.tag}"
        original = self.originals[r.language]
        raw = (
            f"Received: by {MX} (Postfix)\r\n\tid {self.rng.getrandbits(40):010X}; "
            f"{formatdate()}\r\n"
            f"From: MAILER-DAEMON@{MX} (Mail Delivery System)\r\n"
            f"To: {to}\r\nSubject: {subject}\r\nDate: {formatdate()}\r\n"
            f"Message-Id: {message_id}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;\r\n"
            f'\tboundary="{boundary}"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n'
            "This is a MIME-encapsulated message.\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Notification\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"This is the mail system at host {MX}.\r\n\r\n"
            "I'm sorry to have to inform you that your message could not\r\n"
            "be delivered to one or more recipients. It's attached below.\r\n\r\n"
            f"<{r.email}>: host mx.example.org[203.0.113.7] said: {diagnostic}\r\n"
            "    (in reply to RCPT TO command)\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Delivery report\r\n"
            "Content-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; {MX}\r\nX-Postfix-Sender: rfc822; {to}\r\n"
            f"Arrival-Date: {formatdate()}\r\n\r\n"
            f"Final-Recipient: rfc822; {r.email}\r\nOriginal-Recipient: rfc822;{r.email}\r\n"
            f"Action: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; mx.example.org\r\n"
            f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
            "Content-Type: text/rfc822-headers\r\n\r\n"
            f"Return-Path: <{to}>\r\nFrom: {original.sender}\r\nTo: {r.email}\r\n"
            f"Subject: {Header(original.subject, _QP).encode()}\r\n"
            f"Message-ID: {r.message_id}\r\nDate: {formatdate()}\r\n\r\n"
            f"--{boundary}--\r\n"
        )
        return Mail(f"dsn:{severity}", "", to, raw.encode(), message_id)

    def calendar_reply(self, r: Recipient) -> Mail:
        """A calendar's Accept / Decline / Tentative (iMIP METHOD:REPLY), Google style."""
        partstat = _weighted(self.rng, _PARTSTAT)
        to = signed_address(self.config, "reply", r.delivery_id)
        fr = r.language == "fr"
        verb = {
            "ACCEPTED": ("Invitation acceptée", "Accepted"),
            "DECLINED": ("Invitation refusée", "Declined"),
            "TENTATIVE": ("Invitation acceptée provisoirement", "Tentatively Accepted"),
        }[partstat][0 if fr else 1]
        event = "Rencontre de lancement" if fr else "Kick-off meeting"
        ics = "\r\n".join(
            [
                "BEGIN:VCALENDAR",
                "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
                "VERSION:2.0",
                "CALSCALE:GREGORIAN",
                "METHOD:REPLY",
                "BEGIN:VEVENT",
                "DTSTART:20261203T180000Z",
                "DTEND:20261203T193000Z",
                "DTSTAMP:20261123T150212Z",
                f"ORGANIZER;CN=Coordination:mailto:cop@{self.config.reply_domain}",
                f"UID:kickoff-{self.tag}@amorce.bench.example.org",
                "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;"
                f"PARTSTAT={partstat};CN={r.first_name} {r.last_name};X-NUM-GUESTS=0:"
                f"mailto:{r.email}",
                "CREATED:20261120T120000Z",
                "LAST-MODIFIED:20261123T150212Z",
                "SEQUENCE:0",
                "STATUS:CONFIRMED",
                f"SUMMARY:{event}",
                "TRANSP:OPAQUE",
                "END:VEVENT",
                "END:VCALENDAR",
                "",
            ]
        )
        summary = f"{r.first_name} {r.last_name} — {verb.lower()} : {event}"
        alternative = MIMEMultipart("alternative")
        alternative.attach(MIMEText(summary + "\n", "plain", _QP))  # type: ignore[arg-type]
        calendar = MIMEText(ics, "calendar", _QP)  # type: ignore[arg-type]
        calendar.set_param("method", "REPLY")
        alternative.attach(calendar)
        attachment = MIMENonMultipart("application", "ics", name="invite.ics")
        attachment.set_payload(base64.encodebytes(ics.encode()).decode())
        attachment["Content-Transfer-Encoding"] = "base64"
        attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message = MIMEMultipart("mixed")
        message.attach(alternative)
        message.attach(attachment)
        subject = f"{verb} : {event}" if fr else f"{verb}: {event}"
        self._set(message, self._common(r, to, subject, r.email.rpartition("@")[2]))
        return self._mail(f"imip:{partstat.lower()}", r.email, to, message)
