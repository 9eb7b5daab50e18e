"""The worker's entry point: ``celery -A workers.app worker`` (or ``amorce worker``)."""

from __future__ import annotations

from webapp.config import Config
from workers.factory import make_celery

config = Config.from_env()
config.instance_path.mkdir(parents=True, exist_ok=True)
app = make_celery(config)
