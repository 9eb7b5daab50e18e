"""``amorce charter …``: the adopted charter, for scripts."""

from __future__ import annotations

import sys

import click

from webapp.cli_base import Context, domain_errors, pass_ctx
from webapp.services import charter_versions, communities


@click.group("charter")
def charter_group() -> None:
    """The community's charter."""


@charter_group.command("export")
@click.argument("slug")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "pdf"]), default="md", show_default=True
)
@click.option("--version", "number", type=int, default=None, help="A version (default: latest).")
@pass_ctx
@domain_errors
def charter_export(ctx: Context, slug: str, fmt: str, number: int | None) -> None:
    """Write the adopted charter to standard output: Markdown (one ## heading per section),
    HTML, or PDF bytes."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        data = charter_versions.export(session, community, fmt, number)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
