"""Instance administration: sign-up setting, organizations nobody owns.

Routes of the accounts blueprint (web/pages/accounts.py)."""
from __future__ import annotations

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from envelope import quotas
from envelope.accounts import users as accounts
from envelope.orgs import organizations
from envelope.errors import EnvelopeError
from web.pages.accounts import (
    _me,
    bp,
)
from web.pages.forms import (
    SignupSettingForm,
)
from web.runtime import runtime

# --- instance administration ---------------------------------------------------


@bp.route("/admin/settings", methods=["GET", "POST"])
@login_required
def admin_settings() -> Response | str | tuple[str, int]:
    if not current_user.user.is_admin:
        message = "Only administrators of this Envelope instance can change its settings."
        return render_template("accounts/error.html", title="Not allowed", message=message), 403
    form = SignupSettingForm()
    if form.validate_on_submit():
        with runtime().db.write() as db_session:
            accounts.set_signup_open(
                db_session, form.signup_open.data, actor=accounts.user_label(current_user.user)
            )
        flash(f"Sign-up is now {'open' if form.signup_open.data else 'closed'}.", "success")
        return redirect(url_for("accounts.admin_settings"))
    with runtime().db.read() as db_session:
        if not form.is_submitted():
            form.signup_open.data = accounts.signup_open(db_session, runtime().settings.signup_open)
        ownerless = [org.name for org in organizations.ownerless_organizations(db_session)]
        limits = quotas.all_limits(db_session)
    return render_template("accounts/admin_settings.html", form=form, ownerless=ownerless, limits=limits,
                           format_bytes=quotas.format_bytes, exact_size=quotas.exact_size)


@bp.post("/admin/orgs/<org>/claim")
@login_required
def claim_organization(org: str) -> Response | tuple[str, int]:
    """An administrator becomes the owner of an organization nobody owns
    (made by `envelope org create` without --owner), the only way into it."""
    if not current_user.user.is_admin:
        message = "Only administrators of this Envelope instance can claim an organization."
        return render_template("accounts/error.html", title="Not allowed", message=message), 403
    try:
        with runtime().db.write() as db_session:
            organizations.claim_organization(db_session, org, _me(db_session))
    except EnvelopeError as exc:
        flash(str(exc), "error")
        return redirect(url_for("accounts.admin_settings"))
    flash(f"You are now an owner of {org}.", "success")
    return redirect(url_for("orgs.dashboard", org=org))


@bp.post("/admin/orgs/<org>/quota")
@login_required
def set_quota(org: str) -> Response | tuple[str, int]:
    """An administrator sets an organization's limits (blank: no limit), as `envelope org quota` does."""
    if not current_user.user.is_admin:
        message = "Only administrators of this Envelope instance can set an organization's limits."
        return render_template("accounts/error.html", title="Not allowed", message=message), 403
    try:
        with runtime().db.write() as db_session:
            organization = organizations.get_organization(db_session, org)
            quotas.set_limits(db_session, organization, quotas.Limits(
                quotas.parse_limit(request.form.get("storage", "")),
                quotas.parse_limit(request.form.get("downloads", "")),
                quotas.parse_limit(request.form.get("members", ""), members=True),
            ), actor=accounts.user_label(current_user.user))
    except EnvelopeError as exc:
        flash(f"Limits of {org} not changed: {exc}", "error")
        return redirect(url_for("accounts.admin_settings") + "#limits")
    flash(f"Saved the limits of {org}.", "success")
    return redirect(url_for("accounts.admin_settings") + "#limits")
