"""The public face of a community: its page, "I'm interested", and the email confirmation.

Nothing here needs an account. The form answers the same whatever the address (it tells nobody
who is known), and nothing but the confirmation email is sent before the person confirms.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from forms.public import ConfirmForm, InterestForm
from webapp.extensions import db_session, limiter, state
from webapp.i18n import reader_locale
from webapp.mail import NotSent, OutgoingMessage, SmtpConnection, envelope_address
from webapp.models import Community, Person, Stage, TokenPurpose
from webapp.services import apply, communities, referrals, signups, tokens
from webapp.services.errors import DomainError, InvalidToken, NotFound

from .errors import error_text
from .respond import invalid_link

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)


def _community(slug: str) -> Community:
    try:
        return communities.get_community_by_slug(db_session(), slug)
    except NotFound:
        abort(404)


@bp.get("/c/<slug>")
def page(slug: str) -> ResponseReturnValue:
    """The community, what it offers, and the form for people nobody invited."""
    community = _community(slug)
    form = InterestForm(formdata=None, language=reader_locale(), ref=request.args.get("ref", ""))
    return _render(community, form)


def _render(community: Community, form: InterestForm, status: int = 200) -> ResponseReturnValue:
    referrer = referrals.referrer(db_session(), community.id, form.ref.data or "")
    if referrer is None:
        form.ref.data = ""
    return (
        render_template(
            "public/community.html",
            community=community,
            form=form,
            referrer=referrer,
            open_for_interest=community.stage in (Stage.RECRUITING, Stage.SELECTING),
        ),
        status,
    )


@bp.post("/c/<slug>")
@limiter.limit("10 per hour")
def interested(slug: str) -> ResponseReturnValue:
    """Record the interest and mail the confirmation link; the same answer for everyone."""
    community = _community(slug)
    form = InterestForm()
    if not form.validate():
        return _render(community, form, 400)
    data = signups.SignupData(
        email=form.email.data or "",
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        language=form.language.data or "",
        organization=form.organization.data or "",
        consent=bool(form.consent.data),
        referred_by_id=_referrer_id(community, form.ref.data or ""),
    )
    errors = signups.check_signup(data)
    if errors:
        for name, message in errors.items():
            form[name].errors = [*form[name].errors, _(message)]
        return _render(community, form, 400)
    db = db_session()
    try:
        signup = signups.request_signup(db, community.id, data)
    except DomainError as exc:
        form.email.errors = [*form.email.errors, error_text(exc)]
        return _render(community, form, 400)
    db.commit()
    if signup.token is not None:
        app_state = state()
        confirmation = signups.confirmation_message(
            app_state.config, app_state.renderer, community, signup
        )
        if not _send(confirmation, signup.email):
            flash(
                _("We could not send the email just now. Please try again in a few minutes."),
                "error",
            )
            return _render(community, form, 503)
    return redirect(url_for("public.check", slug=community.slug), code=303)


def _referrer_id(community: Community, code: str) -> int | None:
    person = referrals.referrer(db_session(), community.id, code)
    return person.id if person is not None else None


def _send(message: OutgoingMessage, to: str) -> bool:
    """Send one email now; False (logged) when the server is not reachable or refuses it."""
    config = state().config
    try:
        with SmtpConnection.for_config(config) as connection:
            connection.send(message, envelope_address(config.mail_from), to)
    except (NotSent, OSError) as exc:
        log.warning("a personal email was not sent: %s", exc)
        return False
    return True


@bp.get("/c/<slug>/check")
def check(slug: str) -> ResponseReturnValue:
    """Look in your mailbox."""
    return render_template("public/check.html", community=_community(slug))


@bp.get("/c/confirm/<token>")
@limiter.limit(lambda: state().config.token_rate_limit)
def confirm_page(token: str) -> ResponseReturnValue:
    """The confirmation link shows a button; nothing changes on GET (mail scanners follow it)."""
    try:
        grant = tokens.resolve_token(db_session(), token, TokenPurpose.CONFIRM)
    except InvalidToken:
        return invalid_link()
    community = db_session().get(Community, grant.community_id)
    return render_template(
        "public/confirm.html", community=community, token=token, form=ConfirmForm()
    )


@bp.post("/c/confirm/<token>")
@limiter.limit(lambda: state().config.token_rate_limit)
def confirm(token: str) -> ResponseReturnValue:
    """The person confirms: their interest is recorded with their express consent."""
    db = db_session()
    try:
        grant = signups.confirm_signup(db, token, source="public-page")
    except InvalidToken:
        return invalid_link()
    db.commit()
    community = db.get(Community, grant.community_id)
    person = db.get(Person, grant.person_id)
    assert community is not None and person is not None
    if apply.step_for(db, community.id, person.id, None) != apply.Step.APPLICATION:
        return render_template("public/confirmed.html", community=community, applying=False)
    # The next step is the application: this browser goes straight to it, and the link is
    # mailed so that the person can finish it later, from any device.
    config = state().config
    link = signups.application_link(db, community.id, person.id, config.token_lifetime_days)
    db.commit()
    respond_grant = tokens.resolve_token(db, link, TokenPurpose.RESPOND)
    session["respondent"] = {"token_id": respond_grant.token_id}
    message = signups.application_link_message(config, state().renderer, community, person, link)
    mailed = _send(message, person.email)
    return render_template(
        "public/confirmed.html", community=community, applying=True, mailed=mailed
    )
