"""The stack the bench drives: a throw-away database, seeded recipients, Celery worker processes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import psycopg
from celery import Celery
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import insert, text, update
from sqlalchemy.engine import make_url

from webapp.db import Database
from webapp.models import ConsentRecord, Membership, MembershipState, Person, Source
from webapp.services import communities

REPO = Path(__file__).resolve().parent.parent
CHUNK = 5000
FIRST_NAMES = {
    "fr": ["Amélie", "Benoît", "Chloé", "François", "Gabrielle", "Hélène", "Jérôme", "Léa"],
    "en": ["Alice", "Brian", "Claire", "David", "Emma", "Frank", "Grace", "Henry"],
}
LAST_NAMES = ["Gagnon", "Côté", "Tremblay", "Smith", "Wilson", "Lavoie", "Bélanger", "Chen"]


def code_version(paths: list[Path], digest_name: str) -> dict[str, Any]:
    """Which code was measured: the commit, whether it had uncommitted changes, and a digest of
    ``paths`` (the measured engine, maybe uncommitted)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "webapp", "workers"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    return {
        "commit": commit,
        "uncommitted_changes": bool(dirty),
        digest_name: hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:12],
    }


def throwaway_database(
    cleanup: contextlib.ExitStack,
    *,
    admin_url: str,
    name: str,
    existing_url: str | None = None,
    synchronous_commit: str | None = None,
) -> tuple[str, Database]:
    """A migrated database for the bench: ``existing_url`` as it is, else a new one called
    ``name`` that ``cleanup`` drops. Returns its URL and its :class:`Database`."""
    url = existing_url
    if not url:
        url = create_database(admin_url, name)
        cleanup.callback(drop_database, admin_url, name)
        if synchronous_commit:
            set_synchronous_commit(admin_url, name, synchronous_commit)
    database = Database(url)
    cleanup.callback(database.dispose)
    from webapp.migrate import upgrade

    upgrade(database.engine)
    return url, database


class BenchError(RuntimeError):
    """The bench cannot go on; the message says why."""


# -- database ---------------------------------------------------------------------------------


def _admin_conninfo(admin_url: str) -> str:
    url = make_url(admin_url)
    return make_conninfo(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or None,
        dbname=url.database or "postgres",
    )


def create_database(admin_url: str, name: str) -> str:
    """Create an empty database next to ``admin_url``; returns its SQLAlchemy URL."""
    with psycopg.connect(_admin_conninfo(admin_url), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def set_synchronous_commit(admin_url: str, name: str, value: str) -> None:
    """A diagnostic: how much of the time waits for commits to reach the disk."""
    with psycopg.connect(_admin_conninfo(admin_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = {}").format(
                sql.Identifier(name), sql.Literal(value)
            )
        )


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database the bench created, closing whatever still uses it."""
    with psycopg.connect(_admin_conninfo(admin_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_settings(database: Database) -> dict[str, str]:
    """The PostgreSQL settings that decide what a commit costs."""
    names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
    with database.engine.connect() as connection:
        return {n: str(connection.exec_driver_sql(f"SHOW {n}").scalar()) for n in names}


def seed_community(database: Database, slug: str, prefix: str, count: int) -> int:
    """A community with a full sender identity and ``count`` consenting bilingual prospects."""
    with database.session() as session:
        community_id = communities.create_community(
            session,
            communities.CommunityData(
                name="Communauté de pratique en pédagogie numérique",
                slug=slug,
                language="fr",
                domain="Pédagogie numérique dans l'enseignement supérieur",
                benefits=[
                    "Partager vos pratiques et profiter de celles de vos collègues",
                    "Résoudre ensemble des problèmes concrets d'enseignement",
                    "Rester à jour sur les outils et la recherche",
                ],
                sender_name="Coordination de la CoP pédagogie numérique",
                organization="Université de démonstration",
                postal_address="2325, rue de l'Université, Québec (Québec) G1V 0A6, Canada",
                contact_email="cop@bench.example.org",
            ),
        )
    with database.engine.begin() as connection:
        for start in range(0, count, CHUNK):
            people = []
            for i in range(start, min(start + CHUNK, count)):
                language = "fr" if i % 2 == 0 else "en"
                people.append(
                    {
                        "email": f"{prefix}{i}@example.org",
                        "first_name": FIRST_NAMES[language][i % 8],
                        "last_name": LAST_NAMES[(i // 8) % 8],
                        "language": language,
                        "timezone": "America/Toronto",
                        "organization": f"Établissement {i % 97}",
                    }
                )
            ids = connection.execute(insert(Person).returning(Person.id), people).scalars().all()
            connection.execute(
                insert(Membership),
                [
                    {
                        "community_id": community_id,
                        "person_id": person_id,
                        "state": MembershipState.PROSPECT,
                        "source": Source.NETWORK,
                    }
                    for person_id in ids
                ],
            )
            connection.execute(
                insert(ConsentRecord),
                [
                    {
                        "person_id": person_id,
                        "community_id": community_id,
                        "basis": "implied",
                        "text_version": "bench",
                        "method": "import",
                        "source": "bench",
                    }
                    for person_id in ids
                ],
            )
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return community_id


def reset_audience(database: Database, community_id: int) -> None:
    """Put every member back to ``prospect`` so a new recruitment campaign reaches them all."""
    with database.session() as session:
        session.execute(
            update(Membership)
            .where(Membership.community_id == community_id)
            .values(state=MembershipState.PROSPECT)
        )


# -- worker processes -------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """The direct child processes of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MiB, as the kernel counts it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _is_celery(pid: int) -> bool:
    try:
        return b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class Workers:
    """Celery worker processes: one prefork worker with K children, or K solo workers."""

    def __init__(
        self,
        name: str,
        app: str,
        *,
        pool: str,
        concurrency: int,
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.name, self.app, self.pool, self.concurrency = name, app, pool, concurrency
        self.env, self.cwd, self.log_path = env, cwd, log_path
        self.processes: list[subprocess.Popen[bytes]] = []
        self._log: IO[bytes] | None = None

    @property
    def nodes(self) -> list[str]:
        """The Celery node names, for ``control.ping``."""
        count = 1 if self.pool == "prefork" else self.concurrency
        return [f"{self.name}{i}@bench" for i in range(count)]

    def start(self, control: Celery, timeout: float = 60) -> None:
        """Start the processes and wait until every node answers a ping."""
        self._log = self.log_path.open("ab")
        options = (
            ["--pool=prefork", f"--concurrency={self.concurrency}"]
            if self.pool == "prefork"
            else ["--pool=solo"]
        )
        for node in self.nodes:
            argv = [sys.executable, "-m", "celery", "-A", self.app, "worker", *options]
            argv += ["--without-gossip", "--without-mingle", "--loglevel=WARNING", "-n", node]
            self.processes.append(
                subprocess.Popen(
                    argv, env=self.env, cwd=self.cwd, stdout=self._log, stderr=subprocess.STDOUT
                )
            )
        deadline = time.monotonic() + timeout
        waiting = set(self.nodes)
        while waiting:
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} workers not ready after {timeout} s\n{self.tail()}")
            for reply in control.control.ping(destination=sorted(waiting), timeout=0.5):
                waiting -= set(reply)

    def check_alive(self) -> None:
        """Fail with the log's tail when a worker process has exited."""
        for process in self.processes:
            if process.poll() is not None:
                raise BenchError(
                    f"a {self.name} worker exited with code {process.returncode}\n{self.tail()}"
                )

    def pids(self) -> list[tuple[int, str]]:
        """Every worker process with its role: ``main`` or ``pool`` (prefork children)."""
        found = []
        for process in self.processes:
            found.append((process.pid, "main" if self.pool == "prefork" else "solo"))
            if self.pool == "prefork":
                found += [(child, "pool") for child in children_of(process.pid)]
        return found

    def tail(self, lines: int = 40) -> str:
        """The end of the workers' log."""
        try:
            content = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no worker log)"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(content[-lines:])

    def stop(self) -> None:
        """Warm shutdown, then kill whatever is left (children included), by pid."""
        everyone = [pid for pid, _ in self.pids()]
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for pid in everyone:
            if _is_celery(pid):  # a prefork child its parent left behind
                os.kill(pid, signal.SIGKILL)
        self.processes = []
        if self._log is not None:
            self._log.close()
            self._log = None
