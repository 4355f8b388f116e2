"""The account pages: password, two-factor sign-in, sessions.

Routes of the accounts blueprint (web/pages/accounts.py), kept apart so each
module reads as one part of a person's account."""
from __future__ import annotations

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from envelope.accounts import totp
from envelope.accounts import users as accounts
from envelope.accounts.sessions import user_sessions
from envelope.errors import Conflict, NotFound
from web.pages.accounts import (
    _me,
    _show_error,
    bp,
)
from web.pages.forms import (
    ChangePasswordForm,
    ConfirmTotpForm,
    PasswordConfirmForm,
)
from web.runtime import runtime

# --- the account pages ----------------------------------------------------------


@bp.get("/account")
@login_required
def account() -> str:
    with runtime().db.read() as db_session:
        user = _me(db_session)
        sessions = len(user_sessions(db_session, user))
        codes = totp.remaining_recovery_codes(db_session, user) if user.totp_enabled else None
    return render_template(
        "accounts/account.html", user=user, session_count=sessions, recovery_codes_left=codes
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with runtime().db.write() as db_session:
                revoked = accounts.change_password(
                    db_session, _me(db_session), form.current.data, form.password.data,
                    keep_session_id=current_user.session_id,
                )
        except accounts.WrongPassword as exc:
            _show_error(form, exc, "current")
        except accounts.InvalidField as exc:
            _show_error(form, exc)
        else:
            others = f" {revoked} other session{'s' if revoked != 1 else ''} signed out." if revoked else ""
            flash("Your password is changed." + others, "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/password.html", form=form)


def _two_factor_page(status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    with runtime().db.read() as db_session:
        user = _me(db_session)
        remaining = totp.remaining_recovery_codes(db_session, user) if user.totp_enabled else None
    enrolment = totp.pending_enrolment(user, runtime().settings.secret_key)
    page = render_template(
        "accounts/two_factor.html",
        user=user,
        enrolment=enrolment,
        remaining=remaining,
        confirm_form=forms.get("confirm_form") or ConfirmTotpForm(formdata=None),
        disable_form=forms.get("disable_form") or PasswordConfirmForm(formdata=None, prefix="disable"),
        codes_form=forms.get("codes_form") or PasswordConfirmForm(formdata=None, prefix="codes"),
    )
    return page, status


@bp.get("/account/2fa")
@login_required
def two_factor() -> tuple[str, int]:
    return _two_factor_page()


@bp.post("/account/2fa/setup")
@login_required
def two_factor_setup() -> Response:
    try:
        with runtime().db.write() as db_session:
            totp.start_enrolment(db_session, _me(db_session), runtime().settings.secret_key)
    except Conflict as exc:
        flash(str(exc), "error")
    return redirect(url_for("accounts.two_factor"))


@bp.post("/account/2fa/confirm")
@login_required
def two_factor_confirm() -> Response | tuple[str, int]:
    form = ConfirmTotpForm()
    if not form.validate():
        return _two_factor_page(400, confirm_form=form)
    try:
        with runtime().db.write() as db_session:
            codes = totp.confirm_enrolment(
                db_session, _me(db_session), form.code.data, runtime().settings.secret_key
            )
    except (totp.InvalidCode, totp.UndecryptableSecret, Conflict) as exc:
        _show_error(form, exc, "code")
        return _two_factor_page(400, confirm_form=form)
    return render_template("accounts/recovery_codes.html", codes=codes, just_enabled=True), 200


@bp.post("/account/2fa/recovery-codes")
@login_required
def two_factor_new_codes() -> Response | tuple[str, int]:
    form = PasswordConfirmForm(prefix="codes")
    if not form.validate():
        return _two_factor_page(400, codes_form=form)
    try:
        with runtime().db.write() as db_session:
            codes = totp.regenerate_recovery_codes(db_session, _me(db_session), form.password.data)
    except (accounts.WrongPassword, Conflict) as exc:
        _show_error(form, exc, "password")
        return _two_factor_page(400, codes_form=form)
    return render_template("accounts/recovery_codes.html", codes=codes, just_enabled=False), 200


@bp.post("/account/2fa/disable")
@login_required
def two_factor_disable() -> Response | tuple[str, int]:
    form = PasswordConfirmForm(prefix="disable")
    if not form.validate():
        return _two_factor_page(400, disable_form=form)
    try:
        with runtime().db.write() as db_session:
            totp.disable_totp(db_session, _me(db_session), form.password.data)
    except accounts.WrongPassword as exc:
        _show_error(form, exc, "password")
        return _two_factor_page(400, disable_form=form)
    flash("Two-factor authentication is off. Your recovery codes no longer work.", "success")
    return redirect(url_for("accounts.two_factor"))


@bp.get("/account/sessions")
@login_required
def sessions() -> str:
    with runtime().db.read() as db_session:
        rows = user_sessions(db_session, _me(db_session))
    return render_template("accounts/sessions.html", sessions=rows, current_id=current_user.session_id)


@bp.post("/account/sessions/<session_id>/revoke")
@login_required
def revoke(session_id: str) -> Response:
    try:
        with runtime().db.write() as db_session:
            accounts.sign_out_session(db_session, _me(db_session), session_id)
    except NotFound as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.sessions"))
    if session_id == current_user.session_id:
        logout_user()
        flash("You signed out this browser.", "success")
        return redirect(url_for("accounts.login"))
    flash("That session is signed out.", "success")
    return redirect(url_for("accounts.sessions"))


@bp.post("/account/sessions/revoke-others")
@login_required
def revoke_others() -> Response:
    with runtime().db.write() as db_session:
        count = accounts.sign_out_other_sessions(
            db_session, _me(db_session), keep_session_id=current_user.session_id
        )
    flash(f"Signed out {count} other session{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("accounts.sessions"))
