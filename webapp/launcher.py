"""``amorce up``: the whole stack on one machine, stopped together by Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Any

import click
from werkzeug.serving import run_simple

from webapp.config import DEFAULT_CATCHER_PORT, Config
from webapp.db import Database
from webapp.migrate import upgrade

DEV_REPLY_DOMAIN = "reply.localhost"


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _start_receiver(config: Config) -> Any:
    """The inbound SMTP receiver on AMORCE_INBOUND_HOST:PORT, or None (with a warning) when
    there is no reply domain or the port is taken."""
    from webapp.receivers.smtp import start_receiver
    from workers.factory import make_celery

    if not config.reply_domain:
        return None
    if not _port_free(config.inbound_host, config.inbound_port):
        click.echo(
            f"Port {config.inbound_port} is busy: replies by SMTP are not received "
            "(set AMORCE_INBOUND_PORT to another port)."
        )
        return None
    receiver = start_receiver(config, Database(config.database_url), make_celery(config))
    click.echo(
        f"Replies to @{config.reply_domain} are received on "
        f"{config.inbound_host}:{config.inbound_port} (SMTP)."
    )
    return receiver


def _declare_queue(config: Config) -> None:
    """The SQL broker's queue, made once before the worker, the beat and the web process start:
    each would otherwise make it on first use, and two at the same moment break the unique
    name (the loser dies)."""
    from workers.factory import QUEUE, make_celery

    with make_celery(config).connection_for_write() as connection:
        connection.default_channel.queue_declare(queue=QUEUE)


def _stop_children(children: list[subprocess.Popen[Any]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def run_stack(config: Config, *, host: str, port: int, demo: bool) -> None:
    """Migrate, optionally seed, start catcher, worker and beat, then serve the pages."""
    from webapp import create_app
    from webapp.catcher import start_catcher

    env_smtp = os.environ.get("AMORCE_SMTP_URL")
    base_url = os.environ.get("AMORCE_BASE_URL") or f"http://{host}:{port}"
    config = config.with_overrides(base_url=base_url)
    if not env_smtp and not config.reply_domain:
        # Everything stays on this machine: sign reply addresses so that answering from the
        # development mailbox goes through the inbound pipeline like a real reply.
        config = config.with_overrides(reply_domain=DEV_REPLY_DOMAIN)
    if not _port_free(host, port):
        raise click.ClickException(f"Port {port} is busy: choose another with --port.")
    database = Database(config.database_url)
    upgrade(database.engine)
    login = None
    if demo:
        from webapp.services.demo import seed_demo

        with database.session() as session:
            login = seed_demo(session)
    database.dispose()

    catcher = None
    if not env_smtp:
        if not _port_free("127.0.0.1", DEFAULT_CATCHER_PORT):
            raise click.ClickException(
                f"Port {DEFAULT_CATCHER_PORT} (the mail catcher) is busy: stop what uses it, "
                "or set AMORCE_SMTP_URL to a mail server."
            )
        catcher = start_catcher(config.mailbox_path, port=DEFAULT_CATCHER_PORT)
    child_env = dict(os.environ)
    child_env.update(
        AMORCE_INSTANCE_PATH=str(config.instance_path),
        AMORCE_BASE_URL=config.base_url,
        AMORCE_SMTP_URL=config.smtp_url,
        AMORCE_DATABASE_URL=config.database_url,
        AMORCE_BROKER_URL=config.broker_url,
        AMORCE_REPLY_DOMAIN=config.reply_domain,
    )
    if config.broker_url.startswith("sqla+"):
        pool = ["--pool=solo"]
        _declare_queue(config)
    else:
        pool = ["--concurrency=2"]
    base = [sys.executable, "-m", "celery", "-A", "workers.app"]
    children: list[subprocess.Popen[Any]] = [
        subprocess.Popen([*base, "worker", "--loglevel=WARNING", *pool], env=child_env),
        subprocess.Popen(
            [
                *base,
                "beat",
                "--loglevel=WARNING",
                f"--schedule={config.instance_path / 'celerybeat-schedule'}",
            ],
            env=child_env,
        ),
    ]
    try:
        receiver = _start_receiver(config)
    except BaseException:
        _stop_children(children)
        if catcher is not None:
            catcher.stop()
        raise
    click.echo(f"Amorce is running at {config.base_url}/")
    if catcher is not None:
        click.echo(f"Emails land in the development mailbox: {config.base_url}/dev/mailbox/")
    if login is not None:
        click.echo(f"Demo login: {login.email} / {login.password}")
        click.echo(f"Demo community: {config.base_url}/communities/{login.slug}")
    click.echo("Press Ctrl-C to stop.")
    app = create_app(config)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_children(children)
        if catcher is not None:
            catcher.stop()
        if receiver is not None:
            receiver.stop()
        click.echo("Amorce stopped.")
