"""A member's side of the charter, through their personal link: the minimum commitments to
confirm, then, as the drafting goes, the charter questionnaire, the statements to vote on, the
draft to amend and the charter to consent to.

The questionnaire's writes carry ``resume`` like the application's (see :mod:`.apply`): an answer
typed while the session expired is still saved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from forms.public import ConfirmForm
from forms.questionnaires import answers_from_form, build_form_class, form_data, localised
from webapp.extensions import csrf, db_session
from webapp.i18n import reader_locale
from webapp.models import CharterStage, Meeting, Statement
from webapp.services import (
    amendments,
    apply,
    charter_draft,
    charter_versions,
    charters,
    statements,
    tokens,
)
from webapp.services.errors import DomainError
from webapp.services.memberships import membership_of

from .apply import autosaved, posted_grant, resume_value, saved_for_later, sent_or_saved
from .errors import error_text
from .respond import community_and_person, invalid_link, respondent

bp = Blueprint("charter_respond", __name__)


def _form(answers: charters.Answers, formdata: Any = None) -> Any:
    form_class = build_form_class(answers.questionnaire.definition, reader_locale())
    return form_class(formdata=formdata, data=form_data(answers.answers), meta={"csrf": False})


def _meeting(grant: tokens.TokenGrant) -> Meeting | None:
    """The founding meeting the link's email followed up, if it did."""
    db = db_session()
    campaign = apply.campaign_of(db, grant.delivery_id)
    if campaign is None or campaign.meeting_id is None:
        return None
    return db.get(Meeting, campaign.meeting_id)


def _render(
    grant: tokens.TokenGrant,
    answers: charters.Answers,
    form: Any,
    status: int = 200,
    *,
    refusal: str = "",
    typed: dict[str, str] | None = None,
) -> Any:
    community, person = community_and_person(grant)
    db = db_session()
    membership = membership_of(db, community.id, person.id)
    charter = charters.charter_of(db, community.id)
    voting = charter.stage == CharterStage.VOTING
    later = charter.stage in (CharterStage.AMENDING, CharterStage.CONSENT, CharterStage.ADOPTED)
    return render_template(
        "charter/respond.html",
        community=community,
        person=person,
        charter=charter,
        stages=CharterStage,
        meeting=_meeting(grant),
        commitments=charters.commitment_lines(community),
        confirmed_at=membership.commitments_confirmed_at,
        answers=answers,
        form=form,
        confirm_form=ConfirmForm(),
        resume=resume_value(grant),
        definition=answers.questionnaire.definition,
        localised=localised,
        locale=reader_locale(),
        refusal=refusal,
        sections=charters.sections(db, community.id, reader_locale()),
        statements=_by_section(community.id) if voting else {},
        votes=statements.votes_of(db, community.id, person.id) if voting else {},
        draft=charter_draft.draft(db, community.id) if later else [],
        amendments=amendments.amendments_of(db, community.id, reader=person.id)
        if charter.stage == CharterStage.AMENDING
        else [],
        consent=charter_versions.consent_state(db, community.id)
        if charter.stage == CharterStage.CONSENT
        else None,
        typed=typed or {},
    ), status


def _by_section(community_id: int) -> dict[str, list[Statement]]:
    grouped: dict[str, list[Statement]] = {}
    for statement in statements.statements_of(db_session(), community_id):
        grouped.setdefault(statement.section, []).append(statement)
    return grouped


def _in_founding_group(grant: tokens.TokenGrant) -> bool:
    state = apply.membership_state(db_session(), grant.community_id, grant.person_id)
    return state in charters.FOUNDING_GROUP


@bp.get("/respond/charter")
def page() -> ResponseReturnValue:
    """The commitments to confirm and the charter as it stands, with what the member can do."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    if not _in_founding_group(grant):
        return redirect(url_for("respond.page"), code=303)
    db = db_session()
    answers = charters.answers_of(db, grant.community_id, grant.person_id)
    db.commit()  # the charter and its questionnaire, made on first use
    return _render(grant, answers, _form(answers))


def _act(
    change: Callable[[Session, tokens.TokenGrant], object],
    done: str,
    anchor: str | None = None,
    *,
    keep_typed: bool = False,
) -> ResponseReturnValue:
    """A member's change from a form of the page (with its CSRF token): made and thanked with
    ``done``, or refused, the refusal shown with what they typed (``keep_typed``) or flashed."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    if not ConfirmForm().validate():
        return _back()
    db = db_session()
    try:
        change(db, grant)
    except DomainError as exc:
        db.rollback()
        if keep_typed:
            answers = charters.answers_of(db, grant.community_id, grant.person_id)
            return _render(
                grant,
                answers,
                _form(answers),
                400,
                refusal=error_text(exc),
                typed=dict(request.form),
            )
        flash(error_text(exc), "error")
        return _back(anchor)
    db.commit()
    flash(done, "success")
    return _back(anchor)


def _back(anchor: str | None = None) -> ResponseReturnValue:
    return redirect(url_for("charter_respond.page", _anchor=anchor), code=303)


@bp.post("/respond/charter/commitments")
def confirm_commitments() -> ResponseReturnValue:
    """The member accepts the minimum commitments."""
    return _act(
        lambda db, grant: charters.confirm_commitments(db, grant.community_id, grant.person_id),
        _("Thank you: your commitments are recorded."),
    )


@bp.post("/respond/charter")
@csrf.exempt  # ``resume`` is the proof (see the module's docstring)
def answer() -> ResponseReturnValue:
    """Save for later, or send: whatever is refused comes back with every answer as typed."""
    grant = posted_grant()
    if grant is None:
        return invalid_link()
    db = db_session()
    answers = charters.answers_of(db, grant.community_id, grant.person_id)
    form = _form(answers, formdata=request.form)
    given = answers_from_form(form, answers.questionnaire.definition)
    sending = request.form.get("action") == "send"
    valid = sending and form.validate()
    if valid and not any(str(v or "").strip() for v in given.values()):
        return _render(
            grant,
            answers,
            form,
            400,
            refusal=_("Answer at least one question before sending."),
        )

    def save(complete: bool) -> None:
        charters.save_answers(db, grant.community_id, grant.person_id, given, complete=complete)

    def refused(status: int, refusal: str, fresh: bool) -> ResponseReturnValue:
        shown = charters.answers_of(db, grant.community_id, grant.person_id) if fresh else answers
        return _render(grant, shown, form, status, refusal=refusal)

    def sent() -> ResponseReturnValue:
        flash(
            _(
                "Thank you: your answers are sent. You can change them until the vote on the "
                "statements opens."
            ),
            "success",
        )
        return redirect(url_for("charter_respond.page"), code=303)

    return sent_or_saved(
        sending=sending,
        valid=valid,
        sent_before=answers.sent,
        save=save,
        refused=refused,
        after_send=sent,
        after_save=lambda: saved_for_later(url_for("charter_respond.page")),
        already_sent=_("Your answers are already sent: send them again to change them."),
    )


@bp.post("/respond/charter/autosave")
@csrf.exempt  # ``resume`` is the proof (see the module's docstring)
def autosave() -> ResponseReturnValue:
    """What the page's script posts while the member types: the draft, never checked."""

    def save(grant: tokens.TokenGrant) -> datetime:
        db = db_session()
        answers = charters.answers_of(db, grant.community_id, grant.person_id)
        form = _form(answers, formdata=request.form)
        given = answers_from_form(form, answers.questionnaire.definition)
        return charters.save_answers(db, grant.community_id, grant.person_id, given, complete=False)

    return autosaved(save)


@bp.post("/respond/charter/votes")
def vote() -> ResponseReturnValue:
    """Agree, disagree or pass on the statements: those chosen are recorded, the others wait."""
    grant = respondent()
    if grant is None:
        return invalid_link()
    if not ConfirmForm().validate():
        return redirect(url_for("charter_respond.page"), code=303)
    choices = {}
    for name, value in request.form.items():
        if name.startswith("vote-") and name[5:].isdigit():
            choices[int(name[5:])] = value
    db = db_session()
    try:
        recorded = statements.vote(db, grant.community_id, grant.person_id, choices)
    except DomainError as exc:
        db.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("charter_respond.page"), code=303)
    db.commit()
    if recorded:
        flash(
            _("Thank you: your votes are recorded. You can change them until the vote closes."),
            "success",
        )
    else:
        flash(_("Choose agree, disagree or pass on at least one statement."), "error")
    return redirect(url_for("charter_respond.page", _anchor="votes-title"), code=303)


@bp.post("/respond/charter/amendments")
def propose_amendment() -> ResponseReturnValue:
    """A member proposes a new text for one section; refused, what they typed comes back."""
    return _act(
        lambda db, grant: amendments.propose(
            db,
            grant.community_id,
            request.form.get("section", ""),
            request.form.get("text", ""),
            request.form.get("reason", ""),
            person_id=grant.person_id,
            actor=f"person:{grant.person_id}",
        ),
        _("Your amendment is proposed: the members will accept or reject it."),
        "amendments-title",
        keep_typed=True,
    )


@bp.post("/respond/charter/amendments/<int:amendment_id>")
def answer_amendment(amendment_id: int) -> ResponseReturnValue:
    """Accept or reject an amendment, or withdraw one's own."""
    choice = request.form.get("answer", "")

    def change(db: Session, grant: tokens.TokenGrant) -> None:
        if choice == "withdraw":
            amendments.withdraw(db, grant.community_id, amendment_id, grant.person_id)
        elif choice in ("accept", "reject"):
            accept = choice == "accept"
            amendments.vote(db, grant.community_id, amendment_id, grant.person_id, accept)

    return _act(change, _("Your answer is recorded."), f"amendment-{amendment_id}")


@bp.post("/respond/charter/consent")
def consent() -> ResponseReturnValue:
    """Consent to the whole charter, or object with a reason."""
    return _act(
        lambda db, grant: charter_versions.answer(
            db,
            grant.community_id,
            grant.person_id,
            request.form.get("answer", ""),
            request.form.get("reason", ""),
        ),
        _("Thank you: your answer is recorded. You can change it until the charter is adopted."),
        "consent-title",
        keep_typed=True,
    )
