"""Sending rates (RELIABILITY S8) and the pause after too many errors in a row (S7)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from builders import community_with_people
from processes import THROTTLE_DB, redis_db
from sink import Sink
from sqlalchemy import select

from webapp import throttle
from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.models import Campaign, Delivery
from webapp.services import campaigns
from webapp.services.deliveries import sweep as deliveries_sweep
from webapp.throttle import LocalThrottle, RedisThrottle, throttle_for
from workers.campaigns import drain_with


@pytest.fixture
def broker_url() -> Iterator[str]:
    url = f"redis://127.0.0.1:6379/{redis_db(THROTTLE_DB)}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def _launch(database: Database, addresses: list[str]) -> int:
    csv = "email\n" + "\n".join(addresses) + "\n"
    with database.session() as session:
        community_id = community_with_people(session, csv)
        campaign_id = campaigns.create_campaign(session, community_id)
        campaigns.launch_campaign(session, campaign_id)
    return campaign_id


def _most_in_any_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    most, start = 0, 0
    for end, moment in enumerate(stamps):
        while moment - stamps[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _drain_in_threads(settings: Config, database: Database, campaign_id: int, workers: int) -> None:
    """``workers`` senders at once, each with its own throttle, as separate processes would."""

    def work() -> None:
        gate = throttle_for(settings)
        while drain_with(settings, database, campaign_id, EmailRenderer(), throttle=gate):
            pass

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


@pytest.fixture(autouse=True)
def _jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sink stamps messages in this very process, sharing the GIL with the senders: on a
    busy machine its clock lags theirs by more than a network would, so allow for that."""
    monkeypatch.setattr(throttle, "SLACK", 0.3)


def test_the_global_rate_holds_in_every_window_across_workers(
    database: Database, config: Config, smtp_sink: Sink, broker_url: str
) -> None:
    settings = config.with_overrides(
        smtp_url=smtp_sink.url, broker_url=broker_url, send_rate=20, batch_size=10
    )
    assert isinstance(throttle_for(settings), RedisThrottle), "shared in Redis"
    campaign_id = _launch(database, [f"p{i}@example.org" for i in range(70)])
    _drain_in_threads(settings, database, campaign_id, workers=2)
    stamps = [e.received_at for e in smtp_sink.envelopes]
    assert len(stamps) == 70
    assert _most_in_any_window(stamps, 1.0) <= 20
    assert max(stamps) - min(stamps) >= 3.0, "70 messages at 20 a second take over 3 seconds"


def test_the_per_domain_rate_slows_one_domain_only(
    database: Database,
    config: Config,
    smtp_sink: Sink,
    broker_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle, "DOMAIN_WINDOW", 2.0)  # a "minute" of two seconds
    settings = config.with_overrides(
        smtp_url=smtp_sink.url, broker_url=broker_url, domain_rate=5, batch_size=10
    )
    busy = [f"b{i}@busy.test" for i in range(12)]
    others = [f"o{i}@example.org" for i in range(12)]
    campaign_id = _launch(database, busy + others)
    _drain_in_threads(settings, database, campaign_id, workers=2)
    to_busy = [e.received_at for e in smtp_sink.envelopes if e.rcpt_tos[0].endswith("busy.test")]
    assert len(to_busy) == 12 and len(smtp_sink.envelopes) == 24
    assert _most_in_any_window(to_busy, 2.0) <= 5
    assert max(to_busy) - min(to_busy) >= 4.0, "12 messages at 5 per window need 3 windows"


def test_the_local_throttle_keeps_the_rate_without_redis() -> None:
    now = [0.0]
    slept: list[float] = []
    settings = Config(secret_key="x" * 32, send_rate=10)
    gate = LocalThrottle(settings, clock=lambda: now[0])

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(throttle.time, "sleep", fake_sleep)
        stamps = []
        for _ in range(35):
            gate.acquire("example.org")
            stamps.append(now[0])
    assert _most_in_any_window(stamps, 1.0) <= 10
    assert stamps[-1] >= 3.0


def test_fifty_failures_in_a_row_pause_the_campaign_and_say_why(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    smtp_sink.reply_for["hard.test"] = "550 5.1.1 no such user"
    settings = config.with_overrides(smtp_url=smtp_sink.url)
    campaign_id = _launch(database, [f"h{i:02}@hard.test" for i in range(70)])
    while drain_with(settings, database, campaign_id, EmailRenderer()):
        pass
    with database.session() as session:
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.state, campaign.paused_reason) == ("paused", "errors")
        counts = campaigns.campaign_counts(session, campaign_id)
        pending = session.scalars(
            select(Delivery.id).where(
                Delivery.campaign_id == campaign_id, Delivery.state == "pending"
            )
        ).all()
    assert counts["bounced"] == 50, "it stops at the fiftieth failure in a row"
    assert len(pending) == 20, "the rest waits for the coordinator"
    with database.session() as session:
        assert campaigns.resume_campaign(session, campaign_id)
        campaign = session.get_one(Campaign, campaign_id)
        assert (campaign.paused_reason, campaign.consecutive_errors) == ("", 0)


def test_a_slow_throttled_batch_keeps_its_lease_and_is_never_sent_twice(
    database: Database, config: Config, smtp_sink: Sink
) -> None:
    # Ten messages at three a second take over three seconds, longer than the 2-second lease:
    # the worker renews it, so the sweep running meanwhile never takes its rows for lost.
    settings = config.with_overrides(
        smtp_url=smtp_sink.url, send_rate=3, lease_seconds=2, batch_size=10
    )
    campaign_id = _launch(database, [f"s{i}@example.org" for i in range(10)])
    sender = threading.Thread(
        target=drain_with,
        args=(settings, database, campaign_id, EmailRenderer()),
        kwargs={"throttle": throttle_for(settings)},
    )
    sender.start()
    while sender.is_alive():
        with database.session() as session:
            deliveries_sweep(session, batch_size=10, requeue_after=timedelta(seconds=0))
        sender.join(timeout=0.3)
    with database.session() as session:
        lost = session.scalars(
            select(Delivery.id).where(
                Delivery.campaign_id == campaign_id, Delivery.unknown_count > 0
            )
        ).all()
        counts = campaigns.campaign_counts(session, campaign_id)
    assert lost == [] and counts["sent"] == 10
    recipients = [e.rcpt_tos[0] for e in smtp_sink.envelopes]
    assert len(recipients) == len(set(recipients)) == 10
