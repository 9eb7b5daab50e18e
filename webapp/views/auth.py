"""Sign-in and sign-out of coordinators (Flask-Login, argon2)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import UserMixin, login_required, login_user, logout_user

from forms.auth import LoginForm
from webapp.extensions import db_session, limiter, login_manager
from webapp.models import User
from webapp.services.users import authenticate

bp = Blueprint("auth", __name__)


@dataclass
class SignedInUser(UserMixin):
    """The account behind the session."""

    id: int
    email: str
    name: str
    language: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Whether this account sees every community."""
        return self.role == "admin"


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    """Re-read the account on each request; a deactivated account is signed out."""
    try:
        user = db_session().get(User, int(user_id))
    except ValueError:
        return None
    if user is None or not user.active:
        return None
    return SignedInUser(user.id, user.email, user.name, user.language, user.role)


login_manager.login_view = "auth.login"
login_manager.login_message = ""


def safe_next(target: str | None) -> str | None:
    """Only a local path is accepted as ``next`` (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login() -> ResponseReturnValue:
    """The sign-in page."""
    form = LoginForm()
    if form.validate_on_submit():
        session_ = db_session()
        user_id = authenticate(session_, form.email.data or "", form.password.data or "")
        session_.commit()
        if user_id is not None:
            user = load_user(str(user_id))
            assert user is not None
            session.clear()
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("communities.index"))
        flash(_("Wrong email or password."), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """Sign out."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
