"""A real Dovecot IMAP server for the tests, in a temporary directory, with one user."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imapclient import DELETED, RECENT, IMAPClient

DOVECOT = Path("/usr/sbin/dovecot")
HOST = "127.0.0.1"
USER = "amorce"
PASSWORD = "p@ss/w rd"  # percent-encoded in the URL, as an operator would write it
DONE = "Processed"

CONF = """\
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _greets(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as connection:
            return connection.recv(64).startswith(b"* OK")
    except OSError:
        return False


class Dovecot:
    """A Dovecot IMAP server of its own in a temporary directory, with one user."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _accounts(self) -> dict[str, str]:
        """Who runs what: the current user, or Debian's Dovecot users when we are root (Dovecot
        refuses to run its login processes or to open a mailbox as root)."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            return {
                "login_user": me.pw_name,
                "internal_user": me.pw_name,
                "internal_group": grp.getgrgid(me.pw_gid).gr_name,
                "uid": str(me.pw_uid),
                "gid": str(me.pw_gid),
            }
        mail = pwd.getpwnam("nobody")
        return {
            "login_user": "dovenull",
            "internal_user": "dovecot",
            "internal_group": "dovecot",
            "uid": str(mail.pw_uid),
            "gid": str(mail.pw_gid),
        }

    def start(self) -> Dovecot:
        """Start on a free port and wait for its greeting."""
        accounts = self._accounts()
        mail = self.root / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            os.chown(mail, int(accounts["uid"]), int(accounts["gid"]))
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{accounts['uid']}:{accounts['gid']}::{mail / USER}::\n"
        )
        for _attempt in range(5):
            self.port = free_port()
            conf = self.root / "dovecot.conf"
            conf.write_text(CONF.format(host=HOST, root=self.root, port=self.port, **accounts))
            with (self.root / "stderr.log").open("ab") as errors:
                self.process = subprocess.Popen(
                    [str(DOVECOT), "-F", "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                if _greets(self.port):
                    return self
                time.sleep(0.05)
            self.stop()  # the port was taken meanwhile, or Dovecot failed: its log says why
        raise RuntimeError("Dovecot did not start:\n" + self.log())

    def stop(self) -> None:
        """Stop the server and its children."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        """What Dovecot wrote."""
        return "".join(
            path.read_text(errors="replace")
            for path in (self.root / "stderr.log", self.root / "dovecot.log")
            if path.exists()
        )

    # -- the mailbox ----------------------------------------------------------------------

    def url(self, folder: str = "INBOX", password: str = PASSWORD) -> str:
        """The ``AMORCE_IMAP_URL`` of this server's mailbox."""
        return f"imap://{USER}:{quote(password, safe='')}@{HOST}:{self.port}/{folder}"

    @contextmanager
    def client(self) -> Iterator[Any]:
        """A logged-in IMAP client of our own, to look at the mailbox."""
        client = IMAPClient(HOST, self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        try:
            yield client
        finally:
            client.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message into ``folder``, unread."""
        with self.client() as client:
            client.append(folder, raw)

    def messages(self, folder: str = "INBOX") -> list[tuple[str, set[bytes]]]:
        """The Message-ID and the lasting flags (not \\Recent) of each message of ``folder``."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            found = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER]"])
        return [
            (
                str(message_from_bytes(data[b"BODY[HEADER]"])["Message-ID"]),
                set(data[b"FLAGS"]) - {RECENT},
            )
            for _, data in sorted(found.items())
        ]

    def reset(self) -> None:
        """An empty INBOX and no other folder."""
        with self.client() as client:
            for _flags, _delimiter, name in client.list_folders():
                if name != "INBOX":
                    client.delete_folder(name)
            client.select_folder("INBOX")
            everything = client.search("ALL")
            if everything:
                client.add_flags(everything, [DELETED], silent=True)
                client.expunge()
