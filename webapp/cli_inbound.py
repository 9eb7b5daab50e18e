"""``amorce inbound …``: receive replies (SMTP/LMTP, IMAP) and list what was received."""

from __future__ import annotations

import signal
import threading

import click

from webapp.cli_base import FORMATS, Context, domain_errors, emit, err, pass_ctx
from webapp.services import communities
from webapp.services.inbound import pipeline


@click.group("inbound")
def inbound_group() -> None:
    """Replies, bounces and other mail that comes back."""


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@inbound_group.command("smtp")
@click.option("--host", default=None, help="Address to listen on (AMORCE_INBOUND_HOST).")
@click.option("--port", default=None, type=int, help="Port to listen on (AMORCE_INBOUND_PORT).")
@click.option("--lmtp", is_flag=True, help="Speak LMTP (for Postfix's lmtp transport).")
@pass_ctx
def inbound_smtp(ctx: Context, host: str | None, port: int | None, lmtp: bool) -> None:
    """Receive replies and bounces from your mail server, for AMORCE_REPLY_DOMAIN only."""
    from webapp.receivers import flush_drain_requests
    from webapp.receivers.smtp import start_receiver
    from workers.factory import make_celery

    config = ctx.config
    if not config.reply_domain:
        err.print(
            "[yellow]AMORCE_REPLY_DOMAIN is not set: campaigns carry no signed reply address, "
            "so this receiver will refuse every recipient.[/yellow]"
        )
    try:
        receiver = start_receiver(
            config, ctx.database, make_celery(config), host=host, port=port, lmtp=lmtp
        )
    except OSError as exc:
        raise click.ClickException(f"Cannot listen there: {exc}") from exc
    click.echo(
        f"Receiving {'LMTP' if lmtp else 'SMTP'} for @{config.reply_domain or '(nothing)'} "
        f"on {receiver.hostname}:{receiver.port} — Ctrl+C to stop."
    )
    try:
        _wait_for_signal()
    finally:
        receiver.stop()
        flush_drain_requests()


@inbound_group.command("imap")
@click.option("--once", is_flag=True, help="Poll once and exit (for cron).")
@pass_ctx
def inbound_imap(ctx: Context, once: bool) -> None:
    """Poll the mailbox of AMORCE_IMAP_URL for replies and bounces."""
    from webapp.config import ConfigError
    from webapp.receivers import flush_drain_requests, imap
    from workers.factory import make_celery

    config = ctx.config
    if not config.imap_url:
        raise click.ClickException("Set AMORCE_IMAP_URL, e.g. imaps://user:password@host/INBOX")
    celery = make_celery(config)
    try:
        if once:
            stored = imap.poll_once(config, ctx.database, celery)
            flush_drain_requests()
            click.echo(f"{stored} new message(s) stored.")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        click.echo(f"Polling every {config.imap_poll_seconds:g} s — Ctrl+C to stop.")
        imap.run(config, ctx.database, celery, stop)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@inbound_group.command("list")
@click.argument("slug")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_ctx
@domain_errors
def inbound_list(ctx: Context, slug: str, limit: int, fmt: str) -> None:
    """What a community received and what Amorce read in it, newest first."""
    with ctx.database.session() as session:
        community = communities.get_community_by_slug(session, slug)
        rows = pipeline.list_messages(session, community.id, limit=limit)
    emit(rows, pipeline.LIST_COLUMNS, fmt)
