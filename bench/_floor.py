"""The floor: pre-rendered ~4 KB messages over K persistent SMTP connections, K processes."""

from __future__ import annotations

import multiprocessing
import smtplib
import time
from email import charset as email_charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, make_msgid
from typing import Any

from _sink import HOST, SinkProcess

SENDER = "floor@bench.example.org"
POOL = 200  # distinct pre-rendered messages per sender process, sent in turn
_QP = email_charset.Charset("utf-8")
_QP.body_encoding = email_charset.QP
_POLICY = compat32.clone(linesep="\r\n")

_PARAGRAPH = (
    "Nous lançons une communauté de pratique et nous pensons que votre expérience ferait "
    "la différence. La participation est libre : vous choisissez votre degré d'engagement. "
)


def prerendered(index: int) -> tuple[str, bytes]:
    """One personalised multipart/alternative message of about 4 KB, as the relay sees it."""
    recipient = f"floor{index}@example.org"
    link = f"https://amorce.example.org/r/{make_msgid()[1:25]}"
    text = f"Bonjour Prénom{index},\n\n" + _PARAGRAPH * 7 + f"\n\n{link}\n"
    html = (
        f'<!DOCTYPE html><html lang="fr"><body style="margin:0;padding:0">'
        f"<p>Bonjour Prénom{index},</p>" + f"<p>{_PARAGRAPH}</p>" * 7 + f'<p><a href="{link}" '
        'style="display:inline-block;background:#1f5f8b;color:#fff;padding:12px 20px">'
        "Je suis intéressé·e</a></p></body></html>"
    )
    message = MIMEMultipart("alternative")
    message["Subject"] = Header("Rejoindre la communauté « Pédagogie numérique »", "utf-8")  # type: ignore[assignment]
    message["From"] = f"Coordination <{SENDER}>"
    message["To"] = f"Prénom{index} <{recipient}>"
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="bench.example.org")
    message["List-Unsubscribe"] = f"<{link}>"
    message.attach(MIMEText(text, "plain", _QP))  # type: ignore[arg-type]
    message.attach(MIMEText(html, "html", _QP))  # type: ignore[arg-type]
    return recipient, message.as_bytes(policy=_POLICY)


def _sender(port: int, count: int, first: int, barrier: Any) -> None:
    """Connect, pre-render, wait for the start, then send ``count`` messages in turn."""
    messages = [prerendered(first + i) for i in range(min(count, POOL))]
    smtp = smtplib.SMTP(HOST, port, timeout=60)
    smtp.ehlo()
    barrier.wait()
    for i in range(count):
        recipient, data = messages[i % len(messages)]
        smtp.sendmail(SENDER, [recipient], data)
    smtp.quit()


def measure_floor(sink: SinkProcess, total: int, senders: int, timeout: float) -> dict[str, float]:
    """Send ``total`` messages over ``senders`` connections; emails/s to the sink's last one."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(senders + 1)
    shares = [total // senders + (1 if i < total % senders else 0) for i in range(senders)]
    processes = [
        context.Process(
            target=_sender, args=(sink.port, share, i * 1_000_000, barrier), daemon=True
        )
        for i, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    base = sink.count
    barrier.wait(timeout=120)
    started = time.monotonic()
    deadline = started + timeout
    while sink.count < base + total:
        if time.monotonic() > deadline or not any(p.is_alive() for p in processes):
            if sink.count >= base + total:
                break
            for process in processes:
                process.kill()
            raise RuntimeError(
                f"floor: the sink took {sink.count - base} of {total} messages "
                f"(sender exit codes {[p.exitcode for p in processes]})"
            )
        time.sleep(0.005)
    elapsed = sink.last_at - started
    for process in processes:
        process.join(30)
    return {"emails_per_second": total / elapsed, "seconds": elapsed}
