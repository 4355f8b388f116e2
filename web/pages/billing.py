"""An organization's subscription (docs/billing.md): members see the plan and
its state; owners subscribe through Stripe Checkout and manage the
subscription in Stripe's customer portal. Absent (404) unless billing is on."""
from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request
from flask_login import login_required

from envelope import plans, quotas
from envelope.billing import stripe_api
from envelope.billing.checkout import checkout_url, portal_url
from envelope.billing.subscriptions import PAYING, UNPAID, billing_state
from envelope.orgs.capabilities import Capability
from envelope.accounts.users import user_label

from web.pages.org_pages import CONTENT_SECURITY_POLICY, access_for, html_pages, signed_in_user
from web.runtime import runtime

bp = html_pages(Blueprint("billing", __name__))


@bp.before_request
def billing_is_on() -> None:
    if not runtime().settings.billing_enabled:
        abort(404)


@bp.after_request
def stripe_may_receive_the_forms(response: Response) -> Response:
    """The checkout and portal forms answer with a redirect to Stripe: the
    browser follows it only if form-action allows Stripe's page hosts."""
    origins = " ".join(stripe_api.page_origins(runtime().settings))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origins}")
    return response


@bp.get("/<org>/billing")
@login_required
def index(org: str) -> str:
    rt = runtime()
    with rt.db.read() as session:
        access = access_for(session, org, Capability.SEE_SETTINGS, to="see the subscription")
        state = billing_state(session, rt.settings, access.organization.id)
        fallback = plans.default_plan(session)
        return render_template(
            "ui/org_billing.html", org=access.organization, access=access, state=state,
            plans=[(p, plans.plan_limits(p)) for p in plans.priced_plans(session)],
            fallback=fallback.name if fallback else None, describe=quotas.describe_limits,
            subscribed=state.status in PAYING | UNPAID, unpaid=state.status in UNPAID,
            is_owner=access.allows(Capability.MANAGE_SETTINGS),
            returned=request.args.get("checkout") == "done",
        )


@bp.post("/<org>/billing/checkout")
@login_required
def checkout(org: str) -> Response:
    """Send the owner to Stripe Checkout for the chosen plan."""
    rt = runtime()
    with rt.db.read() as session:
        org_id = access_for(session, org, Capability.MANAGE_SETTINGS, to="subscribe").organization.id
    user = signed_in_user()
    url = checkout_url(rt.db, rt.settings, organization_id=org_id, org_name=org,
                       plan_name=request.form.get("plan", ""), actor=user_label(user), email=user.email)
    return redirect(url, code=303)


@bp.post("/<org>/billing/portal")
@login_required
def portal(org: str) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        org_id = access_for(session, org, Capability.MANAGE_SETTINGS, to="manage the subscription").organization.id
    return redirect(portal_url(rt.db, rt.settings, organization_id=org_id, org_name=org), code=303)
