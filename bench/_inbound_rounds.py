"""One inbound round: push pre-built messages to the SMTP receiver, wait until all are processed."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from _cpu import CpuMeter, backend_pids, pids_named
from _inbound_mail import Mail
from _sink import SinkProcess
from _stack import BenchError, Workers
from sqlalchemy import func, select

from webapp.db import Database
from webapp.models import InboundMessage, InboundState

HOST = "127.0.0.1"
POLL_SECONDS = 0.02
SLOW_POLL_SECONDS = 0.25
NEAR_END = 100  # pending messages below which the poll runs every 20 ms
_DONE = (InboundState.PROCESSED, InboundState.FAILED)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Receiver:
    """``amorce inbound smtp`` in a process of its own (``python -m webapp.cli``)."""

    def __init__(self, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        argv = [sys.executable, "-m", "webapp.cli", "inbound", "smtp"]
        argv += ["--host", HOST, "--port", str(self.port)]
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        """The receiver's process id."""
        return self.process.pid

    def wait_ready(self, timeout: float = 30) -> None:
        """Block until the receiver answers an SMTP greeting."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with smtplib.SMTP(HOST, self.port, timeout=2) as probe:
                    probe.noop()
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"the receiver is not ready after {timeout} s: {exc}\n{self.tail()}"
                    ) from exc
                time.sleep(0.1)

    def check_alive(self) -> None:
        """Fail with the log's tail when the receiver has exited."""
        if self.process.poll() is not None:
            raise BenchError(
                f"the receiver exited with code {self.process.returncode}\n{self.tail()}"
            )

    def tail(self, lines: int = 30) -> str:
        """The end of the receiver's log."""
        try:
            content = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no receiver log)"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(content[-lines:])

    def stop(self) -> None:
        """SIGTERM (the command stops its controller), then kill if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@dataclass
class _Share:
    """One sender thread's messages and what became of them."""

    mails: list[Mail]
    started: float = 0.0
    finished: float = 0.0
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class Senders:
    """``count`` threads, each with one persistent ``smtplib.SMTP`` connection to the receiver."""

    def __init__(self, port: int, mails: list[Mail], count: int, timeout: float) -> None:
        self.shares = [_Share(mails[i::count]) for i in range(count)]
        self.connections = []
        for _ in self.shares:  # connected and greeted before the clock starts
            smtp = smtplib.SMTP(HOST, port, timeout=timeout)
            smtp.ehlo("mx.bench.example.net")
            self.connections.append(smtp)
        self._barrier = threading.Barrier(count + 1)
        self._threads = [
            threading.Thread(target=self._send, args=(i,), name=f"sender{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _send(self, index: int) -> None:
        share, smtp = self.shares[index], self.connections[index]
        self._barrier.wait()
        share.started = time.monotonic()
        for mail in share.mails:
            try:
                smtp.sendmail(mail.mail_from, [mail.rcpt], mail.raw)
                share.accepted += 1
            except smtplib.SMTPRecipientsRefused:
                share.refused[mail.label] += 1
            except smtplib.SMTPResponseException as exc:  # e.g. 451: not stored, go on
                share.errors.append(f"{mail.label} {mail.message_id}: {exc!r}")
            except OSError as exc:  # the connection is gone (SMTPServerDisconnected too)
                share.errors.append(f"{mail.label} {mail.message_id}: {exc!r}")
                break
        share.finished = time.monotonic()

    def go(self) -> None:
        """Release every sender at once."""
        self._barrier.wait()

    def done(self) -> bool:
        """Whether every sender has sent its share."""
        return not any(thread.is_alive() for thread in self._threads)

    def close(self) -> None:
        """Wait for the threads and say goodbye on each connection."""
        for thread in self._threads:
            thread.join()
        for smtp in self.connections:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    @property
    def accepted(self) -> int:
        """Messages answered 250 after DATA."""
        return sum(share.accepted for share in self.shares)


@dataclass(frozen=True)
class InboundStack:
    """What a round needs: the database, the receiver, the worker, the sink."""

    database: Database
    receiver: Receiver
    worker: Workers
    sink: SinkProcess
    senders: int
    stall: float


def last_id(database: Database) -> int:
    """The highest inbound message id so far (the round's rows come after it)."""
    with database.engine.connect() as connection:
        return int(
            connection.execute(select(func.coalesce(func.max(InboundMessage.id), 0))).scalar_one()
        )


def processes(stack: InboundStack) -> dict[str, list[int]]:
    """The processes whose CPU time a round reports, by role."""
    return {
        "worker": [pid for pid, _ in stack.worker.pids()],
        "receiver": [stack.receiver.pid],
        "postgres": backend_pids(stack.database),
        "redis": pids_named("redis-server"),
        "sink": [stack.sink.pid] if stack.sink.pid else [],
        "bench": [os.getpid()],
    }


def _wait_processed(
    stack: InboundStack, senders: Senders, base: int
) -> tuple[float, int, tuple[float, int]]:
    """Poll until the senders are done and no stored message is left ``received`` or
    ``processing``; the end, the stored count, and when the senders were seen done with how many
    processed then.

    The COUNT reads the pending rows only (by the state index), every 20 ms while fewer than
    ``NEAR_END`` wait and every 250 ms while more do, so that polling costs the database little.
    """
    pending_count = select(func.count()).where(
        InboundMessage.id > base, InboundMessage.state.not_in(_DONE)
    )
    stored_count = select(func.count()).where(InboundMessage.id > base)
    sent: tuple[float, int] | None = None
    moved_at, seen = time.monotonic(), (-1, -1)
    engine = stack.database.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        while True:
            accepted = senders.accepted
            finished = senders.done()
            pending = int(connection.execute(pending_count).scalar_one())
            now = time.monotonic()
            if finished and sent is None:  # every 250 came after its row's commit
                sent = (now, accepted - pending)
            if finished and not pending:
                return now, int(connection.execute(stored_count).scalar_one()), sent or (now, 0)
            if (pending, accepted) != seen:
                seen, moved_at = (pending, accepted), now
            elif now - moved_at > stack.stall:
                raise BenchError(
                    f"{pending} stored message(s) still unprocessed, no progress for "
                    f"{stack.stall:.0f} s\n{stack.worker.tail()}\n{stack.receiver.tail()}"
                )
            stack.worker.check_alive()
            stack.receiver.check_alive()
            time.sleep(POLL_SECONDS if pending < NEAR_END else SLOW_POLL_SECONDS)


def outcomes(database: Database, base: int, mails: list[Mail]) -> dict[str, Any]:
    """What the pipeline made of the round: kinds, actions, states, and per generated label."""
    labels = {mail.message_id: mail.label for mail in mails}
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(
                InboundMessage.message_id,
                InboundMessage.state,
                InboundMessage.kind,
                InboundMessage.intent,
                InboundMessage.action,
                InboundMessage.needs_review,
                InboundMessage.error,
            ).where(InboundMessage.id > base)
        ).all()
    kinds: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    states: Counter[str] = Counter()
    by_label: dict[str, Counter[str]] = {}
    errors: list[str] = []
    for row in rows:
        states[row.state] += 1
        kinds[row.kind or "(none)"] += 1
        actions[row.action or "none"] += 1
        reading = f"{row.kind}/{row.intent}/{row.action or '-'}"
        by_label.setdefault(labels.get(row.message_id, "?"), Counter())[reading] += 1
        if row.state == InboundState.FAILED and len(errors) < 5:
            errors.append(f"{row.message_id}: {row.error[:300]}")
    return {
        "stored": len(rows),
        "states": dict(states),
        "kinds": dict(kinds.most_common()),
        "actions": dict(actions.most_common()),
        "needs_review": sum(1 for row in rows if row.needs_review),
        "failed": states.get(InboundState.FAILED, 0),
        "failed_examples": errors,
        "by_generated_label": {k: dict(v.most_common()) for k, v in sorted(by_label.items())},
    }


def inbound_round(stack: InboundStack, mails: list[Mail]) -> dict[str, Any]:
    """Push ``mails`` over persistent connections; receipt and end-to-end messages/s."""
    base, acks_before = last_id(stack.database), stack.sink.count
    senders = Senders(stack.receiver.port, mails, stack.senders, timeout=stack.stall)
    meter = CpuMeter()
    meter.start(processes(stack))
    try:
        senders.go()
        finished, stored, (sent_at, done_then) = _wait_processed(stack, senders, base)
    finally:
        senders.close()
    cpu = meter.stop(processes(stack))
    started = min(share.started for share in senders.shares)
    last_250 = max(share.finished for share in senders.shares)
    refused: Counter[str] = Counter()
    errors = [error for share in senders.shares for error in share.errors]
    for share in senders.shares:
        refused.update(share.refused)
    accepted = senders.accepted
    if stored != accepted:
        raise BenchError(f"{accepted} messages accepted but {stored} stored (duplicates?)")
    result = {
        "messages": len(mails),
        "accepted": accepted,
        "refused_at_rcpt": dict(refused),
        "smtp_errors": len(errors),
        "smtp_error_examples": errors[:5],
        "receipt_seconds": last_250 - started,
        "end_to_end_seconds": finished - started,
        "receipt_per_second": accepted / (last_250 - started),
        "end_to_end_per_second": stored / (finished - started),
        # After the last 250 the worker has the machine to itself (but for other users).
        "processed_at_last_250": done_then,
        "after_receipt_per_second": (stored - done_then) / max(finished - sent_at, 1e-3),
        "acknowledgements_sent": stack.sink.count - acks_before,
        "bytes_per_message": sum(len(m.raw) for m in mails) / len(mails),
        "cpu_ms_per_message": {
            role: round(1000 * seconds / max(stored, 1), 3) for role, seconds in cpu.items()
        },
    }
    result["outcomes"] = outcomes(stack.database, base, mails)
    return result
