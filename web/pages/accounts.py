"""Accounts: the landing page, sign-up, sign-in (with a second factor),
sign-out, password reset and email verification. The blueprint's account
pages are in account_settings.py, its administration pages in admin.py.

Views parse the form, call envelope.accounts.users / envelope.accounts.totp, and render;
every failure a person can fix is shown next to the field it concerns.
"""
from __future__ import annotations

import time
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError

from envelope.accounts import users as accounts
from envelope.accounts import signups
from envelope.accounts import totp
from envelope.errors import Conflict, EnvelopeError, NotFound, Unauthorized
from envelope.orgs.invitations import invitation_for_signup
from envelope.mail import queue_mail
from envelope.orgs.membership import organizations_of
from envelope.models import User
from envelope.accounts.one_time_tokens import LIFETIMES, RESET_PASSWORD, VERIFY_EMAIL, InvalidLink
from envelope.accounts.sessions import revoke_session, start_session
from web.extensions import limiter
from web.pages.forms import (
    LoginForm,
    ResetPasswordForm,
    ResetRequestForm,
    SecondFactorForm,
    SignupForm,
)
from web.pages.login import WebUser
from web.runtime import runtime

bp = Blueprint("accounts", __name__)

PENDING_LOGIN = "pending_login"  # Flask session key: a sign-in waiting for its second factor
PENDING_LIFETIME = 5 * 60  # seconds to enter the second factor
LOGIN_LIMIT = "10 per minute"  # per IP address, and per username/email tried
SECOND_FACTOR_LIMIT = "10 per minute"  # per IP address, and per pending account
RESET_LIMIT = "5 per minute"  # per IP address, and per email address
SIGNUP_LIMIT = "10 per hour"  # per IP address
RESEND_LIMIT = "5 per hour"  # per IP address
# Our own markup and stylesheet only; pages may not be framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


# --- helpers -----------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site ("/x", not "//evil" or "https://evil"), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if "\\" in target or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _home() -> str:
    return url_for("accounts.home")


def _external_url(endpoint: str, **values: str) -> str:
    """An absolute link for mail, on the configured base URL: never built from
    the request's Host header, or a forged Host would get reset links mailed
    to its own server."""
    return runtime().settings.base_url + url_for(endpoint, **values)


def _invitation_path(secret: str) -> str:
    """Where an invitation is accepted (web/invitations.py)."""
    return "/invitations/" + quote(secret, safe="")


def _send_mail(db_session, to: str, subject: str, template: str, **context: object) -> None:
    """Queue a message in the request's own transaction; the worker sends it."""
    body = render_template(template, **context)
    queue_mail(db_session, runtime().settings, to=to, subject=subject, body=body)


def _send_verification(db_session, user: User, token: str) -> None:
    _send_mail(
        db_session,
        user.email,
        "Confirm your email address for Envelope",
        "accounts/email/verify_email.txt",
        user=user,
        link=_external_url("accounts.verify_email", token=token),
        days=LIFETIMES[VERIFY_EMAIL].days,
    )


def _show_error(form: FlaskForm, exc: EnvelopeError, field: str | None = None) -> None:
    """Put the message next to the field it is about, or at the top of the form."""
    name = field or getattr(exc, "field", None)
    target = getattr(form, name, None) if name else None
    if target is not None:
        target.errors.append(str(exc))
    else:
        form.form_errors.append(str(exc))


def _me(db_session) -> User:
    return db_session.get(User, current_user.id)


def _sign_in(user: User, *, remember: bool, next_url: str | None) -> Response:
    """Start a server-side session and give this browser its cookie."""
    with runtime().db.write() as db_session:
        secret = start_session(
            db_session,
            user,
            remember=remember,
            user_agent=request.headers.get("User-Agent"),
            ip_address=request.remote_addr,
        )
    session.pop(PENDING_LOGIN, None)
    login_user(WebUser(user, secret), remember=remember)
    return redirect(next_url or _home())


def _pending_login() -> dict | None:
    pending = session.get(PENDING_LOGIN)
    if not pending or time.time() - pending.get("at", 0) > PENDING_LIFETIME:
        session.pop(PENDING_LOGIN, None)
        return None
    return pending


def _login_name_key() -> str:
    return "login:" + (request.form.get("login") or "").strip().lower()


def _pending_user_key() -> str:
    return f"2fa:{(session.get(PENDING_LOGIN) or {}).get('user_id')}"


def _reset_email_key() -> str:
    return "reset:" + (request.form.get("email") or "").strip().lower()


@bp.after_request
def security_headers(response: Response) -> Response:
    # Account pages show secrets (recovery codes, links): never cached, never framed.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.errorhandler(RateLimitExceeded)
def rate_limited(exc: RateLimitExceeded) -> Response:
    window = exc.limit.limit.get_expiry()  # seconds: the longest anyone waits
    response = Response(render_template("accounts/rate_limited.html", seconds=window), status=429)
    response.headers["Retry-After"] = str(window)
    return response


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError) -> tuple[str, int]:
    return render_template("accounts/csrf_error.html", reason=exc.description), 400


# --- landing, sign-up, sign-in, sign-out ---------------------------------------


@bp.get("/")
def home() -> str:
    organizations = []
    if current_user.is_authenticated:
        with runtime().db.read() as db_session:
            organizations = organizations_of(db_session, current_user.user)
    return render_template("accounts/home.html", organizations=organizations)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(SIGNUP_LIMIT, methods=["POST"])
def signup() -> Response | str | tuple[str, int]:
    next_url = safe_next(request.args.get("next"))
    secret = request.args.get("invitation")
    if current_user.is_authenticated:
        return redirect(next_url or (_invitation_path(secret) if secret else _home()))
    with runtime().db.read() as db_session:
        invitation = invitation_for_signup(db_session, secret)
        invited_to = invitation.organization.name if invitation else None
        is_open = accounts.signup_open(db_session, runtime().settings.signup_open)
    if invitation is None and not is_open:
        return render_template("accounts/signup_closed.html"), 403
    form = SignupForm()
    if invitation is not None and not form.is_submitted():
        form.email.data = invitation.email
    if form.validate_on_submit():
        if invitation is not None and next_url is None:
            next_url = _invitation_path(secret)
        try:
            with runtime().db.write() as db_session:
                outcome = signups.request_signup(
                    db_session,
                    form.username.data.strip(),
                    email=form.email.data,
                    password=form.password.data,
                    signup_default=runtime().settings.signup_open,
                    invited_email=invitation.email if invitation else None,
                    next_path=next_url,
                )
                user = outcome.user
                token = None if user is None or user.email_verified else accounts.start_email_verification(db_session, user)
                if user is None:
                    _send_signup_mail(db_session, form.email.data.strip(), form.username.data.strip(), outcome)
                elif token:
                    _send_verification(db_session, user, token)
        except accounts.SignupClosed:
            return render_template("accounts/signup_closed.html"), 403
        except (accounts.InvalidField, accounts.TakenField) as exc:
            _show_error(form, exc)
        else:
            if user is None:
                return render_template("accounts/signup_check_email.html", email=form.email.data.strip())
            flash(f"Welcome, {user.username}! Your account is ready.", "success")
            return _sign_in(user, remember=False, next_url=next_url)
    return render_template("accounts/signup.html", form=form, invited_to=invited_to, next_url=next_url)


@bp.get("/signup/confirm/<token>")
def confirm_signup(token: str) -> Response | tuple[str, int]:
    try:
        with runtime().db.write() as db_session:
            user, next_path = signups.confirm_signup(db_session, token)
    except InvalidLink as exc:
        return render_template("accounts/link_invalid.html", message=str(exc), again="accounts.signup"), 400
    flash(f"Welcome, {user.username}! Your address is confirmed and your account is ready.", "success")
    return _sign_in(user, remember=False, next_url=safe_next(next_path))


def _send_signup_mail(db_session, email: str, username: str, outcome: signups.SignupOutcome) -> None:
    """The one email a pending sign-up sends; the page shown is the same either way."""
    if outcome.confirm_token:
        _send_mail(db_session, email, "Finish creating your Envelope account", "accounts/email/confirm_signup.txt",
                   username=username, link=_external_url("accounts.confirm_signup", token=outcome.confirm_token),
                   hours=int(signups.SIGNUP_LIFETIME.total_seconds() // 3600))
    elif outcome.notify_registered:
        _send_mail(db_session, email, "Finish creating your Envelope account", "accounts/email/signup_registered.txt",
                   login=_external_url("accounts.login"), reset=_external_url("accounts.reset_request"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
@limiter.limit(LOGIN_LIMIT, key_func=_login_name_key, methods=["POST"])
def login() -> Response | str:
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or _home())
    form = LoginForm()
    if form.validate_on_submit():
        try:
            with runtime().db.read() as db_session:
                user = accounts.authenticate_password(db_session, form.login.data, form.password.data)
        except Unauthorized as exc:
            form.form_errors.append(str(exc))
        else:
            if not user.totp_enabled:
                return _sign_in(user, remember=form.remember.data, next_url=next_url)
            session[PENDING_LOGIN] = {
                "user_id": user.id, "remember": bool(form.remember.data), "next": next_url, "at": time.time(),
            }
            return redirect(url_for("accounts.login_2fa"))
    return render_template("accounts/login.html", form=form, next_url=next_url)


@bp.route("/login/2fa", methods=["GET", "POST"])
@limiter.limit(SECOND_FACTOR_LIMIT, methods=["POST"])
@limiter.limit(SECOND_FACTOR_LIMIT, key_func=_pending_user_key, methods=["POST"])
def login_2fa() -> Response | str:
    pending = _pending_login()
    if pending is None:
        flash("That sign-in took longer than 5 minutes, or was not started. Please sign in again.", "error")
        return redirect(url_for("accounts.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            with runtime().db.write() as db_session:
                user = db_session.get(User, pending["user_id"])
                if user is None or not user.is_active:
                    raise totp.InvalidCode(accounts.LOGIN_FAILED)
                method = totp.verify_second_factor(
                    db_session, user, form.code.data, runtime().settings.secret_key
                )
                remaining = totp.remaining_recovery_codes(db_session, user)
        except totp.InvalidCode as exc:
            _show_error(form, exc, "code")
        else:
            if method == "recovery":
                flash(
                    f"You signed in with a recovery code; {remaining} remain. "
                    "Replace them on the two-factor page if you are running low.",
                    "success" if remaining > 2 else "error",
                )
            return _sign_in(user, remember=pending["remember"], next_url=pending.get("next"))
    return render_template("accounts/login_2fa.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        with runtime().db.write() as db_session:
            try:
                revoke_session(db_session, current_user.user, current_user.session_id)
            except NotFound:  # already revoked elsewhere
                pass
        logout_user()
        flash("You are signed out.", "success")
    return redirect(_home())


# --- password reset and email verification (links sent by email) -------------


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit(RESET_LIMIT, methods=["POST"])
@limiter.limit(RESET_LIMIT, key_func=_reset_email_key, methods=["POST"])
def reset_request() -> str:
    form = ResetRequestForm()
    if form.validate_on_submit():
        # The same answer whether or not the address is registered.
        with runtime().db.write() as db_session:
            found = accounts.request_password_reset(db_session, form.email.data)
            if found is not None:
                user, token = found
                _send_mail(
                    db_session,
                    user.email,
                    "Reset your Envelope password",
                    "accounts/email/reset_password.txt",
                    user=user,
                    link=_external_url("accounts.reset_password", token=token),
                    minutes=int(LIFETIMES[RESET_PASSWORD].total_seconds() // 60),
                )
        return render_template("accounts/reset_sent.html")
    return render_template("accounts/reset_request.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | str | tuple[str, int]:
    form = ResetPasswordForm()
    try:
        if form.validate_on_submit():
            try:
                with runtime().db.write() as db_session:
                    user = accounts.reset_password(db_session, token, form.password.data)
            except accounts.InvalidField as exc:
                _show_error(form, exc)
            else:
                if current_user.is_authenticated:
                    logout_user()  # its session was just revoked with all the others
                flash("Your password is changed and every session is signed out. Sign in again.", "success")
                return redirect(url_for("accounts.login"))
        with runtime().db.read() as db_session:
            user = accounts.check_reset_token(db_session, token)
    except InvalidLink as exc:
        page = render_template("accounts/link_invalid.html", message=str(exc), again="accounts.reset_request")
        return page, 400
    return render_template("accounts/reset_password.html", form=form, username=user.username)


@bp.get("/verify-email/<token>")
def verify_email(token: str) -> str | tuple[str, int]:
    try:
        with runtime().db.write() as db_session:
            user = accounts.verify_email(db_session, token)
    except InvalidLink as exc:
        return render_template("accounts/link_invalid.html", message=str(exc), again="accounts.account"), 400
    return render_template("accounts/email_verified.html", email=user.email)


@bp.post("/account/verify-email")
@login_required
@limiter.limit(RESEND_LIMIT)
def resend_verification() -> Response:
    try:
        with runtime().db.write() as db_session:
            user = _me(db_session)
            token = accounts.start_email_verification(db_session, user)
            _send_verification(db_session, user, token)
    except Conflict as exc:
        flash(str(exc), "success")
    else:
        flash(f"We sent a new confirmation link to {user.email}.", "success")
    return redirect(url_for("accounts.account"))
