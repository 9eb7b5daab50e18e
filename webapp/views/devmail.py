"""The development mailbox: what the local catcher received, readable and clickable."""

from __future__ import annotations

import email
import mailbox
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from flask import Blueprint, Response, abort, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required
from markupsafe import Markup, escape

from webapp.extensions import state

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
    )


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
