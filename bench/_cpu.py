"""Where the CPU goes during a round: per-process CPU seconds from /proc, grouped by role."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from webapp.db import Database

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def pids_named(name: str) -> list[int]:
    """Processes whose command name is ``name`` (read from /proc, signalled never)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def backend_pids(database: Database) -> list[int]:
    """The PostgreSQL server processes serving this database's connections."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return [int(pid) for (pid,) in rows]


class CpuMeter:
    """CPU seconds per role between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self._before: dict[str, dict[int, float]] = {}

    def start(self, roles: dict[str, list[int]]) -> None:
        """Note each process's CPU time now."""
        self._before = {role: {p: cpu_seconds(p) for p in pids} for role, pids in roles.items()}

    def stop(self, roles: dict[str, list[int]]) -> dict[str, float]:
        """CPU seconds used per role since :meth:`start` (processes new since then count fully)."""
        used = {}
        for role, pids in roles.items():
            before = self._before.get(role, {})
            used[role] = sum(max(cpu_seconds(p) - before.get(p, 0.0), 0.0) for p in pids)
        return used
