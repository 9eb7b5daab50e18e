"""``amorce meetings …``: the founding meeting's poll and calendar, for scripts."""

from __future__ import annotations

import sys

import click

from webapp.cli_base import FORMATS, Context, domain_errors, emit, pass_ctx
from webapp.mail import envelope_address
from webapp.services import meetings, poll_scores


@click.group("meetings")
def meetings_group() -> None:
    """Availability polls and meetings."""


@meetings_group.command("poll")
@click.argument("poll_id", type=int)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
@domain_errors
def meetings_poll(ctx: Context, poll_id: int, fmt: str) -> None:
    """Per slot: its start (ISO 8601 with offset), yes, if need be, no, score, recommended."""
    with ctx.database.session() as session:
        columns, rows = poll_scores.poll_rows(session, poll_id)
    emit(rows, columns, fmt)


@meetings_group.command("ics")
@click.argument("meeting_id", type=int)
@pass_ctx
@domain_errors
def meetings_ics(ctx: Context, meeting_id: int) -> None:
    """The meeting's current .ics: a request with every invitee's answer, or a cancellation."""
    with ctx.database.session() as session:
        data = meetings.current_ics(
            session, meeting_id, organizer_email=envelope_address(ctx.config.mail_from)
        )
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
