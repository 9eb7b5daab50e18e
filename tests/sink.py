"""An aiosmtpd SMTP sink for tests: records every message and answers as scripted per recipient."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from functools import cached_property
from typing import Any, cast

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
DROP = "drop"  # a scripted reply: accept RCPT, then close the connection after DATA, unanswered

# Ports of the sinks now listening; the test guard lets SMTP connections reach only these.
ACTIVE_PORTS: set[int] = set()
_ACTIVE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Envelope:
    """One message as the sink received it; parsed when first read, so a busy sink stays fast."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float

    @cached_property
    def message(self) -> EmailMessage:
        """The message, parsed with ``email.policy.default``."""
        return cast(EmailMessage, message_from_bytes(self.data, policy=policy.default))

    def header(self, name: str) -> str | None:
        """One header's raw value, read without parsing the body (cheap for thousands)."""
        return BytesHeaderParser(policy=policy.compat32).parsebytes(self.data).get(name)


class _Handler:
    """aiosmtpd hooks: scripted RCPT replies, recorded DATA."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.sink._next_reply(address)
        if reply is not None and reply != DROP:
            return reply
        envelope.rcpt_tos.append(address)
        if reply == DROP:
            envelope.sink_drop = True
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)  # a slow relay: other connections go on meanwhile
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else raw.encode()
        item = Envelope(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            received_at=time.time(),
        )
        if getattr(envelope, "sink_drop", False):
            self.sink._record(item, dropped=True)
            server.transport.abort()
            return "421 4.4.2 connection dropped by the test sink"
        self.sink._record(item, dropped=False)
        return "250 2.0.0 Message accepted"


class Sink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives.

    ``reply_for`` scripts the answer to ``RCPT TO`` by recipient address or domain (the address
    wins). A value is either one reply, given every time (``"550 5.1.1 no such user"``), or a list
    of replies consumed one per attempt, after which the sink accepts (``["421 4.3.0 busy"] * 3``).
    The reply :data:`DROP` accepts the recipient then closes the connection after DATA without
    answering; such messages land in :attr:`dropped`, not in :attr:`messages`. ``delay`` makes
    the server take that many seconds over each message before it answers DATA.
    """

    def __init__(self) -> None:
        self.reply_for: dict[str, str | list[str]] = {}
        self.delay = 0.0
        self._lock = threading.Condition()
        self._envelopes: list[Envelope] = []
        self._dropped: list[Envelope] = []
        self._controller: Controller | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Sink:
        """Listen on a free port of 127.0.0.1."""
        for _attempt in range(5):
            port = _free_port()
            controller = Controller(_Handler(self), hostname=HOST, port=port, ready_timeout=5)
            try:
                controller.start()
            except (OSError, RuntimeError, TimeoutError):  # the port was taken meanwhile
                continue
            self._controller, self.port = controller, port
            with _ACTIVE_LOCK:
                ACTIVE_PORTS.add(port)
            return self
        raise RuntimeError("the SMTP sink found no free port")

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            with _ACTIVE_LOCK:
                ACTIVE_PORTS.discard(self.port)
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The ``AMORCE_SMTP_URL`` that reaches this sink."""
        return f"smtp://{HOST}:{self.port}"

    # -- what was received ------------------------------------------------------------------

    @property
    def envelopes(self) -> list[Envelope]:
        """Every accepted message with its envelope, oldest first (a copy)."""
        with self._lock:
            return list(self._envelopes)

    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed with ``email.policy.default`` (a copy)."""
        return [e.message for e in self.envelopes]

    @property
    def dropped(self) -> list[Envelope]:
        """Messages whose connection the sink dropped after DATA."""
        with self._lock:
            return list(self._dropped)

    def to(self, address: str) -> list[EmailMessage]:
        """The accepted messages whose envelope names this recipient."""
        wanted = address.lower()
        return [e.message for e in self.envelopes if wanted in (r.lower() for r in e.rcpt_tos)]

    def wait_for(
        self,
        count: int | None = None,
        *,
        until: Callable[[list[Envelope]], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[Envelope]:
        """Block until ``count`` messages arrived (or ``until`` holds); fail after ``timeout``."""

        def done() -> bool:
            if until is not None:
                return until(list(self._envelopes))
            return len(self._envelopes) >= (count or 1)

        with self._lock:
            if not self._lock.wait_for(done, timeout):
                raise TimeoutError(
                    f"the sink holds {len(self._envelopes)} message(s) after {timeout} s"
                )
            return list(self._envelopes)

    def clear(self) -> None:
        """Forget what was received (the scripted replies stay)."""
        with self._lock:
            self._envelopes.clear()
            self._dropped.clear()

    # -- called from the server thread ------------------------------------------------------

    def _script(self, address: str) -> str | list[str] | None:
        address = address.lower()
        if address in self.reply_for:
            return self.reply_for[address]
        return self.reply_for.get(address.rpartition("@")[2])

    def _next_reply(self, address: str) -> str | None:
        with self._lock:
            script = self._script(address)
            if isinstance(script, list):
                return script.pop(0) if script else None
            return script

    def _record(self, item: Envelope, *, dropped: bool) -> None:
        with self._lock:
            (self._dropped if dropped else self._envelopes).append(item)
            self._lock.notify_all()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
