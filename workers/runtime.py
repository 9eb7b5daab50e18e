"""What a worker process needs, built once per process from its Celery app's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from celery import current_app

from webapp.config import Config
from webapp.db import Database
from webapp.mail import EmailRenderer


@dataclass
class WorkerRuntime:
    """Settings, database and compiled templates of one worker process."""

    config: Config
    database: Database
    renderer: EmailRenderer


@cache
def _runtime(pid: int) -> WorkerRuntime:
    config: Config = current_app.conf.get("amorce_config") or Config.from_env()
    return WorkerRuntime(config, Database(config.database_url), EmailRenderer())


def runtime() -> WorkerRuntime:
    """The runtime of this process (rebuilt after a fork, never shared across one)."""
    return _runtime(os.getpid())
