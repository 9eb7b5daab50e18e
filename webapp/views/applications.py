"""Coordinator pages for volunteer applications: the ranking by the rubric, a suggested group
under caps, the rubric itself, an applicant with their answers and ratings, decisions, what the
group covers, and the applications as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal, format_percent
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from forms.applications import (
    DecisionForm,
    PromoteForm,
    RatingsForm,
    ScorableQuestion,
    SuggestionForm,
    criterion_form_class,
    ratings_form_class,
    scorable_questions,
)
from forms.questionnaires import localised
from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import (
    Community,
    Criterion,
    CriterionSource,
    Person,
    QuestionnaireKind,
)
from webapp.services import applications as service
from webapp.services.errors import DomainError
from webapp.services.questionnaires import ensure_questionnaire

from .communities import community_or_404
from .errors import error_text
from .labels import DECISION_ACTIONS, STATES

bp = Blueprint("applications", __name__)


def _actor() -> str:
    return f"user:{current_user.id}"


@dataclass(frozen=True)
class Formats:
    """Numbers as the reader writes them, and a criterion's name in their language."""

    locale: str

    def percent(self, value: float) -> str:
        """0.75 → 75 %."""
        return str(format_percent(value, locale=self.locale))

    def score(self, value: float) -> str:
        """A score out of 100, with its one decimal."""
        return str(format_decimal(value, format="0.0", locale=self.locale))

    def number(self, value: float) -> str:
        """A weight, points or a bound, without useless decimals."""
        return str(format_decimal(value, format="0.##", locale=self.locale))

    def name(self, criterion: Criterion) -> str:
        """The criterion's name in the reader's language, else its short name."""
        return localised(criterion.label, self.locale) or criterion.key


def formats_context() -> dict[str, Any]:
    """What every applications page formats numbers and decisions with."""
    return {"fmt": Formats(reader_locale()), "decision_actions": DECISION_ACTIONS}


@bp.app_context_processor
def _application_helpers() -> dict[str, Callable[[int], int]]:
    """``application_count(community_id)`` for the community page's "Applications" link."""
    return {"application_count": lambda cid: len(service.applicants(db_session(), cid))}


# -- the ranking ----------------------------------------------------------------------------


@bp.get("/communities/<slug>/applications")
@login_required
def index(slug: str) -> ResponseReturnValue:
    """Applicants by score with the breakdown per criterion; a suggested group under caps."""
    community = community_or_404(slug)
    session = db_session()
    criteria = service.rubric(session, community.id)
    ranked = service.applicants(session, community.id)
    form, suggested = suggestion_from_args(ranked)
    by_id = {a.person_id: a for a in ranked}
    return render_template(
        "applications/index.html",
        community=community,
        criteria=criteria,
        applicants=ranked,
        ranks=_ranks(ranked),
        form=form,
        suggested=suggested,
        suggested_names=[by_id[i].name for i in suggested or []],
        waiting=sum(1 for a in ranked if a.decision == "waitlisted"),
        **formats_context(),
    )


def suggestion_from_args(
    ranked: Sequence[service.Applicant],
) -> tuple[SuggestionForm, list[int] | None]:
    """The caps asked for in the query string, and the suggested group when they are valid."""
    form = SuggestionForm(formdata=request.args)
    asked = any(name in request.args for name in ("size", "per_organization"))
    if not (asked and form.validate()):
        return form, None
    caps = form.size.data, form.per_organization.data
    return form, service.suggest(ranked, size=caps[0], per_organization=caps[1])


def _ranks(ranked: Sequence[service.Applicant]) -> list[int]:
    """Equal scores share a rank (1, 2, 2, 4)."""
    ranks: list[int] = []
    for index, applicant in enumerate(ranked):
        tie = index and applicant.score == ranked[index - 1].score
        ranks.append(ranks[-1] if tie else index + 1)
    return ranks


# -- the rubric -----------------------------------------------------------------------------


def _questions(session: Session, community_id: int) -> list[ScorableQuestion]:
    """The scorable questions of the community's newest application questionnaire (the shipped
    one until the community has its own; nothing is kept on a GET: the request rolls back)."""
    questionnaire = ensure_questionnaire(session, community_id, QuestionnaireKind.APPLICATION)
    return scorable_questions(questionnaire.definition, reader_locale())


@bp.route("/communities/<slug>/applications/rubric", methods=["GET", "POST"])
@login_required
def rubric(slug: str) -> ResponseReturnValue:
    """The criteria applicants are scored by, and a form to add one or change one."""
    community = community_or_404(slug)
    session = db_session()
    questions = _questions(session, community.id)
    criteria = service.rubric(session, community.id)
    editing = next((c for c in criteria if c.key == request.args.get("key")), None)
    form = criterion_form_class(questions)()
    form.offer(_("Choose a question"), editing.question if editing else "")
    if editing is not None and not form.is_submitted():
        form.fill(editing)
    refusal = None
    if form.validate_on_submit():
        data = form.criterion_data()
        try:
            service.define_criterion(session, community.id, data)
        except DomainError as exc:
            session.rollback()
            refusal = error_text(exc)
        else:
            session.commit()
            flash(_("Criterion “%(key)s” saved.", key=data.key), "success")
            return redirect(url_for("applications.rubric", slug=slug))
    return render_template(
        "applications/rubric.html",
        community=community,
        criteria=criteria,
        questions={q.id: q for q in questions},
        form=form,
        editing=editing,
        refusal=refusal,
        **formats_context(),
    )


# -- one applicant --------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    """An applicant, their rank and how many applied."""

    applicant: service.Applicant
    rank: int
    total: int


def _applicant_or_404(session: Session, community_id: int, person_id: int) -> Ranked:
    """The applicant among the community's (W9: anyone else is not found)."""
    ranked = service.applicants(session, community_id)
    for applicant, rank in zip(ranked, _ranks(ranked), strict=True):
        if applicant.person_id == person_id:
            return Ranked(applicant, rank, len(ranked))
    abort(404)


@dataclass(frozen=True)
class Answer:
    """A question of the application and what the person answered, as words."""

    label: str
    text: str
    long: bool


def _answers(session: Session, community_id: int, person_id: int) -> list[Answer]:
    """The person's latest application, each question worded in the reader's language."""
    found = service.application_of(session, community_id, person_id)
    if found is None:
        return []
    definition, given = found
    locale, shown = reader_locale(), []
    for question in definition.get("questions", []):
        value = given.get(question["id"])
        if value is None or value == "" or value == []:
            continue
        names = {
            str(c["value"]): localised(c.get("label"), locale) for c in question.get("choices", [])
        }
        values = value if isinstance(value, list) else [value]
        text = ", ".join(names.get(str(v), str(v)) for v in values)
        long = question.get("type") == "long_text"
        shown.append(Answer(localised(question.get("label"), locale), text, long))
    return shown


def _render_applicant(
    community: Community,
    found: Ranked,
    *,
    ratings_form: RatingsForm | None = None,
    refusal: str | None = None,
) -> str:
    session = db_session()
    applicant = found.applicant
    criteria = service.rubric(session, community.id)
    rated = [c for c in criteria if c.source == CriterionSource.RATING]
    reviewers = service.ratings_by_reviewer(session, rated, applicant.person_id)
    fmt = Formats(reader_locale())
    if ratings_form is None:
        me = int(current_user.id)
        mine = next((r.scores for r in reviewers if r.reviewer_id == me), {})
        form_class = ratings_form_class([(c.id, fmt.name(c)) for c in rated])
        ratings_form = form_class(formdata=None, data={f"rating_{k}": v for k, v in mine.items()})
    return render_template(
        "applications/applicant.html",
        community=community,
        applicant=applicant,
        rank=found.rank,
        total=found.total,
        criteria=criteria,
        rated=rated,
        reviewers=reviewers,
        answers=_answers(session, community.id, applicant.person_id),
        ratings_form=ratings_form,
        refusal=refusal,
        fmt=fmt,
        decision_actions=DECISION_ACTIONS,
    )


@bp.get("/communities/<slug>/applications/<int:person_id>")
@login_required
def show(slug: str, person_id: int) -> ResponseReturnValue:
    """An applicant: their answers, their score per criterion, the ratings and the decision."""
    community = community_or_404(slug)
    return _render_applicant(community, _applicant_or_404(db_session(), community.id, person_id))


@bp.post("/communities/<slug>/applications/<int:person_id>/rating")
@login_required
def rate(slug: str, person_id: int) -> ResponseReturnValue:
    """The signed-in coordinator rates the applicant, 0 to 5, on each criterion of reviewers."""
    community = community_or_404(slug)
    session = db_session()
    found = _applicant_or_404(session, community.id, person_id)
    fmt = Formats(reader_locale())
    rated = [c for c in service.rubric(session, community.id) if c.source == CriterionSource.RATING]
    form = ratings_form_class([(c.id, fmt.name(c)) for c in rated])()
    if not form.validate_on_submit():
        return _render_applicant(community, found, ratings_form=form)
    given = form.given()
    if not given:
        refusal = _("Choose a rating for at least one criterion.")
        return _render_applicant(community, found, ratings_form=form, refusal=refusal)
    try:
        for criterion_id, score in given.items():
            service.rate(
                session, community.id, criterion_id, person_id, int(current_user.id), score
            )
    except DomainError as exc:
        session.rollback()
        return _render_applicant(community, found, ratings_form=form, refusal=error_text(exc))
    session.commit()
    flash(_("Your ratings of %(name)s are saved.", name=found.applicant.name), "success")
    return redirect(url_for("applications.show", slug=slug, person_id=person_id))


# -- decisions ------------------------------------------------------------------------------


def _back_to(slug: str, person_id: int, form: DecisionForm) -> ResponseReturnValue:
    """The ranking (with the caps it showed) or the applicant's page."""
    if form.back.data != "ranking":
        return redirect(url_for("applications.show", slug=slug, person_id=person_id))
    caps: dict[str, Any] = {
        name: int(value)
        for name in ("size", "per_organization")
        if (value := str(form[name].data or "")).isdigit()
    }
    caps["_anchor"] = f"applicant-{person_id}"
    return redirect(url_for("applications.index", slug=slug, **caps))


@bp.post("/communities/<slug>/applications/<int:person_id>/decision")
@login_required
def decide(slug: str, person_id: int) -> ResponseReturnValue:
    """Select, waitlist or decline an applicant."""
    community = community_or_404(slug)
    session = db_session()
    applicant = _applicant_or_404(session, community.id, person_id).applicant
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    decision = form.decision.data or ""
    state = str(STATES.get(decision, decision))
    if decision == applicant.decision:  # a second click: no second audit entry
        flash(
            _(
                "%(name)s is already %(state)s: nothing changed.",
                name=applicant.name,
                state=state.lower(),
            ),
            "info",
        )
        return _back_to(slug, person_id, form)
    try:
        before = service.decide(session, community.id, person_id, decision, actor=_actor())
    except DomainError as exc:
        session.rollback()
        flash(error_text(exc), "error")
        return _back_to(slug, person_id, form)
    session.commit()
    before_state = str(STATES.get(before, before))
    flash(
        _(
            "%(name)s: %(before)s → %(after)s.",
            name=applicant.name,
            before=before_state,
            after=state,
        ),
        "success",
    )
    return _back_to(slug, person_id, form)


@bp.post("/communities/<slug>/applications/promote")
@login_required
def promote(slug: str) -> ResponseReturnValue:
    """A seat freed up: the best-ranked waitlisted applicant is selected."""
    community = community_or_404(slug)
    if not PromoteForm().validate_on_submit():
        abort(400)
    session = db_session()
    person_id = service.promote_waitlisted(session, community.id, actor=_actor())
    if person_id is None:
        flash(_("Nobody is waiting: nothing changed."), "info")
        return redirect(url_for("applications.index", slug=slug))
    session.commit()
    person = session.get_one(Person, person_id)
    flash(
        _(
            "%(name)s (%(email)s) moves up from the waiting list: selected.",
            name=person.display_name,
            email=person.email,
        ),
        "success",
    )
    return redirect(url_for("applications.index", slug=slug, _anchor=f"applicant-{person_id}"))
