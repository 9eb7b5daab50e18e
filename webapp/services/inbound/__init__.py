"""Received mail: who it is from, what kind it is, what the person means, what Amorce does.

The pieces are plain functions over a parsed message; :mod:`.pipeline` strings them together
over the stored rows and is imported by the adapters (receivers, tasks, views) that need it.
"""

from __future__ import annotations

from .addresses import accepts, attribute, signed_address
from .automatic import automatic_reason

__all__ = ["accepts", "attribute", "automatic_reason", "signed_address"]
