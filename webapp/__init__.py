"""Amorce: the Flask application factory."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import get_locale
from flask_login import current_user

from webapp.config import Config
from webapp.db import Database
from webapp.extensions import AppState, babel, close_db_session, csrf, limiter, login_manager
from webapp.i18n import LOCALES, pick_locale
from webapp.mail import EmailRenderer
from webapp.security import add_security_headers


def select_locale() -> str:
    """The reader's language: chosen on the page, the person's, the account's, the browser's."""
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        session["lang"] = chosen
    if session.get("lang") in LOCALES:
        return str(session["lang"])
    if session.get("respondent_lang") in LOCALES:
        return str(session["respondent_lang"])
    if current_user and current_user.is_authenticated:
        return pick_locale(getattr(current_user, "language", None))
    return request.accept_languages.best_match(LOCALES) or "fr"


def create_app(config: Config | None = None) -> Flask:
    """Build the web application for ``config`` (read from the environment when omitted)."""
    from workers.factory import make_celery

    config = config or Config.from_env()
    app = Flask(__name__)
    cookie_name = "__Host-session" if config.https else "amorce_session"
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME=cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.https,
        SESSION_COOKIE_PATH="/",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=config.https,
        PREFERRED_URL_SCHEME="https" if config.https else "http",
        WTF_CSRF_TIME_LIMIT=None,
        # Pages send no Referer (Referrer-Policy: no-referrer), so the token alone is checked.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=config.ratelimit_storage_url,
        RATELIMIT_HEADERS_ENABLED=True,
        TESTING=config.testing,
    )
    if config.proxy_count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=config.proxy_count,
            x_proto=config.proxy_count,
            x_host=config.proxy_count,
        )
    database = Database(config.database_url)
    app.extensions["amorce"] = AppState(
        config=config, database=database, renderer=EmailRenderer(), celery=make_celery(config)
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, default_locale=config.default_locale, locale_selector=select_locale)
    limiter.init_app(app)
    app.jinja_env.globals["get_locale"] = get_locale
    app.teardown_appcontext(close_db_session)
    app.after_request(lambda response: add_security_headers(response, https=config.https))

    from webapp.views import register_blueprints

    register_blueprints(app, config)
    return app
