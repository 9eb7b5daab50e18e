"""The local mail catcher of ``amorce up``: an SMTP server that files every message in a Maildir."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler storing each message, envelope recipients included."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(str(path), create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else data.encode()
        header = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        self.box.add(header + raw)
        return "250 Message accepted for delivery"


def start_catcher(path: Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    """Start the catcher in a background thread; call ``.stop()`` to end it."""
    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    return controller
