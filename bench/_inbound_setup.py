"""The inbound bench's setup: the stack's environment, a campaign marked sent, the code measured."""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from _inbound_mail import Original, Recipient
from _sink import SinkProcess
from _stack import REPO, BenchError, code_version
from sqlalchemy import String, cast, literal, select, update

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import (
    Community,
    Delivery,
    DeliveryState,
    Membership,
    MembershipState,
    Person,
    utcnow,
)
from webapp.services.campaigns import create_campaign, launch_campaign
from webapp.services.messages import preview


def stack_env(
    args: argparse.Namespace, url: str, sink: SinkProcess, workdir: Path
) -> dict[str, str]:
    """The environment of the worker and the receiver (and the bench's own Config)."""
    env = {key: v for key, v in os.environ.items() if not key.startswith("AMORCE_")}
    env.update(
        AMORCE_DATABASE_URL=url,
        AMORCE_BROKER_URL=args.redis_url,
        AMORCE_SMTP_URL=sink.url,
        AMORCE_SECRET_KEY=secrets.token_hex(20),
        AMORCE_REPLY_DOMAIN=args.reply_domain,
        AMORCE_MAIL_FROM="Amorce <amorce@bench.example.org>",
        AMORCE_BASE_URL="https://amorce.bench.example.org",
        AMORCE_INSTANCE_PATH=str(workdir / "instance"),
        AMORCE_ENV="production",
    )
    return env


def sent_campaign(
    database: Database, config: Config, community_id: int, count: int, acknowledge: bool
) -> tuple[list[Recipient], dict[str, Original]]:
    """Launch a recruitment campaign to the community and mark it sent; the first ``count``
    deliveries and the email each language received."""
    with database.session() as session:
        if acknowledge:
            session.execute(
                update(Community)
                .where(Community.id == community_id)
                .values(acknowledge_replies=True)
            )
        campaign_id = create_campaign(session, community_id, name="inbound bench")
    with database.session() as session:
        launch_campaign(session, campaign_id, actor="bench")
    domain = config.reply_domain
    with database.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.campaign_id == campaign_id)
            .values(
                state=DeliveryState.SENT,
                sent_at=utcnow(),
                message_id=literal("<bench.") + cast(Delivery.id, String) + f"@{domain}>",
            )
        )
        session.execute(
            update(Membership)
            .where(
                Membership.community_id == community_id,
                Membership.state == MembershipState.PROSPECT,
            )
            .values(state=MembershipState.INVITED)
        )
    with database.session() as session:
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.message_id,
                Person.email,
                Person.first_name,
                Person.last_name,
                Person.language,
                Person.organization,
            )
            .join(Person, Person.id == Delivery.person_id)
            .where(Delivery.campaign_id == campaign_id)
            .order_by(Delivery.id)
            .limit(count)
        ).all()
        community = session.get_one(Community, community_id)
        sender = f"{community.sender_name} <amorce@bench.example.org>"
        renderer = EmailRenderer()
        originals = {}
        for language in ("fr", "en"):
            email = preview(session, config, renderer, campaign_id, locale=language)
            originals[language] = Original(email.subject, email.text, email.html, sender)
    recipients = [
        Recipient(
            r.id, r.email, r.first_name, r.last_name, r.language, r.organization or "", r.message_id
        )
        for r in rows
    ]
    if len(recipients) != count:
        raise BenchError(f"the campaign has {len(recipients)} deliveries, not {count}")
    return recipients, originals


def engine_version() -> dict[str, Any]:
    """Which pipeline was measured: the commit and a digest of the (maybe uncommitted) code."""
    paths = sorted((REPO / "webapp" / "services" / "inbound").glob("*.py"))
    paths += sorted((REPO / "webapp" / "receivers").glob("*.py"))
    paths.append(REPO / "workers" / "inbound.py")
    return code_version(paths, "inbound_sha256")


def commit_latency_ms(database: Database, count: int = 50) -> float:
    """The median time of a one-row commit on this database: what each fsync'd commit costs
    here (the cluster and its disk are shared with whoever else runs)."""
    table = f"bench_commit_probe_{os.getpid()}"
    timings = []
    with database.engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (x integer)")
        connection.commit()
        try:
            for _ in range(count):
                began = time.perf_counter()
                connection.exec_driver_sql(f"INSERT INTO {table} VALUES (1)")
                connection.commit()
                timings.append(time.perf_counter() - began)
        finally:
            connection.exec_driver_sql(f"DROP TABLE {table}")
            connection.commit()
    return round(1000 * statistics.median(timings), 3)
