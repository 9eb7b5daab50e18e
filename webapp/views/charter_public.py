"""The adopted charter, public: its page (any version) and its downloads in Markdown, HTML and
PDF."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from webapp.extensions import db_session
from webapp.mail import markdown_to_html
from webapp.models import Community
from webapp.services import charter_draft, charter_versions, communities
from webapp.services.errors import NotFound

bp = Blueprint("charter_public", __name__)
TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def _community(slug: str) -> Community:
    try:
        return communities.get_community_by_slug(db_session(), slug)
    except NotFound:
        abort(404)


def _number() -> int | None:
    return request.args.get("version", type=int)


@bp.get("/c/<slug>/charter")
def charter(slug: str) -> ResponseReturnValue:
    """The adopted charter (the latest version unless one is asked), with its versions."""
    community = _community(slug)
    session = db_session()
    try:
        found = charter_versions.version(session, community.id, _number())
    except NotFound:
        abort(404)
    return render_template(
        "charter/public.html",
        community=community,
        version=found,
        versions=charter_versions.versions(session, community.id),
        footer=charter_versions.footer(community, found),
        title=charter_draft.title(community, escaped=False),
    )


@bp.app_template_filter("charter_markdown")
def charter_markdown(text: str) -> Markup:
    """A section's Markdown as sanitised HTML."""
    return markdown_to_html(text)


@bp.get("/c/<slug>/charter.<fmt>")
def download(slug: str, fmt: str) -> ResponseReturnValue:
    """One version as a file: Markdown, HTML or PDF."""
    if fmt not in TYPES:
        abort(404)
    community = _community(slug)
    try:
        found = charter_versions.version(db_session(), community.id, _number())
        body = charter_versions.export(db_session(), community, fmt, found.number)
    except NotFound:
        abort(404)
    name = f"{community.slug}-charter-v{found.number}.{fmt}"
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        body,
        mimetype=TYPES[fmt].split(";")[0],
        headers={
            "Content-Type": TYPES[fmt],
            "Content-Disposition": f'{disposition}; filename="{name}"',
        },
    )
