"""Where one worker's time goes on the inbound mix: stages, statements and commits per message.

    python bench/_inbound_profile.py --messages 1000

A diagnostic beside ``inbound_throughput.py``, in one process and without Celery: it stores the
same mix as the bench with ``pipeline.receive``, then runs ``workers.inbound.process_with`` over
every message with the pipeline's stages wrapped in timers (wall and CPU, no profiler overhead),
counts the SQL statements and commits per kind of message, and compares reading the mix with the
modern header policy (what ``pipeline.parse`` uses) and with ``compat32``. It needs PostgreSQL
like the bench and leaves nothing behind (throw-away database). Nothing is edited: the timers
wrap the module attributes of this process only.
"""

from __future__ import annotations

import argparse
import email
import functools
import os
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from email import policy
from typing import Any

from _inbound_mail import Mail, MailBuilder
from _inbound_setup import sent_campaign
from _stack import create_database, drop_database, seed_community
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer
from webapp.migrate import upgrade
from webapp.services.inbound import addresses, automatic, bounces, calendar, pipeline, replies, text
from workers.inbound import process_with

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
STAGES = (
    (pipeline, "claim"),
    (pipeline, "parse"),
    (pipeline, "attribute"),
    (pipeline, "_contexts"),
    (pipeline, "_bounce"),
    (pipeline, "calendar_reply"),
    (pipeline, "automatic_reason"),
    (pipeline, "reply_text"),
    (pipeline, "read_intent"),
    (pipeline, "apply_intent"),
    (pipeline, "apply_bounce"),
    (replies, "acknowledgement"),
)
WARM = 50


class Timers:
    """Wall and CPU seconds and calls per label."""

    def __init__(self) -> None:
        self.wall: defaultdict[str, float] = defaultdict(float)
        self.cpu: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function``, timed under ``label``."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.wall[label] += time.perf_counter() - wall
                self.cpu[label] += time.process_time() - cpu
                self.calls[label] += 1

        return timed


def read_all(config: Config, mails: list[Mail], header_policy: Any) -> list[tuple[object, ...]]:
    """What the pipeline's reading functions make of each message, parsed with a policy."""
    found: list[tuple[object, ...]] = []
    for mail in mails:
        message = email.message_from_bytes(mail.raw, policy=header_policy)
        signed = addresses.attribute(config, message, [mail.rcpt]).signed
        machine = automatic.automatic_reason(message, mail.mail_from or "<>")
        report = bounces.is_delivery_report(message)
        bounce = bounces.read_bounce(message) if report or machine == "null_sender" else None
        reply = calendar.calendar_reply(message)
        words = text.reply_text(message)[0] if not (bounce or reply or machine) else ""
        found.append((signed, machine, report, bounce, reply, text.read_intent(words)))
    return found


def compare_policies(config: Config, mails: list[Mail], say: Callable[[str], None]) -> None:
    """CPU per message of parsing and reading the mix, modern policy against compat32."""
    results = {}
    for name, header_policy in (("policy.default", policy.default), ("compat32", policy.compat32)):
        began = time.process_time()
        for mail in mails:
            email.message_from_bytes(mail.raw, policy=header_policy)
        parsed = time.process_time()
        results[name] = read_all(config, mails, header_policy)
        ms = 1000 / len(mails)
        say(
            f"  {name:15s} parse {ms * (parsed - began):.2f} ms, parse and read "
            f"{ms * (time.process_time() - parsed):.2f} ms CPU per message"
        )
    differ = sum(
        a != b for a, b in zip(results["policy.default"], results["compat32"], strict=True)
    )
    say(f"  readings that differ between the two: {differ} of {len(mails)}")


def profile(args: argparse.Namespace, say: Callable[[str], None]) -> None:
    """Store the mix, process it with timers on, print the tables."""
    name = f"amorce_inbound_profile_{os.getpid()}"
    url = create_database(args.postgres_admin_url, name)
    try:
        database = Database(url)
        upgrade(database.engine)
        config = Config(
            secret_key=secrets.token_hex(20),
            database_url=url,
            reply_domain="reply.bench.example.org",
            base_url="https://amorce.bench.example.org",
            mail_from="Amorce <amorce@bench.example.org>",
        )
        community_id = seed_community(database, "profile", "profile-", args.messages)
        recipients, originals = sent_campaign(database, config, community_id, args.messages, False)
        mails = MailBuilder(config, originals, "profile", args.seed).build(recipients, args.seed)
        mails = [mail for mail in mails if mail.label != "forged"]  # refused at RCPT
        stored: list[tuple[int, str]] = []
        began, cpu = time.perf_counter(), time.process_time()
        for mail in mails:
            with database.session() as session:
                inbound_id = pipeline.receive(
                    session,
                    mail.raw,
                    channel="smtp",
                    envelope_from=mail.mail_from or "<>",
                    recipients=[mail.rcpt],
                )
            assert inbound_id is not None
            stored.append((inbound_id, mail.label.split(":")[0]))
        ms = 1000 / len(mails)
        say(
            f"receive + commit: {ms * (time.perf_counter() - began):.2f} ms wall, "
            f"{ms * (time.process_time() - cpu):.2f} ms CPU per message"
        )
        renderer = EmailRenderer()
        for inbound_id, _ in stored[:WARM]:
            process_with(config, database, inbound_id, renderer)
        timers, current = Timers(), [""]
        statements: defaultdict[str, Counter[str]] = defaultdict(Counter)
        commits: Counter[str] = Counter()

        @event.listens_for(database.engine, "before_cursor_execute")
        def _statement(*args: Any) -> None:
            statements[current[0]][str(args[2]).split(None, 1)[0].upper()] += 1

        @event.listens_for(database.engine, "commit")
        def _commit(*args: Any) -> None:
            commits[current[0]] += 1

        originals_of = {}
        for module, attribute in STAGES:
            originals_of[(module, attribute)] = getattr(module, attribute)
            setattr(module, attribute, timers.wrap(attribute, getattr(module, attribute)))
        commit = Session.commit
        Session.commit = timers.wrap("Session.commit", commit)  # type: ignore[method-assign]
        kinds: Counter[str] = Counter()
        wall_by_kind: defaultdict[str, float] = defaultdict(float)
        try:
            began, cpu = time.perf_counter(), time.process_time()
            for inbound_id, kind in stored[WARM:]:
                current[0], start = kind, time.perf_counter()
                process_with(config, database, inbound_id, renderer)
                kinds[kind] += 1
                wall_by_kind[kind] += time.perf_counter() - start
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        finally:
            Session.commit = commit  # type: ignore[method-assign]
            for (module, attribute), function in originals_of.items():
                setattr(module, attribute, function)
        count = sum(kinds.values())
        say(
            f"process_with: {1000 * wall / count:.2f} ms wall, {1000 * cpu / count:.2f} ms CPU "
            f"per message over {count} (the Celery task adds its own overhead)"
        )
        say("stage                  wall ms  CPU ms  calls per message (nested: not additive)")
        for label, seconds in sorted(timers.wall.items(), key=lambda item: -item[1]):
            cpu_ms = 1000 * timers.cpu[label] / count
            say(
                f"  {label:20s} {1000 * seconds / count:6.2f}  {cpu_ms:6.2f}"
                f"  {timers.calls[label] / count:5.2f}"
            )
        say("kind          messages  wall ms  statements  commits  (per message)")
        for kind in sorted(kinds):
            n = kinds[kind]
            detail = ", ".join(f"{k} {v / n:.1f}" for k, v in statements[kind].most_common())
            say(
                f"  {kind:12s} {n:8d} {1000 * wall_by_kind[kind] / n:8.2f} "
                f"{sum(statements[kind].values()) / n:11.2f} {commits[kind] / n:8.2f}  ({detail})"
            )
        say("reading the mix (parse + attribute, automatic, bounce, calendar, reply text, intent):")
        compare_policies(config, mails, say)
        database.dispose()
    finally:
        drop_database(args.postgres_admin_url, name)


def main() -> None:
    """Run the diagnostic."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    if args.messages <= WARM:
        parser.error(f"--messages must be more than {WARM}")
    profile(args, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
