"""Builds the Celery application for a configuration."""

from __future__ import annotations

from celery import Celery

from webapp.config import Config
from workers.schedule import beat_schedule

QUEUE = "amorce"


def make_celery(config: Config) -> Celery:
    """A Celery app for ``config``: JSON only, late acks, one task prefetched at a time."""
    app = Celery(
        "amorce",
        broker=config.broker_url,
        include=["workers.activities", "workers.campaigns", "workers.inbound"],
        set_as_current=False,
    )
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options=_transport_options(config),
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        beat_schedule=beat_schedule(config),
        beat_schedule_filename=str(config.instance_path / "celerybeat-schedule"),
        worker_hijack_root_logger=False,
        amorce_config=config,
    )
    return app


def _transport_options(config: Config) -> dict[str, int]:
    """Redis redelivers an unacknowledged task after the visibility timeout; kombu looks for such
    tasks every 100 s by default, so a short timeout also gets a matching scan period."""
    if not config.broker_url.startswith("redis"):
        return {}
    options = {"visibility_timeout": config.visibility_timeout}
    if config.visibility_timeout < 100:
        options.update(
            unacked_restore_interval=max(1, config.visibility_timeout // 2),
            unacked_restore_throttle=1,
        )
    return options
