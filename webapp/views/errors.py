"""Error pages and the health check."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.services.errors import DomainError


def error_text(error: DomainError) -> str:
    """A domain error in the reader's language."""
    if not error.message:
        return str(error)
    return gettext(error.message, **error.params)


def register(app: Flask) -> None:
    """Friendly pages for 400, 403, 404, 429 and the CSRF failure."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return render_template("errors/http.html", code=code, error=error), code

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}
