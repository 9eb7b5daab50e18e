"""Faults across processes (RELIABILITY S1–S6, U3): real Celery workers and beats, Redis, the sink.

Every worker and beat runs in a process group of its own, so ``kill -9`` of the group takes the
worker with its pool children at once, as a lost machine would. Sweeps run every second and
leases last 5 s, so a dead worker's rows come back quickly; the sweep re-queues a campaign at most
every 30 s (its floor in ``workers.campaigns.sweep``), which sets how long a test that loses its
queued tasks lasts. Random fault points print their seed so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
import redis
from processes import STACK_DB, redis_db, subprocess_env
from sink import Envelope, Sink
from sqlalchemy import func, insert, select, update

from webapp.config import Config
from webapp.db import Database
from webapp.models import (
    AuditLog,
    Campaign,
    CampaignState,
    ConsentRecord,
    Delivery,
    DeliveryState,
    Membership,
    MembershipState,
    Person,
    Source,
    utcnow,
)
from webapp.services import campaigns, communities, imports, people, suppressions
from workers.dispatch import queue_pending
from workers.factory import make_celery

pytestmark = pytest.mark.integration

SLUG = "cop-pannes"
THREE_DAYS = timedelta(days=3)
REMINDER = campaigns.SendingPolicy(reminder_count=1, reminder_gap_days=3)


def pool_children(process: Popen[bytes]) -> list[int]:
    """The pool processes of a prefork worker."""
    return [
        int(pid)
        for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    ]


def delivery_of(envelope: Envelope) -> int:
    """The outbox row a message at the sink was sent for."""
    return int(envelope.header("X-Amorce-Delivery") or 0)


class Stack:
    """The worker and beat processes of one test, the means to hurt them, and what they did."""

    def __init__(
        self, env: dict[str, str], path: Path, database: Database, sink: Sink, broker: redis.Redis
    ) -> None:
        self.env = env
        self.path = path
        self.database = database
        self.sink = sink
        self.broker = broker
        self.processes: list[Popen[bytes]] = []
        self.began = time.monotonic()
        self.logs: list[Path] = []

    @property
    def config(self) -> Config:
        """The settings every process of the stack reads."""
        return Config.from_env(self.env)

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Popen[bytes]:
        log = self.path / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "workers.app", *args],
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg takes its children too
            )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def worker(self, name: str = "worker", *, children: int = 0, **env: str) -> Popen[bytes]:
        """A ``celery worker``: the solo pool, or prefork with that many children."""
        pool = f"--pool=prefork --concurrency={children}" if children else "--pool=solo"
        args = ["worker", *pool.split(), "--loglevel=INFO", "-n", f"{name}@%h"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        return self._start(name, args, env)

    def beat(self, name: str = "beat") -> Popen[bytes]:
        """A ``celery beat`` with its own instance folder, hence its own schedule file."""
        return self._start(
            name, ["beat", "--loglevel=WARNING"], {"AMORCE_INSTANCE_PATH": str(self.path / name)}
        )

    def kill(self, process: Popen[bytes]) -> None:
        """``kill -9`` the process group: nothing is cleaned up, nothing acknowledged."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def stop(self, process: Popen[bytes]) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL if it takes more than ten seconds."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except ProcessLookupError:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill(process)

    def close(self) -> None:
        """Kill whatever still runs: the test is over, nothing needs a clean shutdown."""
        for process in self.processes:
            self.kill(process)

    def tail(self, lines: int = 15) -> str:
        """The end of every log, for failure messages."""
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def queue(self, campaign_id: int) -> None:
        """What the adapters do after their commit: queue send tasks for the pending rows."""
        config = self.config
        app = make_celery(config)
        try:
            with self.database.session() as session:
                assert queue_pending(app, session, campaign_id, config.batch_size)
        finally:
            app.close()

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
        """Poll until ``check`` holds; fail with the processes' logs after ``timeout``."""
        began = time.monotonic()
        while not check():
            if time.monotonic() > began + timeout:
                pytest.fail(f"{what}: not after {timeout} s\n{self.tail()}", pytrace=False)
            time.sleep(0.25)
        print(f"{time.monotonic() - self.began:6.1f} s  {what} ({time.monotonic() - began:.1f} s)")

    def wait_sent(self, count: int, timeout: float = 60) -> None:
        """Until the sink holds ``count`` messages."""
        self.wait(
            f"{count} messages at the sink", lambda: len(self.sink.envelopes) >= count, timeout
        )

    def wait_completed(self, campaign_id: int, timeout: float = 90) -> None:
        """Until the campaign is completed."""
        self.wait(
            f"campaign {campaign_id} completed",
            lambda: campaign_state(self.database, campaign_id) == CampaignState.COMPLETED,
            timeout,
        )


@pytest.fixture
def stack(database: Database, smtp_sink: Sink, tmp_path: Path) -> Iterator[Stack]:
    """Settings for subprocesses on this test's database, Redis db and sink; stopped after."""
    db_number = redis_db(STACK_DB)
    broker = redis.Redis(host="127.0.0.1", port=6379, db=db_number)
    broker.flushdb()
    env = subprocess_env(
        database_url=database.url,
        broker_url=f"redis://127.0.0.1:6379/{db_number}",
        smtp_url=smtp_sink.url,
        instance=tmp_path / "instance",
        sweep_seconds="1",
        lease_seconds="5",
        batch_size="100",
    )
    running = Stack(env, tmp_path, database, smtp_sink, broker)
    try:
        yield running
    finally:
        running.close()
        broker.flushdb()
        broker.close()


def rng_for(request: pytest.FixtureRequest) -> random.Random:
    """A random generator whose seed is printed (shown with the output of a failed test)."""
    seed = random.randrange(2**32)
    print(f"{request.node.nodeid}: random seed {seed}")
    return random.Random(seed)


def is_postgres(database: Database) -> bool:
    """Whether the test runs on PostgreSQL (SQLite gets smaller campaigns)."""
    return not database.is_sqlite


# -- data --------------------------------------------------------------------------------------


def seed(database: Database, count: int, slug: str = SLUG) -> int:
    """A community with a full sender identity and ``count`` consenting prospects
    ``<slug>-<i>@example.org``."""
    with database.session() as session:
        community_id = communities.create_community(
            session,
            communities.CommunityData(
                name=f"CoP {slug}",
                slug=slug,
                sender_name="Coordination CoP",
                organization="Université Test",
                postal_address="1 rue de l'Université, Québec",
                contact_email="cop@example.org",
            ),
        )
        ids = session.scalars(
            insert(Person).returning(Person.id),
            [
                {
                    "email": f"{slug}-{i}@example.org",
                    "first_name": f"Prénom{i}",
                    "language": "fr" if i % 2 else "en",
                    "timezone": "America/Toronto",
                }
                for i in range(count)
            ],
        ).all()
        session.execute(
            insert(Membership),
            [
                {
                    "community_id": community_id,
                    "person_id": person_id,
                    "state": MembershipState.PROSPECT,
                    "source": Source.NETWORK,
                }
                for person_id in ids
            ],
        )
        session.execute(
            insert(ConsentRecord),
            [
                {
                    "person_id": person_id,
                    "community_id": community_id,
                    "basis": "express",
                    "text_version": "test",
                    "method": "import",
                    "source": "test",
                }
                for person_id in ids
            ],
        )
    return community_id


def create(database: Database, community_id: int, policy: campaigns.SendingPolicy | None) -> int:
    """A draft recruitment campaign."""
    with database.session() as session:
        return campaigns.create_campaign(session, community_id, policy=policy)


def launch(stack: Stack, community_id: int, policy: campaigns.SendingPolicy | None = None) -> int:
    """Create, launch and commit, then queue: what the page and the CLI do."""
    campaign_id = create(stack.database, community_id, policy)
    with stack.database.session() as session:
        campaigns.launch_campaign(session, campaign_id)
    stack.queue(campaign_id)
    return campaign_id


def campaign_state(database: Database, campaign_id: int) -> str:
    """The campaign's state as committed now."""
    with database.session() as session:
        return str(session.scalar(select(Campaign.state).where(Campaign.id == campaign_id)))


def rows_of(database: Database, campaign_id: int) -> list[Any]:
    """Every outbox row of the campaign with its recipient's address."""
    with database.session() as session:
        return list(
            session.execute(
                select(
                    Delivery.id,
                    Delivery.step,
                    Delivery.state,
                    Delivery.unknown_count,
                    Delivery.due_at,
                    Person.id.label("person_id"),
                    Person.email,
                )
                .join(Person, Person.id == Delivery.person_id)
                .where(Delivery.campaign_id == campaign_id)
                .order_by(Delivery.id)
            )
        )


def open_rows(database: Database, campaign_id: int, step: int) -> int:
    """Rows of one step still pending or sending."""
    with database.session() as session:
        return (
            session.scalar(
                select(func.count()).where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.step == step,
                    Delivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
                )
            )
            or 0
        )


def shift_due(database: Database, campaign_id: int, by: timedelta) -> None:
    """Move the clock forward for the outbox: every pending row falls due ``by`` earlier."""
    with database.session() as session:
        due = session.execute(
            select(Delivery.id, Delivery.due_at).where(
                Delivery.campaign_id == campaign_id, Delivery.state == DeliveryState.PENDING
            )
        ).all()
        session.execute(update(Delivery), [{"id": id_, "due_at": at - by} for id_, at in due])


# -- what the sink must show -------------------------------------------------------------------


def check_envelopes(stack: Stack, rows: list[Any]) -> Counter[int]:
    """Messages at the sink per row of ``rows``, each checked to reach that row's recipient."""
    by_id = {row.id: row for row in rows}
    copies: Counter[int] = Counter()
    for envelope in stack.sink.envelopes:
        row = by_id.get(delivery_of(envelope))
        if row is not None:
            assert envelope.rcpt_tos == (row.email,)
            copies[row.id] += 1
    return copies


def assert_at_least_once(stack: Stack, campaign_id: int) -> tuple[int, int]:
    """S1: every recipient reached; a row has extra copies only as often as it went through
    ``unknown``. Returns (extra copies, rows that went through ``unknown``)."""
    rows = rows_of(stack.database, campaign_id)
    copies = check_envelopes(stack, rows)
    assert sum(copies.values()) == len(stack.sink.envelopes), "messages for no row of the campaign"
    missing = [row.email for row in rows if copies[row.id] == 0]
    assert not missing, f"{len(missing)} recipients got nothing: {missing[:10]}"
    unexplained = [
        (row.id, copies[row.id], row.unknown_count)
        for row in rows
        if copies[row.id] - 1 > row.unknown_count
    ]
    assert not unexplained, f"(row, copies, unknown_count) of unexplained duplicates: {unexplained}"
    extra = sum(copies[row.id] - 1 for row in rows)
    lost = sum(1 for row in rows if row.unknown_count > 0)
    assert extra <= lost
    return extra, lost


def assert_exactly_once(
    stack: Stack, campaign_id: int, expected_rows: int, *, alone: bool = True
) -> None:
    """Without a crash: one message per row, every row ``sent`` (and, ``alone``, nothing else
    at the sink)."""
    rows = rows_of(stack.database, campaign_id)
    assert len(rows) == expected_rows
    copies = check_envelopes(stack, rows)
    if alone:
        assert sum(copies.values()) == len(stack.sink.envelopes)
    assert Counter(row.state for row in rows) == {DeliveryState.SENT: expected_rows}
    wrong = {row.email: copies[row.id] for row in rows if copies[row.id] != 1}
    assert not wrong, f"recipients without exactly one message: {list(wrong.items())[:10]}"


def run_to_the_end(stack: Stack, worker: Popen[bytes], campaign_id: int) -> None:
    """Wait for completion, after which nothing may be left ``sending`` or ``pending``."""
    stack.wait_completed(campaign_id, timeout=120)
    assert worker.poll() is None, stack.tail()
    assert open_rows(stack.database, campaign_id, 0) == 0


# -- S1 ----------------------------------------------------------------------------------------


def test_s1_killed_workers_lose_no_one_and_duplicate_only_unknown_rows(
    stack: Stack, database: Database, request: pytest.FixtureRequest
) -> None:
    # SQLite has one writer and a slower claim: 1,500 recipients keep the test near a minute.
    count = 5000 if is_postgres(database) else 1500
    rng = rng_for(request)
    campaign_id = launch(stack, seed(database, count))
    stack.beat()
    # Prefork with two children. The first kill takes one pool child: its parent replaces it and
    # (task_reject_on_worker_lost) puts its task back. The next two take the whole process group,
    # as a lost machine would. The last worker is a solo one with the fault hook: it dies right
    # after its k-th 250, before recording it.
    worker = stack.worker(children=2)
    hook = rng.randint(1, 120)
    for kill in ("a pool child", "the group", "the group, then the fault hook"):
        # Each kill comes after a random share (3 to 15 %) of the campaign went out.
        stack.wait_sent(len(stack.sink.envelopes) + int(rng.uniform(0.03, 0.15) * count))
        if kill == "a pool child":
            os.kill(rng.choice(pool_children(worker)), signal.SIGKILL)
        elif kill == "the group":
            stack.kill(worker)
            worker = stack.worker(children=2)
        else:
            stack.kill(worker)
            worker = stack.worker(AMORCE_FAULT_EXIT_AFTER_SENT=str(hook))
    stack.wait("the fault hook ends the worker", lambda: worker.poll() is not None)
    assert worker.returncode == 137
    worker = stack.worker(children=2)
    run_to_the_end(stack, worker, campaign_id)
    extra, lost = assert_at_least_once(stack, campaign_id)
    assert extra >= 1, "the message sent right before the fault hook must be sent again"
    print(f"{count} recipients, {len(stack.sink.envelopes)} messages, {extra} extra, {lost} lost")


# -- S2 ----------------------------------------------------------------------------------------


def test_s2_launched_with_redis_down_or_flushed_midway_campaigns_complete_once(
    stack: Stack, database: Database
) -> None:
    # Both faults in one test, so that their waits for the sweep (at most one re-queue of a
    # campaign every 30 s) overlap. First, a launch while Redis is down, from the CLI.
    seed(database, 200, "cop-down")
    down = {**stack.env, "AMORCE_BROKER_URL": "redis://127.0.0.1:1/0"}
    launched = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "campaigns", "launch", "cop-down"]
        + ["--kind", "recruitment"],
        env=down,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert "broker is unreachable" in launched.stderr
    unqueued = int(launched.stdout.strip())
    assert campaign_state(database, unqueued) == CampaignState.RUNNING
    assert open_rows(database, unqueued, 0) == 200
    assert stack.broker.llen("amorce") == 0

    # Then, with Redis back, a campaign whose queued tasks are flushed once a tenth has gone.
    flushed = launch(stack, seed(database, 500, "cop-flush"))
    # At 150 messages a second the flush surely comes while most rows still wait, however
    # fast the machine (unthrottled, a batch or two can go between two looks at the sink).
    worker = stack.worker(AMORCE_SEND_RATE="150")
    stack.beat()
    stack.wait_sent(50)
    queued, waiting = stack.broker.llen("amorce"), open_rows(database, flushed, 0)
    stack.broker.flushdb()
    assert queued > 0 and waiting > 200, "the flush must lose the tasks of rows still to send"
    run_to_the_end(stack, worker, flushed)
    run_to_the_end(stack, worker, unqueued)
    assert_exactly_once(stack, unqueued, 200, alone=False)
    assert_exactly_once(stack, flushed, 500, alone=False)
    assert len(stack.sink.envelopes) == 700


# -- S3 ----------------------------------------------------------------------------------------


def test_s3_tasks_redelivered_after_the_visibility_timeout_send_each_message_once(
    stack: Stack, database: Database, smtp_sink: Sink
) -> None:
    count = 300
    smtp_sink.delay = 0.035  # a batch of 100 takes 3.5 s, longer than the visibility timeout
    campaign_id = launch(stack, seed(database, count))
    stack.beat()
    redelivering = {"AMORCE_VISIBILITY_TIMEOUT": "2"}
    # Prefork: the parent's event loop keeps running (and restoring expired tasks) while its
    # child sends.
    first = stack.worker("first", children=1, **redelivering)
    stack.worker("second", children=1, **redelivering)
    run_to_the_end(stack, first, campaign_id)
    assert_exactly_once(stack, campaign_id, count)
    received = Counter(
        match
        for log in stack.logs
        for match in re.findall(
            r"Task campaigns\.send_batch\[([0-9a-f-]+)\] received", log.read_text()
        )
    )
    assert max(received.values()) > 1, f"no task was redelivered: {received}"


# -- S4 and S5: reminders, two beats, ten launches ---------------------------------------------


def test_s4_s5_reminders_days_out_survive_restarts_and_two_beats_never_early_each_once(
    stack: Stack, database: Database
) -> None:
    # S4 and S5's "two beats" share one campaign: two beats (each with its own schedule file)
    # and two workers run throughout, and are restarted with the broker emptied in between.
    # SQLite (one writer) gets 500 reminders to stay well within a minute.
    count = 1000 if is_postgres(database) else 500
    launched_at = utcnow()
    campaign_id = launch(stack, seed(database, count), REMINDER)
    processes = [stack.beat("beat-a"), stack.beat("beat-b"), stack.worker("a"), stack.worker("b")]
    stack.wait_sent(count)
    stack.wait("the invitations recorded", lambda: open_rows(database, campaign_id, 0) == 0)
    reminders = [row for row in rows_of(database, campaign_id) if row.step == 1]
    assert len(reminders) == count
    assert all(row.due_at >= launched_at + THREE_DAYS for row in reminders)

    # Workers, beats and broker restarted: nothing survives in Redis.
    for process in processes:
        stack.kill(process)
    stack.broker.flushdb()
    stack.beat("beat-a")
    stack.beat("beat-b")
    worker = stack.worker("a")
    stack.worker("b")
    shift_due(database, campaign_id, THREE_DAYS - timedelta(hours=1))  # one hour early still
    time.sleep(4)  # several sweeps of each beat
    assert len(stack.sink.envelopes) == count, "a reminder went out early"

    shifted_at = time.time()
    shift_due(database, campaign_id, timedelta(hours=1))
    run_to_the_end(stack, worker, campaign_id)
    assert_exactly_once(stack, campaign_id, 2 * count)
    reminder_ids = {row.id for row in reminders}
    early = [
        e
        for e in stack.sink.envelopes
        if delivery_of(e) in reminder_ids and e.received_at < shifted_at
    ]
    assert not early


def test_s5_ten_concurrent_launches_make_one_run(stack: Stack, database: Database) -> None:
    count = 100
    campaign_id = create(database, seed(database, count), None)
    start = threading.Barrier(10)

    def click() -> campaigns.LaunchResult:
        # What the page's launch view does, with a connection pool of its own per "process".
        own = Database(database.url)
        try:
            start.wait(timeout=10)
            with own.session() as session:
                result = campaigns.launch_campaign(session, campaign_id, actor="test")
            if not result.already_launched:
                stack.queue(campaign_id)
            return result
        finally:
            own.dispose()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = [future.result() for future in [pool.submit(click) for _ in range(10)]]
    assert sorted(r.created for r in results) == [0] * 9 + [count]
    with database.session() as session:
        launches = session.scalar(
            select(func.count()).where(AuditLog.action == "campaign.launched")
        )
    assert launches == 1
    worker = stack.worker()
    run_to_the_end(stack, worker, campaign_id)
    assert_exactly_once(stack, campaign_id, count)


# -- S6 ----------------------------------------------------------------------------------------


def test_s6_pause_resume_and_a_kill_during_resume_neither_skip_nor_resend(
    stack: Stack, database: Database, request: pytest.FixtureRequest
) -> None:
    count = 1000
    rng = rng_for(request)
    community_id = seed(database, count)
    campaign_id = launch(stack, community_id)
    stack.beat()
    worker = stack.worker()
    stack.wait_sent(int(rng.uniform(0.1, 0.4) * count))
    with database.session() as session:
        assert campaigns.pause_campaign(session, campaign_id)

    def settled() -> bool:
        before = len(stack.sink.envelopes)
        time.sleep(1)
        return before == len(stack.sink.envelopes) and not any(
            row.state == DeliveryState.SENDING for row in rows_of(database, campaign_id)
        )

    stack.wait("the messages in flight finish", settled, timeout=20)
    paused_at = len(stack.sink.envelopes)
    assert paused_at < count
    time.sleep(2)
    assert len(stack.sink.envelopes) == paused_at, "a paused campaign sent"

    # Someone joins after the launch: the audience was fixed then.
    with database.session() as session:
        report = imports.import_people(
            session,
            community_id,
            "email,first_name\nlate@example.org,Late\n",
            source="list",
            consent="express",
        )
        assert report.created == 1

    with database.session() as session:
        assert campaigns.resume_campaign(session, campaign_id)
    stack.queue(campaign_id)
    # Killed early in the resume, so the tasks still queued take the dead worker's rows back.
    stack.wait_sent(paused_at + int(rng.uniform(0.05, 0.25) * (count - paused_at)))
    stack.kill(worker)
    worker = stack.worker()
    run_to_the_end(stack, worker, campaign_id)
    assert_at_least_once(stack, campaign_id)
    assert len(rows_of(database, campaign_id)) == count
    assert stack.sink.to("late@example.org") == []


# -- U3 ----------------------------------------------------------------------------------------


def test_u3_unsubscribed_between_invitation_and_reminder_get_nothing_more(
    stack: Stack, database: Database, smtp_sink: Sink
) -> None:
    count = 60
    community_id = seed(database, count)
    campaign_id = launch(stack, community_id, REMINDER)
    worker = stack.worker()
    stack.wait_sent(count)
    stack.wait("the invitations recorded", lambda: open_rows(database, campaign_id, 0) == 0)
    stack.stop(worker)

    # The reminders fall due and their tasks are queued while no worker runs.
    shift_due(database, campaign_id, THREE_DAYS)
    stack.queue(campaign_id)
    reminders = [row for row in rows_of(database, campaign_id) if row.step == 1]
    early, late = reminders[:5], reminders[-5:]
    with database.session() as session:
        for row in early:  # through their link: consent withdrawn, suppressed for the community
            assert people.unsubscribe(session, community_id, row.person_id, how="link")

    smtp_sink.delay = 0.05  # the reminders go out slowly: the last chunk waits about 2.5 s
    worker = stack.worker()
    stack.wait_sent(count + 5)
    with database.session() as session:
        for row in late:  # a complaint, everywhere, while the batch holding them is being sent
            suppressions.suppress(
                session, row.email, community_id=None, reason="complaint", actor="test"
            )
    run_to_the_end(stack, worker, campaign_id)

    stopped = {row.email for row in early + late}
    copies = check_envelopes(stack, rows_of(database, campaign_id))
    for row in rows_of(database, campaign_id):
        if row.step == 0:
            assert copies[row.id] == 1
        elif row.email in stopped:
            assert copies[row.id] == 0, f"{row.email} got a reminder after unsubscribing"
            assert row.state in (DeliveryState.SUPPRESSED, DeliveryState.SKIPPED)
        else:
            assert copies[row.id] == 1 and row.state == DeliveryState.SENT
