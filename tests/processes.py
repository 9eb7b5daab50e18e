"""What tests that start Amorce processes share: a Redis database per xdist worker and the
environment of a subprocess pointed at this test's database, broker and SMTP sink."""

from __future__ import annotations

import os
import re
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
