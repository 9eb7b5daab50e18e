"""``amorce activities …``: the community's rhythm, for scripts."""

from __future__ import annotations

import json

import click

from webapp.cli_base import FORMATS, Context, domain_errors, emit, pass_ctx
from webapp.services import activities, activity_series, communities, meetings

COLUMNS = ("rrule", "timezone", "expected_attendance", "activity_types", "left_out")


@click.group("activities")
def activities_group() -> None:
    """Recurring activities."""


@activities_group.command("propose")
@click.argument("slug")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
@domain_errors
def activities_propose(ctx: Context, slug: str, fmt: str) -> None:
    """The rhythm the members' needs and availability point to: its RRULE, time zone, expected
    attendance, activity types in rotation order and who is left out."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        rhythm = activities.proposed_rhythm(session, community.id)
    row = {
        "rrule": rhythm.rrule,
        "timezone": rhythm.timezone,
        "expected_attendance": rhythm.expected_attendance,
        "activity_types": rhythm.activity_types,
        "left_out": rhythm.left_out,
    }
    if fmt == "json":
        click.echo(json.dumps(row, ensure_ascii=False, indent=2))
        return
    flat = {k: " ".join(v) if isinstance(v, list) else v for k, v in row.items()}
    emit([flat], COLUMNS, fmt)


OCCURRENCE_COLUMNS = ("series", "starts_at", "activity_type", "topic", "state", "accepted")


@activities_group.command("occurrences")
@click.argument("slug")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
@domain_errors
def activities_occurrences(ctx: Context, slug: str, fmt: str) -> None:
    """The occurrences of the community's series: when (in the series' zone, ISO 8601), the
    type of activity, the topic, scheduled or cancelled, and how many said yes."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        rows = [
            {
                "series": series.id,
                "starts_at": meetings.meeting_start(meeting),
                "activity_type": meeting.activity_type,
                "topic": meeting.topic,
                "state": meeting.state,
                "accepted": sum(
                    1 for i in meetings.invitees(session, meeting.id) if i.status == "accepted"
                ),
            }
            for series in activity_series.series_of(session, community.id)
            for meeting in activity_series.occurrences(session, series.id)
        ]
    emit(rows, OCCURRENCE_COLUMNS, fmt)
