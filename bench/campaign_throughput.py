"""P1, P2, P3: campaign throughput end to end on the real stack, beside its floor and the naive way.

    python bench/campaign_throughput.py --recipients 10000 --workers 2 --runs 3 --json

It needs PostgreSQL (127.0.0.1:5432, trust auth, user postgres) and Redis (127.0.0.1:6379; db 15
is flushed). It creates a throw-away database ``amorce_bench_<pid>`` and drops it at the end
(``--database-url`` uses an existing database instead and leaves it). An aiosmtpd sink runs in a
process of its own and only counts messages and stamps the last one. Each round, one after the
other on the same sink and the same number of processes K:

- ``floor``: K processes, one persistent ``smtplib.SMTP`` each, sending pre-rendered ~4 KB
  messages (min(max(N, 2000), 20000) in all): the most this box can push through the sink.
- ``amorce``: a recruitment campaign to N bilingual prospects through Amorce's public entry
  points (``launch_campaign``, then ``queue_pending``) and its Celery workers
  (``celery -A workers.app worker``): from the launch call to the last message accepted by the
  sink. ``ratio`` = amorce / floor (P1 target >= 0.5). ``launch_seconds`` is the launch call
  alone, commit included (P3: 100,000 rows in <= 5 s, growing linearly: compare 10k and 100k).
- ``naive``: the naive Flask way (``bench/naive_tasks.py``): one task per email, a new SMTP
  connection each, ``EmailMessage``, on min(N, 2000) messages with the same K processes.

One warm-up round (smaller) comes first; figures are the median of ``--runs`` rounds with min,
max and spread. ``worker_peak_rss_mb`` is VmHWM from /proc for each Amorce worker process (the
prefork parent and its pool children), read after the last round. ``cpu_ms_per_email`` says
where the time goes: CPU ms per email of the workers, of the PostgreSQL backends serving the
bench database, of redis-server (shared with anyone else), of the sink and of this process.

Workers run as one ``--pool=prefork --concurrency=K`` worker (the default; on 2 cores it was a
little faster than K ``--pool=solo`` workers and used less memory); ``--pool solo`` starts K solo
workers instead. ``--synchronous-commit off`` is a diagnostic for the cost of commits.

P2 (peak RSS of a worker at 100,000 recipients <= 1.25 x at 10,000) takes two invocations:

    python bench/campaign_throughput.py --recipients 10000 --json > /tmp/p2-10k.json
    python bench/campaign_throughput.py --recipients 100000 --runs 1 --json > /tmp/p2-100k.json

then divide ``worker_peak_rss_mb.max`` of the second by that of the first, e.g.
``tail -n1 /tmp/p2-100k.json | jq .worker_peak_rss_mb.max``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import redis
from _rounds import Stack, amorce_round, floor_round, naive_round
from _sink import SinkProcess
from _stack import (
    REPO,
    BenchError,
    Workers,
    code_version,
    peak_rss_mb,
    seed_community,
    server_settings,
    throwaway_database,
)
from celery import Celery
from sqlalchemy.engine import make_url

from webapp.config import Config
from workers.factory import make_celery

BENCH = Path(__file__).resolve().parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/15"


def summary(values: list[float]) -> dict[str, Any]:
    """Median, min, max, spread (max - min over the median, in %) and every run."""
    median = statistics.median(values)
    return {
        "median": round(median, 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "spread_percent": round(100 * (max(values) - min(values)) / median, 1) if median else 0,
        "runs": [round(v, 2) for v in values],
    }


def median_by_role(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """The median over rounds of each role's CPU ms per email."""
    roles = rounds[0]["cpu_ms_per_email"]
    return {
        role: round(statistics.median(r["cpu_ms_per_email"][role] for r in rounds), 3)
        for role in roles
    }


def machine_info() -> dict[str, Any]:
    """The box: cores, memory, load, Python."""
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal")), 0)
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def engine_version() -> dict[str, Any]:
    """Which engine was measured: the commit and a digest of the (maybe uncommitted) engine."""
    return code_version(
        sorted((REPO / "webapp" / "services" / "deliveries").glob("*.py")), "deliveries_sha256"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="K worker processes (and floor)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--pool", choices=["prefork", "solo"], default="prefork")
    parser.add_argument("--naive-recipients", type=int, help="default min(N, 2000); 0 skips")
    parser.add_argument("--database-url", help="use this existing database instead")
    parser.add_argument("--postgres-admin-url", default=ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL, help="flushed at the start")
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        help="diagnostic: set it on the throw-away database (default: the server's)",
    )
    parser.add_argument("--stall-timeout", type=float, default=60.0, help="s without progress")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir and logs")
    parser.add_argument("--json", action="store_true", help="progress to stderr, JSON on stdout")
    args = parser.parse_args(argv)
    if args.recipients < 1 or args.workers < 1 or args.runs < 1 or args.batch_size < 1:
        parser.error("--recipients, --workers, --runs and --batch-size must be positive")
    if args.synchronous_commit and args.database_url:
        parser.error("--synchronous-commit applies to the throw-away database only")
    if args.naive_recipients is None:
        args.naive_recipients = min(args.recipients, 2000)
    return args


def worker_env(
    args: argparse.Namespace, url: str, sink: SinkProcess, workdir: Path
) -> dict[str, str]:
    """The environment of every worker process, Amorce's and the naive one's."""
    env = {key: v for key, v in os.environ.items() if not key.startswith("AMORCE_")}
    env.update(
        AMORCE_DATABASE_URL=url,
        AMORCE_BROKER_URL=args.redis_url,
        AMORCE_SMTP_URL=sink.url,
        AMORCE_SECRET_KEY=secrets.token_hex(20),
        AMORCE_BASE_URL="https://amorce.bench.example.org",
        AMORCE_INSTANCE_PATH=str(workdir / "instance"),
        AMORCE_ENV="production",
        AMORCE_BATCH_SIZE=str(args.batch_size),
        BENCH_BROKER_URL=args.redis_url,
        BENCH_SMTP_PORT=str(sink.port),
    )
    return env


def run(args: argparse.Namespace, workdir: Path, say: Any) -> dict[str, Any]:
    """Set the stack up, run the warm-up and the rounds, tear it down; returns the figures."""
    n, k = args.recipients, args.workers
    floor_count = min(max(n, 2000), 20_000)
    warm_count = min(n, 1000)
    machine = machine_info()
    began = time.monotonic()
    redis.Redis.from_url(args.redis_url).flushdb()
    with contextlib.ExitStack() as cleanup:
        sink = SinkProcess()
        cleanup.callback(sink.stop)
        url, database = throwaway_database(
            cleanup,
            admin_url=args.postgres_admin_url,
            name=f"amorce_bench_{os.getpid()}",
            existing_url=args.database_url,
            synchronous_commit=args.synchronous_commit,
        )
        tag = f"{os.getpid()}-{secrets.token_hex(3)}"
        community_id = seed_community(database, f"bench-{tag}", f"b{tag}-", n)
        warm_id = seed_community(database, f"warm-{tag}", f"w{tag}-", warm_count)
        say(f"{time.monotonic() - began:.0f} s: seeded {n} + {warm_count} prospects")

        env = worker_env(args, url, sink, workdir)
        celery = make_celery(Config.from_env(env))
        naive = Celery("naive-producer", broker=args.redis_url, set_as_current=False)
        naive.conf.update(task_serializer="json", accept_content=["json"])
        amorce_workers = Workers(
            "amorce",
            "workers.app",
            pool=args.pool,
            concurrency=k,
            env=env,
            cwd=REPO,
            log_path=workdir / "amorce.log",
        )
        naive_workers = Workers(
            "naive",
            "naive_tasks",
            pool=args.pool,
            concurrency=k,
            env=env,
            cwd=BENCH,
            log_path=workdir / "naive.log",
        )
        cleanup.callback(amorce_workers.stop)
        amorce_workers.start(celery)
        if args.naive_recipients:
            cleanup.callback(naive_workers.stop)
            naive_workers.start(naive)
        stack = Stack(
            database,
            celery,
            naive,
            sink,
            amorce_workers,
            naive_workers,
            args.batch_size,
            args.stall_timeout,
        )
        say(f"{time.monotonic() - began:.0f} s: workers ready, warm-up")
        floor_round(stack, min(floor_count, 2000), k)
        amorce_round(stack, warm_id, warm_count)
        if args.naive_recipients:
            naive_round(stack, min(args.naive_recipients, 100))
        floors, amorces, naives = [], [], []
        for i in range(args.runs):
            floors.append(floor_round(stack, floor_count, k))
            amorces.append(amorce_round(stack, community_id, n))
            if args.naive_recipients:
                naives.append(naive_round(stack, args.naive_recipients))
            say(
                f"{time.monotonic() - began:.0f} s: round {i + 1}: "
                + ", ".join(
                    f"{name} {rounds[-1]['emails_per_second']:.0f}/s"
                    for name, rounds in (("floor", floors), ("amorce", amorces), ("naive", naives))
                    if rounds
                )
            )
        rss = [
            {"pid": pid, "role": role, "vmhwm_mb": round(mb, 1)}
            for pid, role in amorce_workers.pids()
            if (mb := peak_rss_mb(pid)) is not None
        ]
        settings = server_settings(database)
        say(f"{time.monotonic() - began:.0f} s: stopping the workers")

    say(f"{time.monotonic() - began:.0f} s: done")
    result = report(args, floors, amorces, naives, rss)
    result["parameters"].update(
        floor_messages=floor_count,
        naive_messages=args.naive_recipients,
        warmup_recipients=warm_count,
        database=make_url(url).get_backend_name(),
        database_settings=settings,
    )
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = machine
    return result


def report(
    args: argparse.Namespace,
    floors: list[dict[str, Any]],
    amorces: list[dict[str, Any]],
    naives: list[dict[str, Any]],
    rss: list[dict[str, Any]],
) -> dict[str, Any]:
    """The JSON object: medians, spreads, ratios, memory, launch time, parameters."""
    n = args.recipients
    amorce_rate = summary([r["emails_per_second"] for r in amorces])
    floor_rate = summary([r["emails_per_second"] for r in floors])
    launch = summary([r["launch_seconds"] for r in amorces])
    result: dict[str, Any] = {"bench": "campaign_throughput"}
    result["amorce"] = {
        "emails_per_second": amorce_rate,
        "send_phase_emails_per_second": summary(
            [r["send_phase_emails_per_second"] for r in amorces]
        ),
        "seconds": summary([r["seconds"] for r in amorces]),
        "message_bytes": round(amorces[-1]["message_bytes"]),
        "campaign_completed": all(r["campaign_completed"] for r in amorces),
        "completed_after_last_email_seconds": summary(
            [r["completed_after_last_email_seconds"] for r in amorces]
        ),
        "duplicates": sum(r["received"] - n for r in amorces),
        "states_last_run": amorces[-1]["states"],
        "cpu_ms_per_email": median_by_role(amorces),
        "wall_ms_per_email": round(1000 / amorce_rate["median"], 3),
    }
    result["floor"] = {
        "emails_per_second": floor_rate,
        "connections": args.workers,
        "message_bytes": round(floors[-1]["message_bytes"]),
        "cpu_ms_per_email": median_by_role(floors),
    }
    result["ratio"] = round(amorce_rate["median"] / floor_rate["median"], 3)
    result["ratio_runs"] = [
        round(a["emails_per_second"] / f["emails_per_second"], 3)
        for a, f in zip(amorces, floors, strict=True)
    ]
    if naives:
        naive_rate = summary([r["emails_per_second"] for r in naives])
        result["naive"] = {
            "emails_per_second": naive_rate,
            "message_bytes": round(naives[-1]["message_bytes"]),
            "amorce_over_naive": round(amorce_rate["median"] / naive_rate["median"], 2),
            "cpu_ms_per_email": median_by_role(naives),
        }
    result["worker_peak_rss_mb"] = {
        "processes": rss,
        "max": max((p["vmhwm_mb"] for p in rss), default=None),
    }
    result["launch_seconds"] = launch
    result["launch_rows_per_second"] = round(n / launch["median"])
    result["parameters"] = {
        "recipients": n,
        "workers": args.workers,
        "pool": args.pool,
        "batch_size": args.batch_size,
        "runs": args.runs,
        "broker": "redis",
        "synchronous_commit_override": args.synchronous_commit,
        "engine": engine_version(),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the bench; the JSON object is the last line printed."""
    args = parse_args(argv)

    def say(line: str) -> None:
        if not args.json:
            print(line, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="amorce-bench-"))
    try:
        result = run(args, workdir, say)
    except Exception as exc:  # reported on stderr and in the JSON line, never hidden
        if not isinstance(exc, BenchError):
            traceback.print_exc()
        print(f"campaign_throughput: {exc}\n(logs kept in {workdir})", file=sys.stderr)
        error = (str(exc) or repr(exc)).splitlines()[0]
        print(json.dumps({"bench": "campaign_throughput", "error": error}))
        return 1
    if not args.keep_logs:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
