"""The development mailbox: what the local catcher received, readable and clickable."""

from __future__ import annotations

import email
import mailbox
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import make_msgid
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup, escape

from webapp.extensions import state
from webapp.receivers import store_and_queue
from webapp.services.inbound import attribute

bp = Blueprint("devmail", __name__, url_prefix="/dev/mailbox")


@bp.before_request
@login_required
def signed_in_only() -> None:
    """The mailbox holds everyone's personal links: coordinators only."""


URL = re.compile(r"https?://[^\s<>\"]+")
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def _box() -> mailbox.Maildir:
    path = state().config.mailbox_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(str(path), create=True)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def _messages() -> list[dict[str, Any]]:
    box = _box()
    items = []
    for key in box.keys():
        message = _parse(box.get_bytes(key))
        items.append(
            {
                "key": key,
                "subject": str(message["Subject"] or ""),
                "to": str(message["To"] or ""),
                "from": str(message["From"] or ""),
                "date": message["Date"],
                "when": message["Date"].datetime if message["Date"] else None,
            }
        )
    items.sort(key=lambda item: item["when"].timestamp() if item["when"] else 0, reverse=True)
    return items


def linkify(text: str) -> Markup:
    """Escape text and turn its URLs into links."""
    escaped = str(escape(text))
    return Markup(URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))  # noqa: S704


@bp.get("/")
def index() -> ResponseReturnValue:
    """Every message received, newest first."""
    return render_template("devmail/index.html", messages=_messages())


def _load(key: str) -> EmailMessage:
    box = _box()
    if not re.fullmatch(r"[\w.,:=-]+", key) or key not in box:
        abort(404)
    return _parse(box.get_bytes(key))


@bp.get("/<key>")
def show(key: str) -> ResponseReturnValue:
    """One message: headers, the text part with clickable links, the HTML part."""
    return _show(key)


def _show(key: str) -> str:
    message = _load(key)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    text = text_part.get_content() if text_part is not None else ""
    return render_template(
        "devmail/show.html",
        key=key,
        message=message,
        headers=list(message.items()),
        text=linkify(text),
        has_html=html_part is not None,
        can_reply=_reply_address(message) is not None,
        reply_text=request.form.get("text", ""),
    )


def _reply_address(message: EmailMessage) -> str | None:
    """The signed address a reply to ``message`` goes to, when Amorce receives it."""
    reply_to = str(message.get("Reply-To") or "")
    signed = attribute(state().config, message, [reply_to] if reply_to else [])
    return signed.signed.address if signed.signed else None


def compose_reply(original: EmailMessage, text: str, to: str) -> bytes:
    """A reply as a mail client writes it: the new text above the quoted original."""
    reply = EmailMessage()
    reply["From"] = str(original["To"] or "")
    reply["To"] = to
    subject = str(original["Subject"] or "")
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Message-ID"] = make_msgid(domain="mailbox.localhost")
    if original["Message-ID"]:
        reply["In-Reply-To"] = str(original["Message-ID"])
        reply["References"] = str(original["Message-ID"])
    body = original.get_body(("plain",))
    quoted = "\n".join(f"> {line}" for line in body.get_content().splitlines()) if body else ""
    wrote = f"{original['Date']}, {original['From']}"
    reply.set_content(f"{text}\n\n{wrote} a écrit / wrote:\n{quoted}\n", cte="quoted-printable")
    return reply.as_bytes()


@bp.post("/<key>/reply")
def reply(key: str) -> ResponseReturnValue:
    """Answer a message as its recipient would, by email: it goes through the inbound pipeline
    exactly like a reply from a real mailbox."""
    message = _load(key)
    to = _reply_address(message)
    text = request.form.get("text", "").strip()
    if to is None:
        abort(404)
    if not text:
        flash(_("Write a reply first."), "error")
        return _show(key), 400
    app_state = state()
    store_and_queue(
        app_state.database,
        app_state.celery,
        compose_reply(message, text, to),
        channel="devmail",
        recipients=[to],
    )
    flash(_("Reply sent to Amorce: it appears in the community's inbox once read."), "success")
    return redirect(url_for("devmail.show", key=key), code=303)


@bp.get("/<key>/html")
def html(key: str) -> ResponseReturnValue:
    """The HTML part alone, for the sandboxed frame."""
    message = _load(key)
    part = message.get_body(("html",))
    if part is None:
        abort(404)
    response = Response(part.get_content(), mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
