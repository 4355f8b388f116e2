"""Flask-Login on top of envelope.accounts.sessions: the login cookie carries a session
secret (Flask-Login's "alternative token"), so revoking the row logs out
that browser, remember-me cookie included."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_login import LoginManager, UserMixin

from envelope.config import Settings
from envelope.models import User
from envelope.accounts.sessions import live_session, needs_touch, session_id_for, touch_session
from web.runtime import runtime

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.session_protection = None  # the session row is the protection; IPs change
login_manager.login_message = "Please sign in to see that page."


@dataclass
class WebUser(UserMixin):
    user: User
    secret: str

    @property
    def id(self) -> int:  # type: ignore[override]
        return self.user.id

    @property
    def session_id(self) -> str:
        return session_id_for(self.secret)

    def get_id(self) -> str:
        return self.secret


@login_manager.user_loader
def load_user(secret: str) -> WebUser | None:
    db = runtime().db
    with db.read() as session:
        row = live_session(session, secret)
        if row is None:
            return None
        user, stale = row.user, needs_touch(row)
    if stale:
        with db.write() as session:
            touch_session(session, row.id)
    return WebUser(user, secret)


def init_login(app: Flask, settings: Settings) -> None:
    # Secure cookies whenever the public address is https (behind a TLS proxy too).
    secure = bool(settings.base_url and settings.base_url.startswith("https://"))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_DURATION=60 * 60 * 24 * 30,
    )
    login_manager.init_app(app)
