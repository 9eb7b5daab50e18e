"""The person's side of an application, reached through their personal link: the form saved as
they go, the application sent, and their answer once the coordinators decided.

Every write of the form carries ``resume``, the link's grant signed by the server: it stands for
both the session and the CSRF token, so an answer typed while the session or the token expired is
still saved (nothing is lost), and no other site can post it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from forms.public import ConfirmForm
from forms.questionnaires import answers_from_form, build_form_class, form_data, localised
from webapp.extensions import csrf, db_session, state
from webapp.i18n import reader_locale
from webapp.models import Community, MembershipState
from webapp.services import apply, referrals, tokens
from webapp.services.errors import DomainError, InvalidToken

from .errors import error_text
from .respond import community_and_person, invalid_link, respondent

bp = Blueprint("apply", __name__)
RESUME_SALT = "amorce.application.resume"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.secret_key), salt=RESUME_SALT)


def resume_value(grant: tokens.TokenGrant) -> str:
    """The signed grant a form posts back as ``resume``."""
    return str(_serializer().dumps(grant.token_id))


def posted_grant() -> tokens.TokenGrant | None:
    """The grant a form write carries; the session is re-made from it when it expired (and
    only then: a form posted from elsewhere never switches a session to another link)."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return None
    try:
        token_id = _serializer().loads(request.form.get("resume", ""))
        grant = tokens.grant_for_id(db_session(), int(token_id))
    except (BadSignature, InvalidToken, TypeError, ValueError):
        return None
    if respondent() is None:
        session["respondent"] = {"token_id": grant.token_id}
    return grant


def referral_link(community: Community, person_id: int) -> str | None:
    """The person's link to bring colleagues, when they are far enough along to have one."""
    db = db_session()
    if not referrals.can_refer(db, community.id, person_id):
        return None
    code = referrals.referral_code(db, community.id, person_id)
    db.commit()
    return f"{state().config.base_url}/c/{community.slug}?ref={code}"


def _form(draft: apply.Draft, formdata: Any = None) -> Any:
    form_class = build_form_class(draft.questionnaire.definition, reader_locale())
    return form_class(formdata=formdata, data=form_data(draft.answers), meta={"csrf": False})


def _render(
    grant: tokens.TokenGrant,
    draft: apply.Draft,
    form: Any,
    status: int = 200,
    *,
    refusal: str = "",
) -> Any:
    community, person = community_and_person(grant)
    return render_template(
        "apply/page.html",
        refusal=refusal,
        community=community,
        person=person,
        draft=draft,
        form=form,
        resume=resume_value(grant),
        definition=draft.questionnaire.definition,
        localised=localised,
        locale=reader_locale(),
    ), status


@bp.get("/respond/application")
def page() -> ResponseReturnValue:
    """The application form, with what the person saved last time."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    step = apply.step_for(db, grant.community_id, grant.person_id, grant.delivery_id)
    if step == apply.Step.STATUS:
        return redirect(url_for("apply.status"), code=303)
    draft = apply.draft(db, grant.community_id, grant.person_id)
    if step != apply.Step.APPLICATION and not draft.editable:
        return redirect(url_for("respond.page"), code=303)
    db.commit()  # the questionnaire, made on first use
    return _render(grant, draft, _form(draft))


@bp.post("/respond/application")
@csrf.exempt  # ``resume`` is the proof (see the module's docstring)
def answer() -> ResponseReturnValue:
    """Save for later, or send: whatever is refused comes back on the page with every answer
    as typed, and a draft is saved whenever it can be."""
    grant = posted_grant()
    if grant is None:
        return invalid_link()
    db = db_session()
    draft = apply.draft(db, grant.community_id, grant.person_id)
    form = _form(draft, formdata=request.form)
    answers = answers_from_form(form, draft.questionnaire.definition)
    sending = request.form.get("action") == "send"

    def save(complete: bool) -> None:
        if complete:
            apply.submit(db, grant.community_id, grant.person_id, answers)
        else:
            apply.save_draft(db, grant.community_id, grant.person_id, answers)

    def refused(status: int, refusal: str, fresh: bool) -> ResponseReturnValue:
        shown = apply.draft(db, grant.community_id, grant.person_id) if fresh else draft
        return _render(grant, shown, form, status, refusal=refusal)

    def saved() -> ResponseReturnValue:
        flash(
            _(
                "Your answers are saved. To come back, use the link in your email: it opens "
                "your application on any device."
            ),
            "success",
        )
        return redirect(url_for("apply.page"), code=303)

    return sent_or_saved(
        sending=sending,
        valid=sending and form.validate(),
        sent_before=draft.sent,
        save=save,
        refused=refused,
        after_send=lambda: redirect(url_for("apply.sent"), code=303),
        after_save=saved,
        already_sent=_(apply.ALREADY_SENT),
    )


@bp.post("/respond/application/autosave")
@csrf.exempt  # ``resume`` is the proof (see the module's docstring)
def autosave() -> ResponseReturnValue:
    """What the page's script posts while the person types: the draft, never checked."""

    def save(grant: tokens.TokenGrant) -> datetime:
        db = db_session()
        draft = apply.draft(db, grant.community_id, grant.person_id)
        form = _form(draft, formdata=request.form)
        answers = answers_from_form(form, draft.questionnaire.definition)
        return apply.save_draft(db, grant.community_id, grant.person_id, answers)

    return autosaved(save)


def sent_or_saved(
    *,
    sending: bool,
    valid: bool,
    sent_before: bool,
    save: Callable[[bool], object],
    refused: Callable[[int, str, bool], ResponseReturnValue],
    after_send: Callable[[], ResponseReturnValue],
    after_save: Callable[[], ResponseReturnValue],
    already_sent: str,
) -> ResponseReturnValue:
    """The answer to a questionnaire's "save" or "send" button, the same for every
    questionnaire a person answers through their link: sent when ``valid``; otherwise the draft
    is kept whenever it can be (never over answers ``sent_before``), and the page comes back
    with every answer as typed. ``save(complete)`` stores; ``refused(status, refusal, fresh)``
    shows the page again (``fresh``: read the answers anew, a refusal rolled back)."""
    db = db_session()
    try:
        if sending and valid:
            save(True)
            db.commit()
            return after_send()
        if not sent_before:
            save(False)
            db.commit()
    except DomainError as exc:
        db.rollback()
        return refused(409, error_text(exc), True)
    if sending:
        return refused(400, "", True)
    if sent_before:  # sent meanwhile, from another tab or device: nothing saved, all kept here
        return refused(409, already_sent, False)
    return after_save()


def saved_for_later(page: str) -> ResponseReturnValue:
    """Back to the page, saying the answers wait there (a member's questionnaire)."""
    flash(
        _("Your answers are saved. To come back, use the link in your email, on any device."),
        "success",
    )
    return redirect(page, code=303)


def autosaved(save: Callable[[tokens.TokenGrant], datetime]) -> ResponseReturnValue:
    """An autosave's answer to the page's script: ``save`` the draft of the posted grant, and
    say when, or why not (a refusal is shown, the typing kept on the page)."""
    grant = posted_grant()
    if grant is None:
        return jsonify({"saved": False}), 403
    db = db_session()
    try:
        saved_at = save(grant)
    except DomainError as exc:
        db.rollback()
        return jsonify({"saved": False, "error": error_text(exc)}), 409
    db.commit()
    return jsonify({"saved": True, "saved_at": saved_at.isoformat()})


@bp.get("/respond/application/sent")
def sent() -> ResponseReturnValue:
    """The application is sent: what happens next, and a link to bring colleagues."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    community, person = community_and_person(grant)
    return render_template(
        "apply/sent.html",
        community=community,
        person=person,
        referral_link=referral_link(community, person.id),
    )


@bp.get("/respond/status")
def status() -> ResponseReturnValue:
    """Where the person stands once the coordinators decided, with what they can answer."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    if (
        apply.step_for(db, grant.community_id, grant.person_id, grant.delivery_id)
        != apply.Step.STATUS
    ):
        return redirect(url_for("respond.page"), code=303)
    community, person = community_and_person(grant)
    membership_state = apply.membership_state(db, community.id, person.id)
    return render_template(
        "apply/status.html",
        community=community,
        person=person,
        state=membership_state,
        states=MembershipState,
        form=ConfirmForm(),
        referral_link=referral_link(community, person.id),
    )


@bp.post("/respond/status/confirm")
def confirm() -> ResponseReturnValue:
    """A selected person confirms they join the community."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    try:
        apply.confirm_membership(db, grant.community_id, grant.person_id)
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("apply.status"), code=303)
    db.commit()
    flash(_("Welcome! You are now a member of the community."), "success")
    return redirect(url_for("apply.status"), code=303)


@bp.get("/respond/withdraw")
def withdraw_page() -> ResponseReturnValue:
    """Ask before withdrawing: the seat goes to someone else."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    community, person = community_and_person(grant)
    return render_template(
        "apply/withdraw.html", community=community, person=person, form=ConfirmForm()
    )


@bp.post("/respond/withdraw")
def withdraw() -> ResponseReturnValue:
    """The person can no longer take part."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    db = db_session()
    try:
        apply.withdraw(db, grant.community_id, grant.person_id)
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("respond.page"), code=303)
    db.commit()
    community, _person = community_and_person(grant)
    return render_template("apply/withdrawn.html", community=community)
