"""An aiosmtpd sink in its own process: counts accepted messages and notes when the last arrived."""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import time
from typing import Any

from aiosmtpd.smtp import SMTP

HOST = "127.0.0.1"


class _Counters:
    """Shared memory written by the sink process only, read by the bench."""

    def __init__(self, context: Any) -> None:
        self.port: Any = context.Value(ctypes.c_int, 0, lock=False)
        self.count: Any = context.Value(ctypes.c_longlong, 0, lock=False)
        self.size: Any = context.Value(ctypes.c_longlong, 0, lock=False)
        self.last_at: Any = context.Value(ctypes.c_double, 0.0, lock=False)


class _CountingHandler:
    """Accept every message; count it, add its size, stamp the time (CLOCK_MONOTONIC)."""

    def __init__(self, counters: _Counters) -> None:
        self.counters = counters

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        counters = self.counters
        counters.size.value += len(envelope.original_content or envelope.content or b"")
        counters.last_at.value = time.monotonic()
        counters.count.value += 1
        return "250 2.0.0 Message accepted"


def _serve(counters: _Counters, ready: Any) -> None:
    """The sink process: one event loop, no thread, listening on a free port."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = _CountingHandler(counters)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, hostname="bench-sink", enable_SMTPUTF8=True, loop=loop),
            host=HOST,
            port=0,
            backlog=512,
        )
    )
    counters.port.value = int(server.sockets[0].getsockname()[1])
    ready.set()
    loop.run_forever()


class SinkProcess:
    """The running sink; ``count``, ``size`` and ``last_at`` are live readings."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._counters = _Counters(context)
        ready = context.Event()
        self._process = context.Process(
            target=_serve, args=(self._counters, ready), name="bench-sink", daemon=True
        )
        self._process.start()
        if not ready.wait(30):
            self._process.kill()
            raise RuntimeError("the SMTP sink process did not start within 30 s")
        self.port = self._counters.port.value

    @property
    def url(self) -> str:
        """The ``AMORCE_SMTP_URL`` that reaches the sink."""
        return f"smtp://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The sink's process id."""
        return self._process.pid

    @property
    def count(self) -> int:
        """Messages accepted since the start."""
        return self._counters.count.value

    @property
    def size(self) -> int:
        """Bytes of the messages accepted since the start."""
        return self._counters.size.value

    @property
    def last_at(self) -> float:
        """``time.monotonic()`` in the sink when it accepted the latest message."""
        return self._counters.last_at.value

    def alive(self) -> bool:
        """Whether the sink process still runs."""
        return self._process.is_alive()

    def stop(self) -> None:
        """End the sink process."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(10)
