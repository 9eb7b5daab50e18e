"""The outbox: claim due deliveries, send them in chunks, record outcomes, sweep.

``claims`` leases rows, ``sending`` renders and sends them, ``outcomes`` records what happened,
``recovery`` sweeps up what dead workers left behind.
"""

from .claims import claim_batch
from .outcomes import BatchOutcome
from .recovery import sweep
from .sending import CHUNK, FAULT_HOOK, MAX_ATTEMPTS, RETRY_DELAY, send_claimed

__all__ = [
    "CHUNK",
    "FAULT_HOOK",
    "MAX_ATTEMPTS",
    "RETRY_DELAY",
    "BatchOutcome",
    "claim_batch",
    "send_claimed",
    "sweep",
]
