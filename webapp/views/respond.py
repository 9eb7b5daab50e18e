"""Public pages reached by a personal link: the community, the questionnaire, not now, unsubscribe.

A GET never changes anything: every action is a button that POSTs (mail scanners follow links).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from forms.questionnaires import answers_from_form, build_form_class, form_data, localised
from webapp.extensions import csrf, db_session, limiter, state
from webapp.i18n import reader_locale
from webapp.models import Community, Person, QuestionnaireKind, TokenPurpose
from webapp.services import apply, people, questionnaires, suppressions, tokens
from webapp.services.errors import InvalidToken

bp = Blueprint("respond", __name__)


def _token_limit() -> str:
    return state().config.token_rate_limit


def invalid_link() -> tuple[str, int]:
    """One answer for every unknown, expired or revoked link (W2)."""
    return render_template("respond/invalid.html"), 404


def respondent() -> tokens.TokenGrant | None:
    held = session.get("respondent")
    if not isinstance(held, dict) or "token_id" not in held:
        return None
    try:
        return tokens.grant_for_id(db_session(), int(held["token_id"]))
    except (InvalidToken, ValueError):
        session.pop("respondent", None)
        return None


@bp.get("/r/<token>")
@limiter.limit(_token_limit)
def open_link(token: str) -> ResponseReturnValue:
    """Trade the link's token for a session cookie, then show the page without the token."""
    try:
        grant = tokens.resolve_token(db_session(), token, TokenPurpose.RESPOND)
    except InvalidToken:
        return invalid_link()
    person = db_session().get(Person, grant.person_id)
    session["respondent"] = {"token_id": grant.token_id}
    session["respondent_lang"] = person.language if person else ""
    session.pop("lang", None)
    return redirect(url_for("respond.page"), code=303)


def community_and_person(grant: tokens.TokenGrant) -> tuple[Community, Person]:
    """Whose link it is, and for which community; 404 if either is gone."""
    db = db_session()
    community = db.get(Community, grant.community_id)
    person = db.get(Person, grant.person_id)
    if community is None or person is None:
        abort(404)
    return community, person


def _context(grant: tokens.TokenGrant) -> dict[str, Any]:
    community, person = community_and_person(grant)
    return {"community": community, "person": person}


def _form(community: Community, grant: tokens.TokenGrant, formdata: Any = None) -> Any:
    db = db_session()
    questionnaire = questionnaires.ensure_questionnaire(
        db, community.id, QuestionnaireKind.INTEREST
    )
    locale = reader_locale()
    form_class = build_form_class(questionnaire.definition, locale)
    saved = questionnaires.saved_answers(db, questionnaire.id, grant.person_id)
    form = (
        form_class(formdata=formdata, data=form_data(saved))
        if formdata is not None
        else (form_class(data=form_data(saved)))
    )
    return questionnaire, form, saved


@bp.get("/respond")
def page() -> ResponseReturnValue:
    """The community's page with its benefits and the interest questionnaire."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    step = apply.step_for(db_session(), grant.community_id, grant.person_id, grant.delivery_id)
    if step == apply.Step.APPLICATION:
        return redirect(url_for("apply.page"), code=303)
    if step == apply.Step.STATUS:
        return redirect(url_for("apply.status"), code=303)
    if step == apply.Step.MEETING:
        return redirect(url_for("meet.meeting"), code=303)
    if step == apply.Step.POLL:
        return redirect(url_for("meet.poll"), code=303)
    if step == apply.Step.CHARTER:
        return redirect(url_for("charter_respond.page"), code=303)
    if step == apply.Step.ACTIVITY:
        return redirect(url_for("activity_respond.page"), code=303)
    ctx = _context(grant)
    questionnaire, form, saved = _form(ctx["community"], grant)
    suppressed = suppressions.is_suppressed(db_session(), grant.community_id, ctx["person"].email)
    return render_template(
        "respond/page.html",
        form=form,
        questionnaire=questionnaire,
        saved=bool(saved),
        suppressed=suppressed,
        localised=localised,
        locale=reader_locale(),
        **ctx,
    )


@bp.post("/respond")
@csrf.exempt
def answer() -> ResponseReturnValue:
    """Save the questionnaire; on any error the page comes back with every answer kept."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    ctx = _context(grant)
    questionnaire, form, _saved = _form(ctx["community"], grant, formdata=request.form)
    if form.validate():
        db = db_session()
        questionnaires.record_interest(
            db, questionnaire.id, grant.person_id, answers_from_form(form, questionnaire.definition)
        )
        db.commit()
        return redirect(url_for("respond.done", outcome="interested"), code=303)
    expired = "csrf_token" in form.errors
    return render_template(
        "respond/page.html",
        form=form,
        questionnaire=questionnaire,
        saved=False,
        suppressed=False,
        localised=localised,
        locale=reader_locale(),
        csrf_expired=expired,
        **ctx,
    ), 400


@bp.post("/respond/not-now")
def not_now() -> ResponseReturnValue:
    """The person is not interested for now."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    people.record_not_now(db, grant.community_id, grant.person_id)
    db.commit()
    return redirect(url_for("respond.done", outcome="not_now"), code=303)


@bp.post("/respond/unsubscribe")
def unsubscribe() -> ResponseReturnValue:
    """Stop every message from this community to this person."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    people.unsubscribe(db, grant.community_id, grant.person_id, how="page")
    db.commit()
    return redirect(url_for("respond.done", outcome="unsubscribed"), code=303)


@bp.get("/respond/done/<outcome>")
def done(outcome: str) -> ResponseReturnValue:
    """The confirmation after an answer."""
    grant = respondent()
    if grant is None or outcome not in ("interested", "not_now", "unsubscribed"):
        return invalid_link()
    ctx = _context(grant)
    return render_template(
        "respond/done.html",
        outcome=outcome,
        applications_open=outcome == "interested" and apply.accepts_applications(ctx["community"]),
        **ctx,
    )


@bp.get("/u/<token>")
@limiter.limit(_token_limit)
def unsubscribe_page(token: str) -> ResponseReturnValue:
    """The unsubscribe page of an email's footer: a button, nothing done on GET."""
    try:
        grant = tokens.resolve_token(db_session(), token, TokenPurpose.RESPOND)
    except InvalidToken:
        return invalid_link()
    return render_template("respond/unsubscribe.html", token=token, **_context(grant))


@bp.post("/u/<token>")
@csrf.exempt
@limiter.limit(_token_limit)
def one_click_unsubscribe(token: str) -> ResponseReturnValue:
    """RFC 8058 one-click unsubscribe: no cookie needed, 200, never a redirect."""
    try:
        grant = tokens.resolve_token(db_session(), token, TokenPurpose.RESPOND)
    except InvalidToken:
        return invalid_link()
    db = db_session()
    people.unsubscribe(db, grant.community_id, grant.person_id, how="one-click")
    db.commit()
    return render_template("respond/done.html", outcome="unsubscribed", **_context(grant))
