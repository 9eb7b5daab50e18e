"""What the poll and meeting pages share: who acts, where refusals show, the moments in words,
a poll's state, and the draft campaign about a poll or a meeting."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.extensions import db_session
from webapp.i18n import reader_locale
from webapp.models import Campaign, CampaignState, Community, Poll, PollState
from webapp.services import campaigns, polls
from webapp.services.errors import DomainError
from webapp.services.messages import moment_text

from .errors import error_text

POLL_STATES = {"open": _l("Open"), "closed": _l("Closed"), "past": _l("Deadline passed")}
# Which field a service's refusal is about (its msgid); anything else goes to the first field.
FIELD_OF = {
    "A slot lasts from 15 minutes to 12 hours.": "duration",
    "A meeting lasts from 15 minutes to 12 hours.": "duration",
    "The place must fit on one line, in at most %(count)d characters.": "place",
    "The place fits on one line, at most 300 characters.": "place",
    "A capacity is a whole number, at least 1; leave it empty for none.": "capacity",
    "A room holds at least one person.": "capacity",
    "%(time)s does not exist in %(zone)s: the clocks go forward at that time. "
    "Choose another time.": "start",
    "Give the time the meeting starts on that day.": "start",
    "Unknown time zone %(zone)s.": "timezone",
    "The title must fit on one line, in at most %(count)d characters.": "title",
    "The meeting needs a title on one line, at most 200 characters.": "title",
    "The note must be at most %(count)d characters long.": "note",
    "The deadline must be in the future.": "deadline",
    "A key person's weight is from 1 to 10.": "weight",
    "At most 5 reminders, each between 1 minute and 60 days before the meeting.": "other",
}


def actor() -> str:
    """The signed-in coordinator, as the audit log names them."""
    return f"user:{current_user.id}"


def refuse(form: FlaskForm, error: DomainError, default: str) -> None:
    """Show a service's refusal next to the field it is about."""
    name = FIELD_OF.get(error.message, default)
    target = form[name] if name in form else form[default]
    target.errors = [*target.errors, error_text(error)]


def back_to(endpoint: str, slug: str, anchor: str | None = None, **ids: int) -> ResponseReturnValue:
    """See other: the page ``endpoint`` of the community, at ``anchor``."""
    values: dict[str, Any] = {"slug": slug, "_anchor": anchor, **ids}
    return redirect(url_for(endpoint, **values), code=303)


def moment(value: datetime, zone_name: str) -> str:
    """A moment in a zone, the zone written out, in the reader's language."""
    return moment_text(value, ZoneInfo(zone_name), reader_locale())


def poll_state(poll: Poll) -> str:
    """Open, closed, or open with its deadline passed."""
    if poll.state == PollState.OPEN and not polls.is_open(poll):
        return "past"
    return poll.state


def campaigns_about(session: Session, **about: Any) -> list[Campaign]:
    """The campaigns about a poll or a meeting (``poll_id=`` or ``meeting_id=``), newest first."""
    query = select(Campaign).order_by(Campaign.id.desc())
    for column, value in about.items():
        query = query.where(getattr(Campaign, column) == value)
    return list(session.scalars(query))


def prepare_campaign(
    community: Community, kind: str, name: str, back: str, **about: Any
) -> ResponseReturnValue:
    """The draft campaign of this kind about the poll or the meeting (``poll_id=`` or
    ``meeting_id=``): the one already prepared, else a new one; then its page, which sends it."""
    session = db_session()
    campaign_id = next(
        (
            c.id
            for c in campaigns_about(session, **about)
            if c.kind == kind and c.state == CampaignState.DRAFT
        ),
        None,
    )
    if campaign_id is None:
        try:
            campaign_id = campaigns.create_campaign(
                session,
                community.id,
                kind=kind,
                name=name,
                user_id=int(current_user.id),
                poll_id=about.get("poll_id"),
                meeting_id=about.get("meeting_id"),
            )
        except DomainError as exc:
            session.rollback()
            flash(error_text(exc), "error")
            return redirect(back, code=303)
        session.commit()
    flash(_("Check the email, send yourself a test, then launch it."), "success")
    return redirect(
        url_for("campaigns.show", slug=community.slug, campaign_id=campaign_id), code=303
    )
