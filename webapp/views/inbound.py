"""Replies to campaigns: the coordinator's inbox and message page, and the inbound-mail webhook."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_percent
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from forms.inbound import AnswerForm, CorrectionForm, DismissForm
from webapp.extensions import csrf, db_session, limiter, state
from webapp.i18n import reader_locale
from webapp.models import Community
from webapp.receivers import store_and_queue
from webapp.services.errors import DomainError, NotFound
from webapp.services.inbound import inbox
from webapp.services.inbound.pipeline import MAX_MESSAGE_BYTES
from webapp.services.reminders import zone
from workers.dispatch import queue_answer

from .communities import community_or_404
from .errors import error_text
from .labels import INBOUND_ACTIONS, INTENTS

bp = Blueprint("inbound", __name__)

PAGE_SIZE = 100
FILTER_NAMES = {
    "all": _l("All"),
    "review": _l("To review"),
    "questions": _l("Questions"),
    "unattributed": _l("Not attributed"),
}


def _moment(tz_name: str) -> Callable[[datetime | None], str]:
    tz, locale = zone(tz_name), reader_locale()
    return lambda moment: (
        format_datetime(moment, "medium", tzinfo=tz, locale=locale) if moment else ""
    )


def _percent(value: float) -> str:
    return format_percent(value, locale=reader_locale())


def _user_id() -> int:
    return int(current_user.id)


# -- the inbox ------------------------------------------------------------------------------


@bp.app_context_processor
def _inbox_helpers() -> dict[str, Any]:
    """``inbox_counts(community_id)`` for the community page's "Inbox" link."""
    return {"inbox_counts": lambda community_id: inbox.inbox_counts(db_session(), community_id)}


@bp.get("/communities/<slug>/inbox")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """The community's received messages, those waiting for the coordinator first."""
    community = community_or_404(slug)
    chosen = request.args.get("filter", "all")
    if chosen not in inbox.FILTERS:
        chosen = "all"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    session = db_session()
    items = inbox.inbox(
        session, community.id, filter=chosen, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return render_template(
        "inbound/inbox.html",
        community=community,
        items=items[:PAGE_SIZE],
        more=len(items) > PAGE_SIZE,
        page=page,
        chosen=chosen,
        filters=FILTER_NAMES,
        counts=inbox.inbox_counts(session, community.id),
        moment=_moment(community.timezone),
        percent=_percent,
    )


# -- one message ----------------------------------------------------------------------------


def _render_message(
    community: Community,
    inbound_id: int,
    *,
    correct_form: CorrectionForm | None = None,
    answer_form: AnswerForm | None = None,
) -> str:
    try:
        detail = inbox.message_detail(db_session(), community.id, inbound_id)
    except NotFound:
        abort(404)
    item = detail.item
    refusal = inbox.correction_refusal(item.kind, item.state, item.attributed)
    return render_template(
        "inbound/message.html",
        community=community,
        detail=detail,
        item=item,
        refusal=_(refusal) if refusal else None,
        correct_form=correct_form
        or CorrectionForm(formdata=None, intent=item.intent).offer(INTENTS, inbox.CORRECTIONS),
        dismiss_form=DismissForm(formdata=None),
        answer_form=answer_form or AnswerForm(formdata=None),
        moment=_moment(community.timezone),
        percent=_percent,
    )


def _back(slug: str, inbound_id: int) -> ResponseReturnValue:
    return redirect(url_for("inbound.show", slug=slug, inbound_id=inbound_id))


@bp.get("/communities/<slug>/inbox/<int:inbound_id>")
@login_required
def show(slug: str, inbound_id: int) -> ResponseReturnValue:
    """What Amorce read in a message, the message itself, and what the coordinator can do."""
    return _render_message(community_or_404(slug), inbound_id)


@bp.post("/communities/<slug>/inbox/<int:inbound_id>/correct")
@login_required
def correct(slug: str, inbound_id: int) -> ResponseReturnValue:
    """Set the reading and apply it, as a click on the person's link would."""
    community = community_or_404(slug)
    form = CorrectionForm().offer(INTENTS, inbox.CORRECTIONS)
    if not form.validate_on_submit():
        return _render_message(community, inbound_id, correct_form=form)
    choice = form.intent.data or ""
    session = db_session()
    try:
        action = inbox.correct_intent(session, community.id, inbound_id, choice, user_id=_user_id())
    except NotFound:
        abort(404)
    except DomainError as exc:
        session.rollback()
        form.intent.errors = [*form.intent.errors, error_text(exc)]
        return _render_message(community, inbound_id, correct_form=form)
    session.commit()
    reading = str(INTENTS.get(choice, choice))
    if action:
        flash(
            _(
                "Reading corrected to “%(intent)s”. Applied: %(action)s.",
                intent=reading,
                action=str(INBOUND_ACTIONS.get(action, action)).lower(),
            ),
            "success",
        )
    else:
        flash(_("Reading corrected to “%(intent)s”; nothing else changed.", intent=reading), "info")
    return _back(slug, inbound_id)


@bp.post("/communities/<slug>/inbox/<int:inbound_id>/dismiss")
@login_required
def dismiss(slug: str, inbound_id: int) -> ResponseReturnValue:
    """Mark the message as seen, with nothing to do."""
    community = community_or_404(slug)
    if not DismissForm().validate_on_submit():
        abort(400)
    session = db_session()
    try:
        inbox.dismiss(session, community.id, inbound_id, user_id=_user_id())
    except NotFound:
        abort(404)
    session.commit()
    flash(_("Message marked as reviewed: nothing else changed."), "success")
    return redirect(url_for("inbound.index", slug=slug))


@bp.post("/communities/<slug>/inbox/<int:inbound_id>/answer")
@login_required
def answer(slug: str, inbound_id: int) -> ResponseReturnValue:
    """Keep the coordinator's answer, commit, then queue its sending."""
    community = community_or_404(slug)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _render_message(community, inbound_id, answer_form=form)
    session = db_session()
    try:
        inbox.record_answer(
            session, community.id, inbound_id, form.answer.data or "", user_id=_user_id()
        )
    except NotFound:
        abort(404)
    except DomainError as exc:
        session.rollback()
        form.answer.errors = [*form.answer.errors, error_text(exc)]
        return _render_message(community, inbound_id, answer_form=form)
    session.commit()
    if queue_answer(state().celery, inbound_id):
        flash(_("Answer queued: it leaves in a moment from the community's address."), "success")
    else:
        flash(_("Answer saved: it leaves as soon as the worker queue is reachable again."), "info")
    return _back(slug, inbound_id)


# -- the webhook ----------------------------------------------------------------------------


def _problem(status: int, message: str) -> ResponseReturnValue:
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="amorce-inbound"'
    return response


def _authorised(secret: str) -> bool:
    scheme, _sep, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), secret.encode())


def _body(limit: int) -> bytes:
    """The raw request body, at most ``limit`` bytes, whatever its content type."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = request.stream.read(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@bp.post("/inbound/webhook")
@csrf.exempt
@limiter.exempt
def webhook() -> ResponseReturnValue:
    """Take one raw MIME message from a mail provider or an MTA pipe; 202 with its id.

    Off (404) without ``AMORCE_INBOUND_SECRET``; the secret comes as a bearer token.
    """
    app_state = state()
    secret = app_state.config.inbound_secret
    if not secret:
        abort(404)
    if not _authorised(secret):
        return _problem(401, "missing or wrong bearer token")
    if (request.content_length or 0) > MAX_MESSAGE_BYTES:
        return _problem(413, f"the message exceeds {MAX_MESSAGE_BYTES} bytes")
    raw = _body(MAX_MESSAGE_BYTES + 1)
    if len(raw) > MAX_MESSAGE_BYTES:
        return _problem(413, f"the message exceeds {MAX_MESSAGE_BYTES} bytes")
    if not raw.strip():
        return _problem(400, "empty body: send the raw message (message/rfc822)")
    recipients = [
        address.strip()
        for value in request.headers.getlist("X-Envelope-To")
        for address in value.split(",")
        if address.strip()
    ]
    inbound_id = store_and_queue(
        app_state.database,
        app_state.celery,
        raw,
        channel="webhook",
        envelope_from=request.headers.get("X-Envelope-From", ""),
        recipients=recipients,
    )
    if inbound_id is None:
        return jsonify(id=None, duplicate=True), 200
    return jsonify(id=inbound_id, duplicate=False), 202
