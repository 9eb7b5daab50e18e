"""The beat schedule, as data: which sweep runs how often."""

from __future__ import annotations

from typing import Any

from webapp.config import Config


def beat_schedule(config: Config) -> dict[str, dict[str, Any]]:
    """Periodic sweeps that re-queue work from the database."""
    return {
        "campaigns.sweep": {"task": "campaigns.sweep", "schedule": config.sweep_seconds},
        "inbound.sweep": {"task": "inbound.sweep", "schedule": config.sweep_seconds},
        "inbound.purge": {"task": "inbound.purge", "schedule": 3600.0},
        # Invitations go days ahead and feedback an hour after the end: five minutes is soon.
        "activities.tick": {"task": "activities.tick", "schedule": 300.0},
    }
