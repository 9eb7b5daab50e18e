"""Coordinator pages for a community's questionnaires: the list, one questionnaire's questions
with buttons to move and remove them, the forms to add or change a question, and a preview.

Coordinators and admins change them; any other signed-in role may only look (403 on a change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from forms.questionnaire_editor import TYPE_LABELS, MoveForm, QuestionForm, RemoveForm
from forms.questionnaires import build_form_class, localised
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import Community, QuestionnaireKind, Role
from webapp.services import questionnaire_editor as service
from webapp.services.errors import DomainError, NotFound
from webapp.services.questionnaires import ensure_questionnaire

from .communities import community_or_404
from .errors import error_text

bp = Blueprint("questionnaires", __name__)

KIND_NAMES = {
    QuestionnaireKind.INTEREST.value: _l("The interest questionnaire"),
    QuestionnaireKind.APPLICATION.value: _l("The application questionnaire"),
    QuestionnaireKind.CHARTER.value: _l("The charter questionnaire"),
    QuestionnaireKind.NEEDS.value: _l("The needs and availability survey"),
}
EDITORS = (Role.ADMIN, Role.COORDINATOR)


def _actor() -> str:
    return f"user:{current_user.id}"


def may_edit() -> bool:
    """Whether the signed-in account may change questionnaires (not one that only looks)."""
    return current_user.is_authenticated and current_user.role in EDITORS


def _editor_or_403() -> None:
    if not may_edit():
        abort(403)


def _kind_or_404(kind: str) -> str:
    if kind not in KIND_NAMES:
        abort(404)
    return kind


def _problems(problems: dict[str, service.Problem]) -> dict[str, str]:
    """The problems of a question, in the reader's language."""
    return {name: _(problem.message, **problem.params) for name, problem in problems.items()}


@dataclass(frozen=True)
class Row:
    """A question as the questionnaire's page lists it."""

    id: str
    label: str
    type: str
    required: bool
    criteria: list[str]


def _shared(community: Community, kind: str) -> dict[str, Any]:
    """What every page of one questionnaire shows: its name, its version and its answers."""
    session = db_session()
    return {
        "community": community,
        "kind": kind,
        "kind_names": KIND_NAMES,
        "summary": service.summary(session, community.id, kind),
        "may_edit": may_edit(),
    }


@bp.get("/communities/<slug>/questionnaires")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """The community's questionnaires, their version, questions and answers."""
    community = community_or_404(slug)
    return render_template(
        "questionnaires/index.html",
        community=community,
        summaries=service.summaries(db_session(), community.id),
        kind_names=KIND_NAMES,
    )


@bp.get("/communities/<slug>/questionnaires/<kind>")
@login_required
def show(slug: str, kind: str) -> ResponseReturnValue:
    """One questionnaire's questions in order, with what a coordinator can do to each."""
    community = community_or_404(slug)
    kind = _kind_or_404(kind)
    session = db_session()
    definition = ensure_questionnaire(session, community.id, kind).definition
    locale, rows = reader_locale(), []
    for question in definition.get("questions", []):
        question_id = str(question.get("id", ""))
        used = (
            service.criteria_using(session, community.id, question_id)
            if kind == QuestionnaireKind.APPLICATION
            else []
        )
        rows.append(
            Row(
                id=question_id,
                label=localised(question.get("label"), locale) or question_id,
                type=str(TYPE_LABELS.get(question.get("type", ""), question.get("type", ""))),
                required=bool(question.get("required")),
                criteria=used,
            )
        )
    return render_template(
        "questionnaires/show.html",
        rows=rows,
        title=localised(definition.get("title"), locale),
        **_shared(community, kind),
    )


def _render_question(
    community: Community,
    kind: str,
    form: QuestionForm,
    *,
    editing: str | None,
    refusal: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "questionnaires/question.html",
        form=form,
        editing=editing,
        refusal=refusal,
        **_shared(community, kind),
    ), status


def _invalid(
    community: Community, kind: str, form: QuestionForm, editing: str | None
) -> ResponseReturnValue:
    """The form with its own errors and, at once, what the service would say of the rest."""
    typed = form.question(readable_choices=False)  # the form already says which line is wrong
    form.show_problems(_problems(service.check_question(service.clean_question(typed))))
    return _render_question(community, kind, form, editing=editing, status=400)


def _refused(
    community: Community, kind: str, form: QuestionForm, editing: str | None, exc: DomainError
) -> ResponseReturnValue:
    """The form again, each problem next to its field, everything typed kept (400)."""
    db_session().rollback()
    if isinstance(exc, service.InvalidQuestion):
        elsewhere = form.show_problems(_problems(exc.problems))
        refusal = " ".join(elsewhere) or None
    else:
        refusal = error_text(exc)
    return _render_question(community, kind, form, editing=editing, refusal=refusal, status=400)


def _back(slug: str, kind: str, question_id: str | None = None) -> ResponseReturnValue:
    """The questionnaire's page, at the question when there is one."""
    anchor = f"question-{question_id}" if question_id else None
    return redirect(url_for("questionnaires.show", slug=slug, kind=kind, _anchor=anchor))


def _saved(
    slug: str, kind: str, edited: service.Edited, message: str, question_id: str | None = None
) -> ResponseReturnValue:
    """Say what changed (and that a version was made), then back to the questionnaire."""
    flash(message, "success")
    if edited.created:
        flash(
            _(
                "Answers were already given, so this change made version %(version)d; they "
                "keep the version they answered.",
                version=edited.version,
            ),
            "info",
        )
    return _back(slug, kind, question_id)


@bp.route("/communities/<slug>/questionnaires/<kind>/questions/new", methods=["GET", "POST"])
@login_required
def add(slug: str, kind: str) -> ResponseReturnValue:
    """The form to add a question at the end of the questionnaire."""
    community = community_or_404(slug)
    kind = _kind_or_404(kind)
    _editor_or_403()
    form = QuestionForm()
    if not form.is_submitted():
        return _render_question(community, kind, form, editing=None)
    if not form.validate():
        return _invalid(community, kind, form, None)
    session = db_session()
    try:
        edited = service.add_question(session, community.id, kind, form.question(), actor=_actor())
    except DomainError as exc:
        return _refused(community, kind, form, None, exc)
    session.commit()
    added = form.identifier.data or ""
    return _saved(slug, kind, edited, _("Question “%(id)s” added.", id=added), added)


@bp.route(
    "/communities/<slug>/questionnaires/<kind>/questions/<question_id>/edit",
    methods=["GET", "POST"],
)
@login_required
def edit(slug: str, kind: str, question_id: str) -> ResponseReturnValue:
    """The form to change a question where it stands."""
    community = community_or_404(slug)
    kind = _kind_or_404(kind)
    _editor_or_403()
    session = db_session()
    try:
        question = service.question_of(session, community.id, kind, question_id)
    except NotFound:
        abort(404)
    form = QuestionForm()
    if not form.is_submitted():
        form.fill(question)
        return _render_question(community, kind, form, editing=question_id)
    if not form.validate():
        return _invalid(community, kind, form, question_id)
    try:
        edited = service.update_question(
            session, community.id, kind, question_id, form.question(), actor=_actor()
        )
    except DomainError as exc:
        return _refused(community, kind, form, question_id, exc)
    session.commit()
    saved = form.identifier.data or ""
    return _saved(slug, kind, edited, _("Question “%(id)s” saved.", id=saved), saved)


@bp.post("/communities/<slug>/questionnaires/<kind>/questions/<question_id>/move")
@login_required
def move(slug: str, kind: str, question_id: str) -> ResponseReturnValue:
    """Move a question one place up or down."""
    community = community_or_404(slug)
    kind = _kind_or_404(kind)
    _editor_or_403()
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    session = db_session()
    offset = -1 if form.direction.data == "up" else 1
    try:
        edited = service.move_question(
            session, community.id, kind, question_id, offset, actor=_actor()
        )
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return _back(slug, kind, question_id)
    session.commit()
    return _saved(slug, kind, edited, _("Question “%(id)s” moved.", id=question_id), question_id)


@bp.post("/communities/<slug>/questionnaires/<kind>/questions/<question_id>/remove")
@login_required
def remove(slug: str, kind: str, question_id: str) -> ResponseReturnValue:
    """Remove a question (the answers already given keep it, in their version)."""
    community = community_or_404(slug)
    kind = _kind_or_404(kind)
    _editor_or_403()
    if not RemoveForm().validate_on_submit():
        abort(400)
    session = db_session()
    try:
        edited = service.remove_question(session, community.id, kind, question_id, actor=_actor())
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return _back(slug, kind, question_id)
    session.commit()
    return _saved(slug, kind, edited, _("Question “%(id)s” removed.", id=question_id))


@bp.route("/communities/<slug>/questionnaires/<kind>/preview", methods=["GET", "POST"])
@login_required
def preview(slug: str, kind: str) -> ResponseReturnValue:
    """The questionnaire as respondents see it; sending it checks the answers, saves nothing."""
    community = community_or_404(slug)
    kind = _kind_or_404(kind)
    definition = ensure_questionnaire(db_session(), community.id, kind).definition
    locale = reader_locale()
    form_class = build_form_class(definition, locale)
    form = form_class() if request.method == "POST" else form_class(formdata=None)
    checked = form.validate_on_submit()
    status = 400 if request.method == "POST" and not checked else 200
    return render_template(
        "questionnaires/preview.html",
        form=form,
        checked=checked,
        title=localised(definition.get("title"), locale),
        intro=localised(definition.get("intro"), locale),
        **_shared(community, kind),
    ), status
