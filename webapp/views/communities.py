"""Coordinator pages: the dashboard, creating, viewing and editing a community."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.communities import CommunityForm
from webapp.extensions import db_session
from webapp.models import Community, MembershipState
from webapp.services import campaigns as campaigns_service
from webapp.services import communities as service
from webapp.services.errors import DomainError, NotFound

from .errors import error_text

bp = Blueprint("communities", __name__)

FUNNEL = (
    MembershipState.PROSPECT,
    MembershipState.INVITED,
    MembershipState.INTERESTED,
    MembershipState.NOT_INTERESTED,
    MembershipState.APPLICANT,
    MembershipState.SELECTED,
    MembershipState.MEMBER,
)


def community_or_404(slug: str) -> Community:
    """The community if the signed-in coordinator manages it; 404 otherwise (W9)."""
    try:
        return service.community_for_user(db_session(), int(current_user.id), slug)
    except NotFound:
        abort(404)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    """The communities this coordinator manages."""
    items = service.communities_for_user(db_session(), int(current_user.id))
    return render_template("communities/index.html", communities=items)


def _data(form: CommunityForm) -> service.CommunityData:
    return service.CommunityData(
        name=form.name.data or "",
        slug=form.slug.data or "",
        language=form.language.data or "fr",
        domain=form.domain.data or "",
        description=form.description.data or "",
        benefits=form.benefit_list(),
        commitment=form.commitment.data or "",
        timezone=form.timezone.data or "America/Toronto",
        sender_name=form.sender_name.data or "",
        organization=form.organization.data or "",
        postal_address=form.postal_address.data or "",
        contact_email=form.contact_email.data or "",
        acknowledge_replies=bool(form.acknowledge_replies.data),
    )


@bp.route("/communities/new", methods=["GET", "POST"])
@login_required
def create() -> ResponseReturnValue:
    """Create a community; its creator becomes its coordinator."""
    form = CommunityForm()
    if form.validate_on_submit():
        session = db_session()
        try:
            service.create_community(session, _data(form), user_id=int(current_user.id))
        except DomainError as exc:
            form.slug.errors = [*form.slug.errors, error_text(exc)]
        else:
            session.commit()
            flash(_("Community created."), "success")
            return redirect(url_for("communities.show", slug=form.slug.data))
    return render_template("communities/form.html", form=form, community=None)


@bp.route("/communities/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str) -> ResponseReturnValue:
    """Edit what a community says about itself and who sends on its behalf."""
    community = community_or_404(slug)
    form = CommunityForm(obj=community)
    if not form.is_submitted():
        form.benefits.data = "\n".join(community.benefits or [])
    if form.validate_on_submit():
        session = db_session()
        try:
            service.update_community(session, community.id, _data(form))
        except DomainError as exc:
            form.slug.errors = [*form.slug.errors, error_text(exc)]
        else:
            session.commit()
            flash(_("Changes saved."), "success")
            return redirect(url_for("communities.show", slug=form.slug.data))
    return render_template("communities/form.html", form=form, community=community)


@bp.get("/communities/<slug>")
@login_required
def show(slug: str) -> ResponseReturnValue:
    """A community's overview: the funnel and its campaigns."""
    community = community_or_404(slug)
    session = db_session()
    counts: Counter[str] = Counter(service.funnel_counts(session, community.id))
    campaigns = campaigns_service.campaigns_of(session, community.id)
    widest = max([counts[s] for s in FUNNEL] + [1])
    return render_template(
        "communities/show.html",
        community=community,
        funnel=FUNNEL,
        counts=counts,
        widest=widest,
        campaigns=campaigns,
        total=sum(counts.values()),
    )
