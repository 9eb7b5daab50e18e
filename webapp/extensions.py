"""Flask extensions and the per-app state, created unbound and initialised by the factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from webapp.config import Config
from webapp.db import Database
from webapp.i18n import PoBabel
from webapp.mail import EmailRenderer

if TYPE_CHECKING:
    from celery import Celery

csrf = CSRFProtect()
login_manager = LoginManager()
babel = PoBabel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@dataclass
class AppState:
    """What the app holds besides Flask's own: settings, database, renderer, Celery."""

    config: Config
    database: Database
    renderer: EmailRenderer
    celery: Celery


def state() -> AppState:
    """The state of the current app."""
    value: AppState = current_app.extensions["amorce"]
    return value


def db_session() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = state().database.sessions()
    session: Session = g.db_session
    return session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Roll back whatever the request left uncommitted and close the session."""
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
