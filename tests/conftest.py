"""Shared fixtures: migrated SQLite and PostgreSQL databases, a Config, an SMTP sink, SMTP guard."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dovecot as dovecot_server
import pytest
from browser import browser, live_server  # noqa: F401 - fixtures of the browser tests
from sink import ACTIVE_PORTS, Sink
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from webapp.config import Config
from webapp.db import Database
from webapp.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "AMORCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("AMORCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ALLOW_SKIP = os.environ.get("AMORCE_TEST_ALLOW_SKIP") == "1"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

# -- services the tests need -----------------------------------------------------------------


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _missing_services(names: tuple[str, ...]) -> list[str]:
    pg, redis = make_url(POSTGRES_ADMIN_URL), make_url(REDIS_URL)
    where = {
        "PostgreSQL": (pg.host or "127.0.0.1", pg.port or 5432),
        "Redis": (redis.host or "127.0.0.1", redis.port or 6379),
    }
    return [
        f"{name} on {where[name][0]}:{where[name][1]}"
        for name in names
        if not _reachable(*where[name])
    ]


def require(*names: str) -> None:
    """Fail (or skip, with AMORCE_TEST_ALLOW_SKIP=1) unless these services answer."""
    missing = _missing_services(names)
    if not missing:
        return
    reason = "unreachable: " + ", ".join(missing)
    if ALLOW_SKIP:
        pytest.skip(reason + " (skipped because AMORCE_TEST_ALLOW_SKIP=1)")
    pytest.fail(reason + " (start it, or set AMORCE_TEST_ALLOW_SKIP=1 to skip)", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Tolerate pytest-benchmark's notice under xdist (filterwarnings=error would abort the run)."""
    config.addinivalue_line("filterwarnings", "ignore:Benchmarks are automatically disabled")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Integration tests need Redis and PostgreSQL; CI must never skip them silently."""
    if item.get_closest_marker("integration") is not None:
        require("PostgreSQL", "Redis")


# -- databases -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated once per session; tests get a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "amorce.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database.engine)
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[Engine]:
    require("PostgreSQL")
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    yield engine
    engine.dispose()


def _postgres_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _create_database(admin: Engine, statement: str) -> None:
    """CREATE DATABASE copies its template, and refuses while another session uses that
    template (another CREATE DATABASE of a parallel worker, a benchmark): try again a little."""
    for attempt in range(10):
        try:
            with admin.connect() as connection:
                connection.execute(text(statement))
            return
        except OperationalError as exc:
            if "being accessed by other users" not in str(exc) or attempt == 9:
                raise
            time.sleep(0.2 * (attempt + 1))


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def _postgres_template(_postgres_admin: Engine) -> Iterator[str]:
    """One PostgreSQL database migrated once per xdist worker; tests clone it."""
    name = f"amorce_tmpl_{WORKER}_{uuid.uuid4().hex[:8]}"
    _create_database(_postgres_admin, f'CREATE DATABASE "{name}"')
    try:
        database = Database(_postgres_url(name))
        upgrade(database.engine)
        database.dispose()
        yield name
    finally:
        _drop(_postgres_admin, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of its own for this test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "amorce.db"
        shutil.copyfile(template, path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    template_name: str = request.getfixturevalue("_postgres_template")
    admin: Engine = request.getfixturevalue("_postgres_admin")
    name = f"amorce_t_{WORKER}_{uuid.uuid4().hex[:8]}"
    _create_database(admin, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    db = Database(_postgres_url(name))
    try:
        yield db
    finally:
        db.dispose()
        _drop(admin, name)


@pytest.fixture
def config(database: Database, tmp_path: Path) -> Config:
    """Settings for this test's database; SMTP points nowhere until a test adds a sink."""
    return Config(
        secret_key="x" * 32,
        instance_path=tmp_path,
        database_url=database.url,
        smtp_url="smtp://127.0.0.1:1",
        base_url="http://127.0.0.1:5000",
        testing=True,
    )


# -- mail --------------------------------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    """A running SMTP sink; use ``config.with_overrides(smtp_url=smtp_sink.url)``."""
    with Sink() as sink:
        yield sink


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def _only_sinks_take_mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that opens an SMTP connection to anything but a :class:`Sink` (Indico's idea)."""
    attempts: list[str] = []
    original = smtplib.SMTP.connect

    def guarded(
        self: smtplib.SMTP, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        target_host, target_port = host, port
        if not port and host.find(":") == host.rfind(":") and ":" in host:
            target_host, _, number = host.rpartition(":")
            target_port = int(number) if number.isdigit() else 0
        target_port = target_port or self.default_port
        if target_host not in _LOCAL_HOSTS or target_port not in ACTIVE_PORTS:
            attempts.append(f"{target_host}:{target_port}")
            raise ConnectionRefusedError(
                f"the test tried to open an SMTP connection to {target_host}:{target_port}, "
                "which is not a test sink"
            )
        return original(self, host, port, source_address)

    monkeypatch.setattr(smtplib.SMTP, "connect", guarded)
    yield
    if attempts:
        pytest.fail(
            "SMTP connection(s) to something other than a test sink: " + ", ".join(attempts),
            pytrace=False,
        )


# -- IMAP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot() -> Iterator[dovecot_server.Dovecot]:
    """A real Dovecot IMAP server for this test module."""
    if not dovecot_server.DOVECOT.exists():
        pytest.skip(
            f"Dovecot is not installed ({dovecot_server.DOVECOT}): apt-get install dovecot-imapd"
        )
    # Not pytest's tmp_path: its parents are private to us, and as root Dovecot's own users must
    # reach the sockets and the mailbox.
    root = Path(tempfile.mkdtemp(prefix="amorce-dovecot-"))
    root.chmod(0o755)
    server = dovecot_server.Dovecot(root)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: dovecot_server.Dovecot) -> dovecot_server.Dovecot:
    """The Dovecot mailbox, emptied for this test."""
    dovecot.reset()
    return dovecot
