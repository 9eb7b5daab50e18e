"""``amorce campaigns …``: compose, dry-run, launch, follow and steer campaigns."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.orm import Session

from webapp.cli_base import FORMATS, Context, domain_errors, emit, err, pass_ctx
from webapp.models import Campaign, CampaignKind, MembershipState, QuestionnaireKind, UnknownPolicy
from webapp.services import campaigns, communities
from webapp.services.reminders import zone

PROGRESS_STATES = ("sent", "failed", "bounced", "unknown", "suppressed", "skipped", "cancelled")


@click.group("campaigns")
def campaigns_group() -> None:
    """Campaigns and their sending."""


def _moment(value: str | None, timezone: str, option: str) -> datetime | None:
    """An ISO date and time; without an offset it is read in the community's time zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a date and time such as 2027-03-01T09:00", param_hint=option
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment


def _quiet_hours(value: str | None) -> tuple[int | None, int | None]:
    if not value:
        return None, None
    start, sep, end = value.partition("-")
    if not sep or not start.strip().isdigit() or not end.strip().isdigit():
        raise click.BadParameter(
            f"{value!r}: give two hours such as 21-8", param_hint="--quiet-hours"
        )
    return int(start), int(end)


def _audience_filter(
    responded: tuple[str, ...], not_responded: tuple[str, ...], answer: str | None
) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    for kind in responded:
        wanted.setdefault("responded", {})[kind] = True
    for kind in not_responded:
        wanted.setdefault("responded", {})[kind] = False
    if answer:
        kind, _, rest = answer.partition(":")
        question, sep, value = rest.partition("=")
        if not (kind and question and sep):
            raise click.BadParameter(
                f"{answer!r}: use KIND:QUESTION=VALUE, e.g. interest:role=teacher",
                param_hint="--answer",
            )
        wanted["answer"] = {"kind": kind, "question": question, "value": value}
    return wanted


QUESTIONNAIRES = click.Choice([k.value for k in QuestionnaireKind])


@campaigns_group.command("launch")
@click.argument("slug")
@click.option("--kind", type=click.Choice([k.value for k in CampaignKind]), required=True)
@click.option("--audience", type=click.Choice([s.value for s in MembershipState]))
@click.option("--responded", multiple=True, type=QUESTIONNAIRES, help="Only who answered it.")
@click.option("--not-responded", multiple=True, type=QUESTIONNAIRES, help="Only who did not.")
@click.option("--answer", help="Only whose answer matches, e.g. interest:role=teacher.")
@click.option("--start-at", help="Send later, e.g. 2027-03-01T09:00 (community's time zone).")
@click.option("--reminders", type=int, default=0, show_default=True, help="Up to N reminders.")
@click.option("--reminder-gap", type=int, default=3, show_default=True, help="Days between.")
@click.option("--deadline", help="Answers wanted by then; the last reminder is timed on it.")
@click.option("--quiet-hours", help="No reminder between these local hours, e.g. 21-8.")
@click.option(
    "--on-lost",
    type=click.Choice([p.value for p in UnknownPolicy]),
    default=UnknownPolicy.RESEND.value,
    show_default=True,
    help="A send whose outcome was lost (crash, drop after DATA): send again or hold.",
)
@click.option("--dry-run", is_flag=True, help="Say who would get it and who not, send nothing.")
@click.option("--wait", is_flag=True, help="Show progress until every message is handled.")
@pass_ctx
@domain_errors
def campaigns_launch(ctx: Context, slug: str, kind: str, **options: Any) -> None:
    """Create a campaign with the default texts and launch it; prints its id."""
    config = ctx.config
    quiet_start, quiet_end = _quiet_hours(options["quiet_hours"])
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        policy = campaigns.SendingPolicy(
            reminder_count=options["reminders"],
            reminder_gap_days=options["reminder_gap"],
            deadline_at=_moment(options["deadline"], community.timezone, "--deadline"),
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            unknown_policy=options["on_lost"],
            scheduled_at=_moment(options["start_at"], community.timezone, "--start-at"),
        )
        campaign_id = campaigns.create_campaign(
            session,
            community.id,
            kind=kind,
            audience_state=options["audience"],
            audience_filter=_audience_filter(
                options["responded"], options["not_responded"], options["answer"]
            ),
            policy=policy,
            name=kind,
        )
        missing = campaigns.missing_sender_identity(community)
        if options["dry_run"]:
            plan = campaigns.plan_audience(session, campaign_id)
            session.rollback()
            click.echo(f"Would send to {len(plan.recipients)} people (dry run: nothing sent).")
            for reason, emails in plan.excluded.items():
                click.echo(f"Left out ({reason}): {len(emails)}: {', '.join(emails[:20])}")
            return
        result = campaigns.launch_campaign(
            session, campaign_id, require_identity=not config.development
        )
    if missing:
        err.print(f"[yellow]Warning: sender identity incomplete ({', '.join(missing)}).[/]")
    for reason, emails in result.excluded.items():
        err.print(f"Left out ({reason}): {len(emails)}: {', '.join(emails[:10])}")
    if policy.scheduled_at is not None:
        err.print(f"Scheduled: sending starts at {policy.scheduled_at.isoformat()}.")
    queue_sending(ctx, campaign_id)
    click.echo(campaign_id)
    if options["wait"]:
        wait_for_campaign(ctx, campaign_id)


def queue_sending(ctx: Context, campaign_id: int) -> None:
    """Queue send tasks for what the campaign has pending; say so if the broker is down."""
    from workers.dispatch import queue_pending
    from workers.factory import make_celery

    with ctx.database.session() as session:
        queued = queue_pending(make_celery(ctx.config), session, campaign_id, ctx.config.batch_size)
    if not queued:
        err.print("[yellow]The broker is unreachable: sending starts when it is back.[/]")


def _detail(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {counts[state]}" for state in PROGRESS_STATES if counts[state])


def wait_for_campaign(ctx: Context, campaign_id: int, stall_seconds: float = 10.0) -> None:
    """A progress bar until nothing is due; sends from here if no worker moves."""
    from workers.campaigns import drain_with

    progress = Progress(
        TextColumn("Campaign {task.fields[id]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        console=err,
    )
    with progress:
        task = progress.add_task("send", total=None, id=campaign_id, detail="")
        last_done, last_change = -1, time.monotonic()
        while True:
            with ctx.database.session() as session:
                counts = campaigns.campaign_counts(session, campaign_id)
                campaigns.complete_if_done(session, campaign_id)
                running = campaigns.is_running(session, campaign_id)
            due = counts["pending"] - counts["waiting"]
            done = counts["total"] - counts["pending"] - counts["sending"]
            progress.update(
                task,
                total=counts["total"] - counts["waiting"],
                completed=done,
                detail=_detail(counts),
            )
            if due == 0 and counts["sending"] == 0:
                break
            if not running:
                progress.update(task, detail="paused")
                break
            if done != last_done:
                last_done, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > stall_seconds and due:
                progress.update(task, detail="no worker is sending: sending from here")
                drain_with(ctx.config, ctx.database, campaign_id)
                last_change = time.monotonic()
                continue
            time.sleep(0.5)
    with ctx.database.session() as session:
        counts = campaigns.campaign_counts(session, campaign_id)
    summary = ", ".join(f"{counts[state]} {state}" for state in PROGRESS_STATES[:5])
    click.echo(f"Campaign {campaign_id}: {summary}.")
    if counts["waiting"]:
        click.echo(f"{counts['waiting']} more (reminders or retries) are due later.")


def _steer(ctx: Context, campaign_id: int, action: Callable[[Session, int], Any]) -> Any:
    """Run one campaign service in its own transaction and return what it answered."""
    with ctx.database.session() as session:
        return action(session, campaign_id)


@campaigns_group.command("pause")
@click.argument("campaign_id", type=int)
@pass_ctx
@domain_errors
def campaigns_pause(ctx: Context, campaign_id: int) -> None:
    """Stop sending after the messages in flight."""
    if not _steer(ctx, campaign_id, campaigns.pause_campaign):
        raise click.ClickException(f"Campaign {campaign_id} is not sending: nothing to pause.")
    click.echo(f"Campaign {campaign_id} paused.")


@campaigns_group.command("resume")
@click.argument("campaign_id", type=int)
@pass_ctx
@domain_errors
def campaigns_resume(ctx: Context, campaign_id: int) -> None:
    """Send again from where the campaign stopped, to the audience fixed at launch."""
    if not _steer(ctx, campaign_id, campaigns.resume_campaign):
        raise click.ClickException(f"Campaign {campaign_id} is not paused: nothing to resume.")
    queue_sending(ctx, campaign_id)
    click.echo(f"Campaign {campaign_id} resumed.")


@campaigns_group.command("cancel")
@click.argument("campaign_id", type=int)
@pass_ctx
@domain_errors
def campaigns_cancel(ctx: Context, campaign_id: int) -> None:
    """Stop for good: nothing more is sent (messages in flight finish)."""
    cancelled = _steer(ctx, campaign_id, campaigns.cancel_campaign)
    if cancelled is None:
        raise click.ClickException(f"Campaign {campaign_id} has already ended.")
    click.echo(f"Campaign {campaign_id} cancelled: {cancelled} messages will not be sent.")


@campaigns_group.command("resend-lost")
@click.argument("campaign_id", type=int)
@pass_ctx
@domain_errors
def campaigns_resend_lost(ctx: Context, campaign_id: int) -> None:
    """Send again the messages whose outcome was lost (held by ``--on-lost hold``)."""
    count = _steer(ctx, campaign_id, campaigns.resend_unknown)
    if count:
        queue_sending(ctx, campaign_id)
    click.echo(f"Campaign {campaign_id}: {count} messages will be sent again.")


@campaigns_group.command("status")
@click.argument("campaign_id", type=int)
@click.option("--format", "fmt", type=FORMATS, default="table")
@pass_ctx
@domain_errors
def campaigns_status(ctx: Context, campaign_id: int, fmt: str) -> None:
    """Counts per state of a campaign's messages."""
    with ctx.database.session() as session:
        counts = campaigns.campaign_counts(session, campaign_id)
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        row = {
            "id": campaign_id,
            "kind": campaign.kind,
            "state": campaign.state,
            "paused_reason": campaign.paused_reason,
            **counts,
        }
    columns = [
        "id",
        "kind",
        "state",
        "total",
        *campaigns.COUNT_STATES,
        "waiting",
        "resent",
        "answered",
    ]
    if row["paused_reason"]:
        columns.insert(3, "paused_reason")
    if fmt == "table":  # one line per figure: readable in any terminal
        emit([{"": column, "value": row[column]} for column in columns], ["", "value"], fmt)
    else:
        emit([row], columns, fmt)
