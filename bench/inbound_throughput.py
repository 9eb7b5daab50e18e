"""P7: inbound mail, receipt → classified → action applied, on the real stack with one worker.

    python bench/inbound_throughput.py --messages 5000 --runs 3 --json

It needs PostgreSQL (127.0.0.1:5432, trust auth, user postgres) and Redis (127.0.0.1:6379; db 14
is flushed at the start). It creates a throw-away database ``amorce_inbound_<pid>`` and drops it
at the end (``--database-url`` uses an existing database instead and leaves it).

Setup, before any timing: for the warm-up and for each round, a community with N bilingual
prospects (N = ``--messages``, or ``--prospects``) and a recruitment campaign created and
launched through the services (``create_campaign``, ``launch_campaign``); its deliveries are then
marked ``sent`` with one UPDATE (and its prospects ``invited``, as a real send does), since this
bench measures inbound mail, not sending. Each round gets fresh prospects and fresh Message-IDs
(nothing is reset between rounds): every round starts from the same state, and the same mix.

The mix, built before the round (``bench/_inbound_mail.py``), one message per delivery: ~60 %
people's replies in French and English above the quoted original (Gmail, Outlook, Apple Mail and
Thunderbird styles; interested, not interested, maybe, questions), ~15 % out-of-office notices
(``Auto-Submitted``, a third to the return path from ``<>``), ~10 % RFC 3464 reports to the signed
bounce address (hard, soft, delayed), ~5 % mail to the signed unsubscribe address, ~5 % iMIP
``METHOD:REPLY`` and ~5 % forgeries (a wrong or missing signature), which the receiver refuses at
RCPT: they never reach the database and count in no rate.

The stack: ``amorce inbound smtp`` as a process (``python -m webapp.cli inbound smtp``), ONE
Celery worker (``celery -A workers.app worker --pool=solo``) and an aiosmtpd sink for the
acknowledgements, which are off unless ``--acknowledge``. Each round, ``--senders`` threads push
the messages over one persistent ``smtplib`` connection each (connected before the clock starts):

- ``receipt_per_second``: messages answered 250 after DATA (stored) per second, from the first
  MAIL FROM to the last 250;
- ``end_to_end_per_second`` (the P7 figure, target >= 200/s with one worker): stored messages per
  second from the first MAIL FROM until every one of them is ``processed`` or ``failed`` in the
  database (a COUNT of the pending rows, every 20 ms once fewer than 100 wait, every 250 ms
  before, so that polling costs the database little);
- ``outcomes``: kinds, actions applied, review flags and failures (must be 0), and what each
  generated kind was read as (``by_generated_label``).

One warm-up round (``--warmup-messages``, default min(N, 500)) comes first; figures are the median
of ``--runs`` rounds with min, max and spread. ``cpu_ms_per_message`` (per stored message) says
where the time goes: the worker, the receiver, the PostgreSQL backends serving the bench database,
redis-server (shared with anyone else), the sink and this process (senders and poll).
``worker_peak_rss_mb`` is VmHWM from /proc after the last round. ``after_receipt_per_second`` is
the worker's rate once the last 250 is in (it then has the CPUs to itself, but for other users);
``commit_ms_median`` times one-row commits (each waits for fsync, on a disk others share too).
Progress goes to stdout, or to stderr with ``--json``, which prints one JSON object instead of the
summary lines. ``--synchronous-commit off`` is a diagnostic for the cost of commits; where the
worker's time goes, stage by stage and statement by statement:
``python bench/_inbound_profile.py --messages 1000``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from _inbound_mail import MailBuilder
from _inbound_rounds import InboundStack, Receiver, inbound_round
from _inbound_setup import commit_latency_ms, engine_version, sent_campaign, stack_env
from _sink import SinkProcess
from _stack import (
    REPO,
    BenchError,
    Workers,
    peak_rss_mb,
    seed_community,
    server_settings,
    throwaway_database,
)
from campaign_throughput import machine_info, summary
from sqlalchemy.engine import make_url

from webapp.config import Config
from workers.factory import make_celery

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
REPLY_DOMAIN = "reply.bench.example.org"
TARGET = 200.0  # P7: messages/s end to end with one worker
ROLES = ("worker", "receiver", "postgres", "redis", "sink", "bench")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="per round")
    parser.add_argument("--prospects", type=int, help="per round's community (default: messages)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--senders", type=int, default=4, help="persistent SMTP connections")
    parser.add_argument("--warmup-messages", type=int, help="default min(N, 500)")
    parser.add_argument("--acknowledge", action="store_true", help="communities send acks")
    parser.add_argument("--seed", type=int, default=7, help="of the message mix")
    parser.add_argument("--database-url", help="use this existing database instead")
    parser.add_argument("--postgres-admin-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL, help="flushed at the start")
    parser.add_argument("--reply-domain", default=REPLY_DOMAIN)
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        help="diagnostic: set it on the throw-away database (default: the server's)",
    )
    parser.add_argument("--stall-timeout", type=float, default=60.0, help="s without progress")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir and logs")
    parser.add_argument("--json", action="store_true", help="progress to stderr, JSON on stdout")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.runs < 1 or args.senders < 1:
        parser.error("--messages, --runs and --senders must be positive")
    if args.synchronous_commit and args.database_url:
        parser.error("--synchronous-commit applies to the throw-away database only")
    if args.prospects is None:
        args.prospects = args.messages
    if args.prospects < args.messages:
        parser.error("--prospects must be at least --messages (one message per delivery)")
    if args.warmup_messages is None:
        args.warmup_messages = min(args.messages, 500)
    return args


def run(args: argparse.Namespace, workdir: Path, say: Any) -> dict[str, Any]:
    """Set the stack up, run the warm-up and the rounds, tear it down; returns the figures."""
    n = args.messages
    machine = machine_info()
    began = time.monotonic()
    redis.Redis.from_url(args.redis_url).flushdb()
    with contextlib.ExitStack() as cleanup:
        sink = SinkProcess()
        cleanup.callback(sink.stop)
        url, database = throwaway_database(
            cleanup,
            admin_url=args.postgres_admin_url,
            name=f"amorce_inbound_{os.getpid()}",
            existing_url=args.database_url,
            synchronous_commit=args.synchronous_commit,
        )
        commit_ms = commit_latency_ms(database)
        env = stack_env(args, url, sink, workdir)
        config = Config.from_env(env)
        tag = f"{os.getpid()}-{secrets.token_hex(3)}"
        audiences = []
        for index in range(args.runs + 1):
            count = args.warmup_messages if index == 0 else n
            prospects = count if index == 0 else args.prospects
            name = "warmup" if index == 0 else f"round{index}"
            community_id = seed_community(database, f"in-{name}-{tag}", f"{name}-{tag}-", prospects)
            audiences.append(sent_campaign(database, config, community_id, count, args.acknowledge))
        say(f"{time.monotonic() - began:.0f} s: seeded {args.runs} x {args.prospects} prospects")

        celery = make_celery(config)
        worker = Workers(
            "inbound",
            "workers.app",
            pool="solo",
            concurrency=1,
            env=env,
            cwd=REPO,
            log_path=workdir / "worker.log",
        )
        cleanup.callback(worker.stop)
        worker.start(celery)
        receiver = Receiver(env, REPO, workdir / "receiver.log")
        cleanup.callback(receiver.stop)
        receiver.wait_ready()
        stack = InboundStack(database, receiver, worker, sink, args.senders, args.stall_timeout)
        say(f"{time.monotonic() - began:.0f} s: worker and receiver ready, warm-up")

        rounds = []
        for index, (recipients, originals) in enumerate(audiences):
            builder = MailBuilder(config, originals, f"{tag}.{index}", args.seed)
            built_at = time.monotonic()
            mails = builder.build(recipients, args.seed)
            build_seconds = time.monotonic() - built_at
            figures = inbound_round(stack, mails)
            figures["build_seconds"] = build_seconds
            figures["generated"] = dict(Counter(mail.label for mail in mails).most_common())
            say(
                f"{time.monotonic() - began:.0f} s: "
                + ("warm-up" if index == 0 else f"round {index}")
                + f": receipt {figures['receipt_per_second']:.0f}/s, end to end "
                f"{figures['end_to_end_per_second']:.0f}/s, "
                f"failed {figures['outcomes']['failed']}"
            )
            if index:
                rounds.append(figures)
        rss = {
            "worker": peak_rss_mb(worker.processes[0].pid),
            "receiver": peak_rss_mb(receiver.pid),
        }
        settings = server_settings(database)
        settings["commit_ms_median_at_end"] = str(commit_latency_ms(database))
        say(f"{time.monotonic() - began:.0f} s: stopping")

    result = report(args, rounds, rss)
    result["parameters"]["database"] = make_url(url).get_backend_name()
    result["parameters"]["database_settings"] = settings | {"commit_ms_median": str(commit_ms)}
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = machine
    return result


def _stable(rounds: list[dict[str, Any]], key: str) -> bool:
    return all(r["outcomes"][key] == rounds[0]["outcomes"][key] for r in rounds)


def report(
    args: argparse.Namespace, rounds: list[dict[str, Any]], rss: dict[str, float | None]
) -> dict[str, Any]:
    """The JSON object: rates, outcomes, CPU split, memory, parameters."""
    end_to_end = summary([r["end_to_end_per_second"] for r in rounds])
    last = rounds[-1]
    cpu = {
        role: round(statistics.median(r["cpu_ms_per_message"][role] for r in rounds), 3)
        for role in ROLES
    }
    return {
        "bench": "inbound_throughput",
        "messages": args.messages,
        "runs": args.runs,
        "receipt_per_second": summary([r["receipt_per_second"] for r in rounds]),
        "end_to_end_per_second": end_to_end,
        "target_end_to_end_per_second": TARGET,
        "meets_target": end_to_end["median"] >= TARGET,
        "after_receipt_per_second": summary([r["after_receipt_per_second"] for r in rounds]),
        "processed_at_last_250": summary([r["processed_at_last_250"] for r in rounds]),
        "receipt_seconds": summary([r["receipt_seconds"] for r in rounds]),
        "end_to_end_seconds": summary([r["end_to_end_seconds"] for r in rounds]),
        "wall_ms_per_message": round(1000 / end_to_end["median"], 3),
        "accepted": last["accepted"],
        "refused_at_rcpt": last["refused_at_rcpt"],
        "failed": sum(r["outcomes"]["failed"] for r in rounds),
        "smtp_errors": sum(r["smtp_errors"] for r in rounds),
        "outcomes_identical_across_rounds": _stable(rounds, "by_generated_label"),
        "outcomes_last_run": last["outcomes"],
        "generated": last["generated"],
        "acknowledgements_sent_last_run": last["acknowledgements_sent"],
        "bytes_per_message": round(last["bytes_per_message"]),
        "build_seconds": round(last["build_seconds"], 2),
        "cpu_ms_per_message": cpu,
        "cpu_ms_per_message_total": round(sum(cpu.values()), 3),
        "worker_peak_rss_mb": round(rss["worker"], 1) if rss["worker"] else None,
        "receiver_peak_rss_mb": round(rss["receiver"], 1) if rss["receiver"] else None,
        "parameters": {
            "messages": args.messages,
            "prospects": args.prospects,
            "runs": args.runs,
            "senders": args.senders,
            "warmup_messages": args.warmup_messages,
            "acknowledge": args.acknowledge,
            "synchronous_commit_override": args.synchronous_commit,
            "seed": args.seed,
            "worker": "1 x celery --pool=solo",
            "broker": "redis",
            "between_rounds": "fresh community, prospects and Message-IDs (no reset)",
            "engine": engine_version(),
        },
    }


def human(result: dict[str, Any]) -> list[str]:
    """The summary lines printed without ``--json``."""

    def rate(figures: dict[str, Any]) -> str:
        return (
            f"{figures['median']:.0f}/s median (min {figures['min']:.0f}, max "
            f"{figures['max']:.0f}, spread {figures['spread_percent']} %, runs "
            f"{', '.join(f'{v:.0f}' for v in figures['runs'])})"
        )

    out = result["outcomes_last_run"]
    verdict = "met" if result["meets_target"] else "NOT MET"
    machine = result["machine"]
    database = result["parameters"]["database_settings"]
    return [
        f"messages per round : {result['messages']} ({result['accepted']} accepted, refused at "
        f"RCPT {result['refused_at_rcpt']}), {result['bytes_per_message']} bytes on average",
        f"receipt            : {rate(result['receipt_per_second'])}",
        f"end to end (P7)    : {rate(result['end_to_end_per_second'])}; target >= "
        f"{TARGET:.0f}/s with one worker: {verdict}",
        f"worker after receipt: {rate(result['after_receipt_per_second'])} (processed at the "
        f"last 250: {result['processed_at_last_250']['median']:.0f})",
        f"kinds              : {out['kinds']}",
        f"actions            : {out['actions']}",
        f"needs review       : {out['needs_review']}; failed (all rounds): {result['failed']}; "
        f"SMTP errors: {result['smtp_errors']}",
        "CPU ms per message : "
        + ", ".join(f"{role} {ms}" for role, ms in result["cpu_ms_per_message"].items())
        + f" (total {result['cpu_ms_per_message_total']})",
        f"peak RSS           : worker {result['worker_peak_rss_mb']} MiB, receiver "
        f"{result['receiver_peak_rss_mb']} MiB",
        f"one-row commit     : {database['commit_ms_median']} ms median before the rounds, "
        f"{database['commit_ms_median_at_end']} ms after (fsync, on a shared disk)",
        f"machine            : {machine['cpus_usable']} CPUs, load average "
        f"{machine['load_average_at_start']} at start, {machine['load_average_at_end']} at end; "
        f"commit {result['parameters']['engine']['commit']}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the bench; with ``--json`` the JSON object is the only line on stdout."""
    args = parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="amorce-inbound-"))
    try:
        result = run(args, workdir, say)
    except Exception as exc:  # reported on stderr and in the JSON line, never hidden
        if not isinstance(exc, BenchError):
            traceback.print_exc()
        print(f"inbound_throughput: {exc}\n(logs kept in {workdir})", file=sys.stderr)
        if args.json:
            error = (str(exc) or repr(exc)).splitlines()[0]
            print(json.dumps({"bench": "inbound_throughput", "error": error}))
        return 1
    if result["failed"] or result["smtp_errors"] or not result["outcomes_identical_across_rounds"]:
        print(
            f"inbound_throughput: WARNING: {result['failed']} message(s) failed, "
            f"{result['smtp_errors']} SMTP error(s), outcomes identical across rounds: "
            f"{result['outcomes_identical_across_rounds']}; see outcomes_last_run "
            f"(logs kept in {workdir})",
            file=sys.stderr,
        )
    elif not args.keep_logs:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for line in human(result):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
