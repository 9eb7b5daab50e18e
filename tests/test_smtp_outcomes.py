"""What each SMTP answer does to a recipient (RELIABILITY S7): retry, bounce, unknown, sent."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from builders import community_with_people
from sink import ACTIVE_PORTS, DROP, Sink
from sqlalchemy import select

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import Campaign, Delivery, Person, utcnow
from webapp.services import campaigns, communities, deliveries, imports, people, suppressions
from workers.campaigns import drain_with

CSV = """email,first_name
ok@example.org,Ok
soft@soft.test,Soft
hard@hard.test,Hard
drop@drop.test,Drop
"""


def launch(database: Database, unknown_policy: str = "resend") -> tuple[int, int]:
    """A community with the four prospects above and a launched recruitment campaign."""
    with database.session() as session:
        community_id = community_with_people(session, CSV)
        campaign_id = campaigns.create_campaign(session, community_id)
        session.get_one(Campaign, campaign_id).unknown_policy = unknown_policy
        campaigns.launch_campaign(session, campaign_id)
    return community_id, campaign_id


def states(database: Database, campaign_id: int) -> dict[str, tuple[str, int]]:
    with database.session() as session:
        rows = session.execute(
            select(Person.email, Delivery.state, Delivery.attempts)
            .join(Delivery, Delivery.person_id == Person.id)
            .where(Delivery.campaign_id == campaign_id)
        )
        return {email: (state, attempts) for email, state, attempts in rows}


def test_soft_hard_and_dropped_recipients(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    smtp_sink.reply_for["soft.test"] = ["421 4.7.0 try again later"] * 3
    smtp_sink.reply_for["hard.test"] = "550 5.1.1 no such user"
    smtp_sink.reply_for["drop.test"] = DROP
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    community_id, campaign_id = launch(database, unknown_policy="hold")
    renderer = EmailRenderer()
    while drain_with(settings, database, campaign_id, renderer):
        pass
    after_first = states(database, campaign_id)
    assert after_first["ok@example.org"] == ("sent", 1)
    assert after_first["soft@soft.test"] == ("pending", 1)
    assert after_first["hard@hard.test"][0] == "bounced"
    assert after_first["drop@drop.test"][0] == "unknown"
    assert len(smtp_sink.to("ok@example.org")) == 1
    with database.session() as session:
        assert suppressions.is_suppressed(session, community_id, "hard@hard.test")
        assert not suppressions.is_suppressed(session, community_id, "soft@soft.test")

    # Retries are rows due later, not countdowns: nothing happens before they are due.
    assert drain_with(settings, database, campaign_id, renderer) == 0
    for hours in (1, 2, 3):
        with time_machine.travel(utcnow() + timedelta(hours=hours), tick=False):
            while drain_with(settings, database, campaign_id, renderer):
                pass
    final = states(database, campaign_id)
    assert final["soft@soft.test"] == ("sent", 4)
    assert len(smtp_sink.to("soft@soft.test")) == 1
    assert final["hard@hard.test"][1] == 1, "a hard bounce is never retried"
    with database.session() as session:
        counts = campaigns.campaign_counts(session, campaign_id)
    assert (counts["sent"], counts["bounced"], counts["unknown"]) == (2, 1, 1)


def test_a_send_lost_after_data_is_resent_under_the_resend_policy(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    smtp_sink.reply_for["drop.test"] = [DROP]  # dropped once, accepted after
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    _, campaign_id = launch(database, unknown_policy="resend")
    while drain_with(settings, database, campaign_id, EmailRenderer()):
        pass
    assert states(database, campaign_id)["drop@drop.test"] == ("pending", 1)
    with time_machine.travel(utcnow() + timedelta(minutes=10), tick=False):
        while drain_with(settings, database, campaign_id, EmailRenderer()):
            pass
    assert states(database, campaign_id)["drop@drop.test"] == ("sent", 2)
    assert len(smtp_sink.dropped) == 1 and len(smtp_sink.to("drop@drop.test")) == 1
    with database.session() as session:
        lost = session.scalar(
            select(Delivery.unknown_count)
            .join(Person, Person.id == Delivery.person_id)
            .where(Person.email == "drop@drop.test")
        )
        counts = campaigns.campaign_counts(session, campaign_id)
    assert lost == 1, "the row remembers that its first outcome was lost"
    assert counts["unknown"] == 0 and counts["resent"] == 1


def test_a_server_outage_fails_no_recipient(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    _, campaign_id = launch(database)
    port = smtp_sink.port
    smtp_sink.stop()
    ACTIVE_PORTS.add(port)  # the guard lets the code reach the (now silent) sink's port
    try:
        drain_with(settings, database, campaign_id, EmailRenderer())
    finally:
        ACTIVE_PORTS.discard(port)
    outage = states(database, campaign_id)
    assert set(outage.values()) == {("pending", 0)}, "nothing failed, no attempt counted"

    smtp_sink.start()
    later = config.with_overrides(smtp_url=smtp_sink.url)
    with time_machine.travel(utcnow() + timedelta(minutes=10), tick=False):
        while drain_with(later, database, campaign_id, EmailRenderer()):
            pass
    assert states(database, campaign_id)["ok@example.org"] == ("sent", 1)


def test_an_international_domain_is_sent_in_ascii_and_a_non_ascii_mailbox_refused(
    database: Database,
) -> None:
    with database.session() as session:
        community_id = communities.create_community(
            session, communities.CommunityData(name="CoP", slug="cop")
        )
        report = imports.import_people(
            session,
            community_id,
            "email\nanne@exémple.org\njosé@example.org\n",
            source="list",
            consent="express",
        )
        emails = [row.email for row in people.list_people(session, community_id)]
    assert emails == ["anne@xn--exmple-cva.org"]
    assert [(p.line, p.column) for p in report.problems] == [(3, "email")]


def test_the_sweep_requeues_lost_work_but_not_a_campaign_being_sent(
    database: Database, config: Config
) -> None:
    _, campaign_id = launch(database)
    later = utcnow() + timedelta(minutes=5)
    with database.session() as session:
        claim, ids = deliveries.claim_batch(session, campaign_id, size=2, lease_seconds=600)
        assert len(ids) == 2
        busy = deliveries.sweep(
            session, batch_size=100, requeue_after=timedelta(seconds=30), now=later
        )
        assert busy == [], "a worker holds a live lease: no duplicate tasks"
        lost = deliveries.sweep(
            session,
            batch_size=100,
            requeue_after=timedelta(seconds=30),
            now=later + timedelta(minutes=15),
        )
        assert lost == [(campaign_id, 1)], "the lease ran out: the work is queued again"


def test_pause_and_resume_neither_resend_nor_skip(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    settings = config.with_overrides(smtp_url=smtp_sink.url, batch_size=2)
    smtp_sink.reply_for.clear()
    _, campaign_id = launch(database)
    renderer = EmailRenderer()
    assert drain_with(settings, database, campaign_id, renderer) == 2
    with database.session() as session:
        assert campaigns.pause_campaign(session, campaign_id)
        assert not campaigns.pause_campaign(session, campaign_id)
    assert drain_with(settings, database, campaign_id, renderer) == 0, "paused: nothing claimed"
    assert len(smtp_sink.envelopes) == 2
    with database.session() as session:
        assert campaigns.campaign_counts(session, campaign_id)["pending"] == 2
        assert campaigns.resume_campaign(session, campaign_id)
    while drain_with(settings, database, campaign_id, renderer):
        pass
    recipients = sorted(r for e in smtp_sink.envelopes for r in e.rcpt_tos)
    assert len(recipients) == len(set(recipients)) == 4
