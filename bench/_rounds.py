"""One round of each kind on the running stack: the floor, an Amorce campaign, the naive way."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from _cpu import CpuMeter, backend_pids, pids_named
from _floor import measure_floor
from _sink import SinkProcess
from _stack import BenchError, Workers, reset_audience
from celery import Celery
from sqlalchemy import select

from webapp.db import Database
from webapp.models import Campaign, CampaignState
from webapp.services.campaigns import campaign_counts, create_campaign, launch_campaign
from workers.dispatch import queue_pending


@dataclass(frozen=True)
class Stack:
    """What a round needs: the database, the producers, the sink and the workers."""

    database: Database
    celery: Celery
    naive: Celery
    sink: SinkProcess
    amorce_workers: Workers
    naive_workers: Workers
    batch_size: int
    stall: float


def wait_for_sink(stack: Stack, target: int, workers: Workers, what: str) -> None:
    """Block until the sink has counted ``target``; fail when nothing arrives for a while."""
    seen, moved_at = stack.sink.count, time.monotonic()
    while (count := stack.sink.count) < target:
        now = time.monotonic()
        if count != seen:
            seen, moved_at = count, now
        elif now - moved_at > stack.stall:
            raise BenchError(
                f"{what}: the sink has {target - count} message(s) still to come and none "
                f"arrived for {stack.stall:.0f} s\n{workers.tail()}"
            )
        if not stack.sink.alive():
            raise BenchError("the SMTP sink process died")
        workers.check_alive()
        time.sleep(0.005)


def processes(stack: Stack, workers: Workers | None) -> dict[str, list[int]]:
    """The processes whose CPU time a round reports, by role."""
    sink = [stack.sink.pid] if stack.sink.pid else []
    return {
        "workers": [pid for pid, _ in workers.pids()] if workers else [],
        "postgres": backend_pids(stack.database),
        "redis": pids_named("redis-server"),
        "sink": sink,
        "bench": [os.getpid()],
    }


def per_email(used: dict[str, float], count: int) -> dict[str, float]:
    """CPU milliseconds per email, per role."""
    return {role: round(1000 * seconds / count, 3) for role, seconds in used.items()}


def amorce_round(stack: Stack, community_id: int, expected: int) -> dict[str, Any]:
    """One campaign to the whole community; emails/s from the launch to the last message."""
    database = stack.database
    reset_audience(database, community_id)
    with database.session() as session:
        campaign_id = create_campaign(session, community_id, name="bench")
    base = stack.sink.count
    size_before = stack.sink.size
    meter = CpuMeter()
    meter.start(processes(stack, stack.amorce_workers))
    started = time.monotonic()
    with database.session() as session:
        launched = launch_campaign(session, campaign_id, actor="bench")
    launch_seconds = time.monotonic() - started
    if launched.created != expected:
        raise BenchError(f"the launch created {launched.created} rows, not {expected}")
    with database.session() as session:
        if not queue_pending(stack.celery, session, campaign_id, stack.batch_size):
            raise BenchError("the broker refused the send tasks")
    queued = time.monotonic()
    wait_for_sink(stack, base + expected, stack.amorce_workers, "amorce")
    finished = stack.sink.last_at
    cpu = meter.stop(processes(stack, stack.amorce_workers))
    completed = _wait_completed(database, campaign_id, timeout=stack.stall)
    completed_after = time.monotonic() - finished
    with database.session() as session:
        counts = {k: v for k, v in campaign_counts(session, campaign_id).items() if v}
    received = stack.sink.count - base
    return {
        "emails_per_second": expected / (finished - started),
        "send_phase_emails_per_second": expected / (finished - queued),
        "seconds": finished - started,
        "launch_seconds": launch_seconds,
        "queue_seconds": queued - started - launch_seconds,
        "message_bytes": (stack.sink.size - size_before) / max(received, 1),
        "received": received,
        "campaign_completed": completed,
        "completed_after_last_email_seconds": completed_after,
        "states": counts,
        "cpu_ms_per_email": per_email(cpu, expected),
    }


def _wait_completed(database: Database, campaign_id: int, timeout: float) -> bool:
    """Whether the campaign reached ``completed`` (the workers finished their bookkeeping)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as session:
            state = session.scalar(select(Campaign.state).where(Campaign.id == campaign_id))
        if state != CampaignState.RUNNING:
            return state == CampaignState.COMPLETED
        time.sleep(0.05)
    return False


def naive_round(stack: Stack, count: int) -> dict[str, Any]:
    """``count`` tasks of the naive way, queued one per email; emails/s to the last message."""
    base, size_before = stack.sink.count, stack.sink.size
    meter = CpuMeter()
    meter.start(processes(stack, stack.naive_workers))
    started = time.monotonic()
    for i in range(count):
        language = "fr" if i % 2 == 0 else "en"
        stack.naive.send_task(
            "naive.send_one",
            args=[f"naive{i}@example.org", f"Prénom{i}", language, secrets.token_urlsafe(24)],
            queue="naive",
        )
    wait_for_sink(stack, base + count, stack.naive_workers, "naive")
    elapsed = stack.sink.last_at - started
    cpu = meter.stop(processes(stack, stack.naive_workers))
    return {
        "emails_per_second": count / elapsed,
        "seconds": elapsed,
        "message_bytes": (stack.sink.size - size_before) / count,
        "cpu_ms_per_email": per_email(cpu, count),
    }


def floor_round(stack: Stack, count: int, senders: int) -> dict[str, Any]:
    """The floor: pre-rendered messages over ``senders`` persistent connections."""
    size_before = stack.sink.size
    meter = CpuMeter()
    meter.start({"sink": [stack.sink.pid or 0]})
    figures: dict[str, Any] = measure_floor(stack.sink, count, senders, timeout=stack.stall * 10)
    figures["message_bytes"] = (stack.sink.size - size_before) / count
    figures["cpu_ms_per_email"] = per_email(meter.stop({"sink": [stack.sink.pid or 0]}), count)
    return figures
