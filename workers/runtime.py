"""What a worker process needs, built once per process from its Celery app's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from celery import current_app

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer, SmtpConnection
from webapp.throttle import Throttle, throttle_for


@dataclass
class WorkerRuntime:
    """Settings, database, compiled templates, the SMTP connection kept open between batches
    and the rate limits of one worker process."""

    config: Config
    database: Database
    renderer: EmailRenderer
    connection: SmtpConnection
    throttle: Throttle


@cache
def _runtime(pid: int) -> WorkerRuntime:
    config: Config = current_app.conf.get("amorce_config") or Config.from_env()
    return WorkerRuntime(
        config,
        Database(config.database_url),
        EmailRenderer(),
        SmtpConnection.for_config(config),
        throttle_for(config),
    )


def runtime() -> WorkerRuntime:
    """The runtime of this process (rebuilt after a fork, never shared across one)."""
    return _runtime(os.getpid())
