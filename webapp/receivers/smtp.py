"""``amorce inbound smtp``: an SMTP (or LMTP) receiver for the mail server to hand replies to.

It accepts only Amorce's own signed addresses (``reply+…``, ``unsubscribe+…``, ``bounce+…`` at
``AMORCE_REPLY_DOMAIN``) and refuses everything else, so it can never be used to relay. A message
is answered ``250`` only once it is stored in the database; if the database is unreachable the
sender gets a temporary ``451`` and tries again later, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from celery import Celery

from webapp.config import Config
from webapp.db import Database
from webapp.services.inbound import accepts
from webapp.services.inbound.pipeline import MAX_MESSAGE_BYTES

from . import store_and_queue

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd hooks: refuse unknown recipients, store what is accepted."""

    def __init__(self, config: Config, database: Database, celery: Celery | None) -> None:
        self.config = config
        self.database = database
        self.celery = celery

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not accepts(self.config, address):
            return "550 5.7.1 Relaying denied: no such address here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else data.encode()
        store = partial(
            store_and_queue,
            self.database,
            self.celery,
            raw,
            channel="smtp",
            envelope_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
        )
        try:
            await asyncio.get_running_loop().run_in_executor(None, store)
        except Exception:  # the database is down or full: the sender keeps it and retries
            log.exception("could not store a received message")
            return "451 4.3.0 Temporary failure, please try again later"
        if isinstance(server, LMTP):
            # LMTP answers once per recipient (RFC 2033).
            return "\r\n".join("250 2.0.0 Stored" for _ in envelope.rcpt_tos)
        return "250 2.0.0 Stored"


class _LenientSMTP(SMTP):
    """Takes lines longer than RFC 5321's 1000 octets: some clients send them, and a reply
    refused for its form is a reply lost."""

    line_length_limit = 65536


class _LenientLMTP(LMTP):
    line_length_limit = 65536


class _Controller(Controller):
    """A controller that can speak LMTP instead of SMTP."""

    def __init__(self, handler: InboundHandler, *, lmtp: bool, **kwargs: Any) -> None:
        self.lmtp = lmtp
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        cls: type[SMTP] = _LenientLMTP if self.lmtp else _LenientSMTP
        return cls(
            self.handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            hostname=self.hostname,
            ident="Amorce inbound",
        )


def start_receiver(
    config: Config,
    database: Database,
    celery: Celery | None,
    *,
    host: str | None = None,
    port: int | None = None,
    lmtp: bool = False,
) -> Controller:
    """Start the receiver in a background thread; call ``.stop()`` to end it."""
    controller = _Controller(
        InboundHandler(config, database, celery),
        lmtp=lmtp,
        hostname=host or config.inbound_host,
        port=port if port is not None else config.inbound_port,
        ready_timeout=5,
    )
    controller.start()
    return controller
