"""What tests that start Amorce processes share: a Redis database per xdist worker and the
environment of a subprocess pointed at this test's database, broker and SMTP sink."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# Redis databases: 10+N for tests running workers, 12+N for the throttle tests (N: xdist worker).
STACK_DB, THROTTLE_DB = 10, 12


def redis_db(base: int) -> int:
    """``base`` plus this xdist worker's number, so parallel tests never share a database."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return base + int(re.sub(r"\D", "", worker) or 0)


def subprocess_env(
    *, database_url: str, broker_url: str, smtp_url: str, instance: Path, **settings: str
) -> dict[str, str]:
    """This process's environment without its AMORCE_* variables, plus the given settings
    (``sweep_seconds="1"`` becomes ``AMORCE_SWEEP_SECONDS=1``)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AMORCE_")}
    env.update(
        AMORCE_DATABASE_URL=database_url,
        AMORCE_BROKER_URL=broker_url,
        AMORCE_SMTP_URL=smtp_url,
        AMORCE_INSTANCE_PATH=str(instance),
        AMORCE_SECRET_KEY="s" * 40,
        AMORCE_BASE_URL="http://127.0.0.1:5000",
    )
    env.update({f"AMORCE_{name.upper()}": value for name, value in settings.items()})
    return env


# One Celery worker process, as the tests run it: solo pool, quiet, no cluster chatter.
WORKER = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "workers.app",
    "worker",
    "--pool=solo",
    "--loglevel=WARNING",
    "--without-gossip",
    "--without-mingle",
]


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``args`` with its output in ``log``."""
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Ask the process to stop, then make it."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
