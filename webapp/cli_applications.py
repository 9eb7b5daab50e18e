"""``amorce applications …``: the ranking of applicants by the community's rubric."""

from __future__ import annotations

import click

from webapp.cli_base import FORMATS, Context, domain_errors, emit, pass_ctx
from webapp.models import CriterionSource
from webapp.services import applications, communities, people


@click.group("applications")
def applications_group() -> None:
    """Volunteer applications and their selection."""


@applications_group.command("rank")
@click.argument("slug")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
@domain_errors
def applications_rank(ctx: Context, slug: str, fmt: str) -> None:
    """Applicants by score: the score (0-100), each criterion (0-100) and the decision."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        columns, rows = applications.rank_rows(session, community.id)
    emit(rows, columns, fmt)


def _points(values: tuple[str, ...]) -> dict[str, float]:
    points: dict[str, float] = {}
    for value in values:
        answer, sep, worth = value.partition("=")
        try:
            points[answer.strip()] = float(worth)
        except ValueError:
            sep = ""
        if not sep or not answer.strip():
            raise click.BadParameter(
                f"{value!r}: write ANSWER=POINTS, e.g. expert=3", param_hint="--points"
            )
    return points


def _range(value: str) -> dict[str, float]:
    low, sep, high = value.partition(":")
    try:
        return {"min": float(low), "max": float(high)} if sep else {}
    except ValueError:
        pass
    raise click.BadParameter(f"{value!r}: write MIN:MAX, e.g. 0:10", param_hint="--range")


@applications_group.command("criterion")
@click.argument("slug")
@click.argument("key")
@click.option("--label-fr", default="", help="The criterion's name in French.")
@click.option("--label-en", default="", help="The criterion's name in English.")
@click.option("--weight", default=1.0, show_default=True, type=float)
@click.option("--from-answer", "question", default="", help="Score it from this question.")
@click.option(
    "--points", multiple=True, help="ANSWER=POINTS, once per answer (with --from-answer)."
)
@click.option("--range", "bounds", default="", help="MIN:MAX for a number (with --from-answer).")
@click.option("--required", is_flag=True, help="An applicant without it is never suggested.")
@pass_ctx
@domain_errors
def applications_criterion(
    ctx: Context,
    slug: str,
    key: str,
    label_fr: str,
    label_en: str,
    weight: float,
    question: str,
    points: tuple[str, ...],
    bounds: str,
    required: bool,
) -> None:
    """Add a criterion to the rubric, or change the one called KEY.

    Without --from-answer it is rated by reviewers, 0 to 5.
    """
    scoring: dict[str, object] = {}
    if points:
        scoring["points"] = _points(points)
    elif bounds:
        scoring.update(_range(bounds))
    data = applications.CriterionData(
        key=key,
        label={"fr": label_fr or label_en or key, "en": label_en or label_fr or key},
        weight=weight,
        source=CriterionSource.ANSWER if question else CriterionSource.RATING,
        question=question,
        scoring=scoring,
        required=required,
    )
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        applications.define_criterion(session, community.id, data)
    click.echo(f"Criterion {key} saved.")


@applications_group.command("suggest")
@click.argument("slug")
@click.option("--size", type=click.IntRange(1), default=None, help="How many to select at most.")
@click.option("--per-organization", type=click.IntRange(1), default=None, help="At most N each.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
@domain_errors
def applications_suggest(
    ctx: Context, slug: str, size: int | None, per_organization: int | None, fmt: str
) -> None:
    """A suggested founding group: the best-ranked applicants within the caps."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        ranked = applications.applicants(session, community.id)
    chosen = set(applications.suggest(ranked, size=size, per_organization=per_organization))
    rows = [
        {"email": a.email, "score": a.score, "organization": a.organization}
        for a in ranked
        if a.person_id in chosen
    ]
    emit(rows, ["email", "score", "organization"], fmt)


@applications_group.command("decide")
@click.argument("slug")
@click.argument("email")
@click.argument("decision", type=click.Choice(["selected", "waitlisted", "declined"]))
@pass_ctx
@domain_errors
def applications_decide(ctx: Context, slug: str, email: str, decision: str) -> None:
    """Select, waitlist or decline the applicant with this address."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        person = people.find_person(session, email)
        before = applications.decide(session, community.id, person.id, decision, actor="cli")
    click.echo(f"{email}: {before} → {decision}")
