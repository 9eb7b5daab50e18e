"""``amorce applications …``: the ranking of applicants by the community's rubric."""

from __future__ import annotations

import click

from webapp.cli_base import FORMATS, Context, domain_errors, emit, pass_ctx
from webapp.services import applications, communities


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
