"""The ``amorce`` command line: a thin adapter over the services."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from webapp.cli_activities import activities_group
from webapp.cli_applications import applications_group
from webapp.cli_base import FORMATS, Context, domain_errors, emit, err, pass_ctx
from webapp.cli_campaigns import campaigns_group
from webapp.cli_charters import charter_group
from webapp.cli_inbound import inbound_group
from webapp.cli_meetings import meetings_group
from webapp.db import Database
from webapp.mail import envelope_address
from webapp.migrate import upgrade
from webapp.models import MembershipState, Role
from webapp.services import campaigns, communities, imports, people, users
from webapp.services.errors import DomainError


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
@click.option("--commitment", default="", help="What taking part asks: time and rhythm.")
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
        commitment=options["commitment"],
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


main.add_command(campaigns_group)
main.add_command(inbound_group)
main.add_command(applications_group)
main.add_command(meetings_group)
main.add_command(charter_group)
main.add_command(activities_group)


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
