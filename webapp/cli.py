"""The ``amorce`` command line: a thin adapter over the services."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from webapp.config import Config, ConfigError
from webapp.db import Database
from webapp.mail import envelope_address
from webapp.migrate import upgrade
from webapp.models import CampaignKind, MembershipState, Role
from webapp.services import campaigns, communities, imports, people, users
from webapp.services.errors import DomainError

FORMATS = click.Choice(["table", "csv", "json"])
err = Console(stderr=True)


class Context:
    """Settings and database, opened on first use by each command."""

    def __init__(self) -> None:
        self._config: Config | None = None
        self._database: Database | None = None

    @property
    def config(self) -> Config:
        """Settings from the environment; a bad one stops the command with its message."""
        if self._config is None:
            try:
                self._config = Config.from_env()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from exc
            self._config.instance_path.mkdir(parents=True, exist_ok=True)
        return self._config

    @property
    def database(self) -> Database:
        """The database, migrated when it is the embedded SQLite default."""
        if self._database is None:
            self._database = Database(self.config.database_url)
            if self._database.is_sqlite:
                upgrade(self._database.engine)
        return self._database


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    """Print rows as a table, CSV or JSON."""
    if fmt == "json":
        click.echo(json.dumps(list(rows), ensure_ascii=False, indent=2, default=str))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(str(row.get(c, "")) for c in columns))
        Console().print(table)


def domain_errors(func: Any) -> Any:
    """Turn a domain error into a clean message and exit code 1."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group()
def main() -> None:
    """Amorce: launch a community of practice and keep it alive."""


# -- database and accounts ----------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply every migration."""
    database = Database(ctx.config.database_url)
    upgrade(database.engine)
    click.echo("Database is up to date.")


@main.group("users")
def users_group() -> None:
    """Coordinator accounts."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.COORDINATOR.value)
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
@domain_errors
def users_create(ctx: Context, email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create an account (the password is asked for, or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with ctx.database.session() as session:
        user_id = users.create_user(session, email, password, role=role, name=name)
    click.echo(f"Created {role} {email} (id {user_id}).")


# -- communities and people ---------------------------------------------------------------


@main.group("communities")
def communities_group() -> None:
    """Communities of practice."""


@communities_group.command("create")
@click.argument("name")
@click.option("--slug", required=True, help="Short name used in links, e.g. cop-pedagogy.")
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr")
@click.option("--domain", default="", help="The domain of practice.")
@click.option("--description", default="")
@click.option("--benefit", "benefits", multiple=True, help="A benefit of taking part (repeat).")
@click.option("--timezone", default="America/Toronto")
@click.option("--sender-name", default="")
@click.option("--organization", default="")
@click.option("--postal-address", default="")
@click.option("--contact-email", default="")
@click.option("--coordinator", default="", help="Email of an account that will manage it.")
@pass_ctx
@domain_errors
def communities_create(ctx: Context, name: str, slug: str, **options: Any) -> None:
    """Create a community."""
    config = ctx.config
    coordinator = options.pop("coordinator")
    data = communities.CommunityData(
        name=name,
        slug=slug,
        language=options["language"],
        domain=options["domain"],
        description=options["description"],
        benefits=list(options["benefits"]),
        timezone=options["timezone"],
        sender_name=options["sender_name"] or name,
        organization=options["organization"] or config.organization,
        postal_address=options["postal_address"] or config.postal_address,
        contact_email=options["contact_email"]
        or config.contact_email
        or envelope_address(config.mail_from),
    )
    with ctx.database.session() as session:
        user_id = None
        if coordinator:
            from sqlalchemy import select

            from webapp.models import User

            user_id = session.scalar(select(User.id).where(User.email == coordinator.lower()))
            if user_id is None:
                raise DomainError(f"No account has the email {coordinator}.")
        community_id = communities.create_community(session, data, user_id=user_id)
        community = session.get(communities.Community, community_id)
        assert community is not None
        missing = campaigns.missing_sender_identity(community)
    click.echo(f"Created community {slug} (id {community_id}).")
    if missing:
        err.print(
            f"[yellow]Sender identity incomplete ({', '.join(missing)}): every email must carry "
            "it (CASL). Set it with the options above, AMORCE_ORGANIZATION / "
            "AMORCE_POSTAL_ADDRESS / AMORCE_CONTACT_EMAIL, or the community's edit page.[/]"
        )


@main.group("people")
def people_group() -> None:
    """Prospects and members."""


@people_group.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", type=click.Choice(["network", "list", "referral"]), required=True)
@click.option("--consent", type=click.Choice(["express", "implied"]), required=True)
@click.option("--consent-note", default="", help="Where consent comes from (needed if implied).")
@click.option("--all-or-nothing", is_flag=True, help="Import nothing if any row is wrong.")
@pass_ctx
@domain_errors
def people_import(
    ctx: Context,
    slug: str,
    file: Path,
    source: str,
    consent: str,
    consent_note: str,
    all_or_nothing: bool,
) -> None:
    """Import prospects from a CSV (columns: email, names, language, organization, timezone)."""
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"{file} is not UTF-8 (byte {exc.start}): save it as CSV UTF-8 and try again."
        ) from exc
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        report = imports.import_people(
            session,
            community.id,
            text,
            source=source,
            consent=consent,
            consent_note=consent_note,
            filename=file.name,
            all_or_nothing=all_or_nothing,
        )
    for problem in report.problems:
        err.print(f"[red]{file.name}: {problem}[/]", highlight=False)
    for address in report.suppressed:
        err.print(f"[yellow]{address} is on the suppression list: kept, never mailed.[/]")
    if report.applied:
        click.echo(
            f"Imported {report.good_rows} people into {slug}: {report.created} new, "
            f"{report.merged + report.already_members} merged with people already known, "
            f"{report.duplicates_in_file} duplicate lines merged, {len(report.problems)} "
            "problems."
        )
    else:
        click.echo("Nothing was imported.")
    if report.problems:
        sys.exit(1)


@people_group.command("list")
@click.argument("slug")
@click.option("--state", type=click.Choice([s.value for s in MembershipState]))
@click.option("--format", "fmt", type=FORMATS, default="table")
@pass_ctx
@domain_errors
def people_list(ctx: Context, slug: str, state: str | None, fmt: str) -> None:
    """Everyone in a community with their state, source, consent and suppression."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        rows = [r.as_dict() for r in people.list_people(session, community.id, state=state)]
    emit(rows, people.LIST_COLUMNS, fmt)


# -- campaigns ----------------------------------------------------------------------------


@main.group("campaigns")
def campaigns_group() -> None:
    """Campaigns and their sending."""


@campaigns_group.command("launch")
@click.argument("slug")
@click.option("--kind", type=click.Choice([k.value for k in CampaignKind]), required=True)
@click.option("--audience", type=click.Choice([s.value for s in MembershipState]))
@click.option("--wait", is_flag=True, help="Show progress until every message is handled.")
@pass_ctx
@domain_errors
def campaigns_launch(ctx: Context, slug: str, kind: str, audience: str | None, wait: bool) -> None:
    """Create a campaign with the default texts and launch it; prints its id."""

    config = ctx.config
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        campaign_id = campaigns.create_campaign(
            session, community.id, kind=kind, audience_state=audience, name=kind
        )
        missing = campaigns.missing_sender_identity(community)
        result = campaigns.launch_campaign(
            session, campaign_id, require_identity=not config.development
        )
    if missing:
        err.print(f"[yellow]Warning: sender identity incomplete ({', '.join(missing)}).[/]")
    for reason, emails in result.excluded.items():
        err.print(f"Left out ({reason}): {len(emails)}: {', '.join(emails[:10])}")
    queue_sending(ctx, campaign_id)
    click.echo(campaign_id)
    if wait:
        wait_for_campaign(ctx, campaign_id)


def queue_sending(ctx: Context, campaign_id: int) -> None:
    """Queue send tasks for what the campaign has pending; say so if the broker is down."""
    from workers.dispatch import queue_pending
    from workers.factory import make_celery

    with ctx.database.session() as session:
        queued = queue_pending(make_celery(ctx.config), session, campaign_id, ctx.config.batch_size)
    if not queued:
        err.print("[yellow]The broker is unreachable: sending starts when it is back.[/]")


def wait_for_campaign(ctx: Context, campaign_id: int, stall_seconds: float = 10.0) -> None:
    """A progress bar until nothing is pending; sends from here if no worker moves."""
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
            done = counts["total"] - counts["pending"] - counts["sending"]
            detail = ", ".join(
                f"{k} {counts[k]}"
                for k in ("sent", "failed", "bounced", "unknown", "suppressed")
                if counts[k]
            )
            progress.update(task, total=counts["total"], completed=done, detail=detail)
            if counts["pending"] == 0 and counts["sending"] == 0:
                break
            with ctx.database.session() as session:
                if not campaigns.is_running(session, campaign_id):
                    progress.update(task, detail="paused")
                    break
            if done != last_done:
                last_done, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > stall_seconds and counts["pending"]:
                progress.update(task, detail="no worker is sending: sending from here")
                drain_with(ctx.config, ctx.database, campaign_id)
                last_change = time.monotonic()
                continue
            time.sleep(0.5)
    with ctx.database.session() as session:
        counts = campaigns.campaign_counts(session, campaign_id)
    click.echo(
        f"Campaign {campaign_id}: {counts['sent']} sent, {counts['failed']} failed, "
        f"{counts['bounced']} bounced, {counts['unknown']} unknown, "
        f"{counts['suppressed']} suppressed."
    )


@campaigns_group.command("pause")
@click.argument("campaign_id", type=int)
@pass_ctx
@domain_errors
def campaigns_pause(ctx: Context, campaign_id: int) -> None:
    """Stop sending after the messages in flight."""
    with ctx.database.session() as session:
        changed = campaigns.pause_campaign(session, campaign_id)
    if not changed:
        raise click.ClickException(f"Campaign {campaign_id} is not sending: nothing to pause.")
    click.echo(f"Campaign {campaign_id} paused.")


@campaigns_group.command("resume")
@click.argument("campaign_id", type=int)
@pass_ctx
@domain_errors
def campaigns_resume(ctx: Context, campaign_id: int) -> None:
    """Send again from where the campaign stopped, to the audience fixed at launch."""
    with ctx.database.session() as session:
        changed = campaigns.resume_campaign(session, campaign_id)
    if not changed:
        raise click.ClickException(f"Campaign {campaign_id} is not paused: nothing to resume.")
    queue_sending(ctx, campaign_id)
    click.echo(f"Campaign {campaign_id} resumed.")


@campaigns_group.command("status")
@click.argument("campaign_id", type=int)
@click.option("--format", "fmt", type=FORMATS, default="table")
@pass_ctx
@domain_errors
def campaigns_status(ctx: Context, campaign_id: int, fmt: str) -> None:
    """Counts per state of a campaign's messages."""
    with ctx.database.session() as session:
        counts = campaigns.campaign_counts(session, campaign_id)
        campaign = session.get(campaigns.Campaign, campaign_id)
        assert campaign is not None
        row = {"id": campaign_id, "kind": campaign.kind, "state": campaign.state, **counts}
    columns = ["id", "kind", "state", "total", *campaigns.COUNT_STATES, "answered"]
    emit([row], columns, fmt)


# -- processes ----------------------------------------------------------------------------


def celery_command(args: Iterable[str]) -> list[str]:
    """The Celery command line for our entry module."""
    return [sys.executable, "-m", "celery", "-A", "workers.app", *args]


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """Run a Celery worker (extra arguments go to Celery)."""
    import os

    cmd = celery_command(["worker", "--loglevel=INFO", *args])
    os.execv(cmd[0], cmd)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def beat(args: tuple[str, ...]) -> None:
    """Run Celery beat, the scheduler of the sweeps (run exactly one)."""
    import os

    cmd = celery_command(["beat", "--loglevel=INFO", *args])
    os.execv(cmd[0], cmd)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Seed a community, prospects and a coordinator login.")
@pass_ctx
def up(ctx: Context, host: str, port: int, demo: bool) -> None:
    """Run everything on this machine: web, worker, beat and (by default) a mail catcher."""
    from webapp.launcher import run_stack

    run_stack(ctx.config, host=host, port=port, demo=demo)


if __name__ == "__main__":  # pragma: no cover
    main()
