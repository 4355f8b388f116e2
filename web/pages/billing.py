"""An organization's subscription (docs/billing.md): members see the plan and
its state; owners subscribe through Stripe Checkout and manage the
subscription in Stripe's customer portal. Absent (404) unless billing is on."""
from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request
from flask_login import login_required

from envelope import plans, quotas
from envelope.audit import AuditAction, record_event
from envelope.billing import stripe_api
from envelope.billing.subscriptions import PAYING, UNPAID, billing_state
from envelope.errors import InvalidInput
from envelope.models import BillingAccount
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
    """Send the owner to Stripe Checkout for the chosen plan; the plan changes
    when Stripe's webhook says the subscription is paid, not here."""
    rt = runtime()
    with rt.db.read() as session:  # no write transaction held while Stripe answers
        access = access_for(session, org, Capability.MANAGE_SETTINGS, to="subscribe")
        org_id = access.organization.id
        plan = plans.get_plan(session, request.form.get("plan", "")[:64])
        if plan.stripe_price is None:
            raise InvalidInput(f"Plan {plan.name} is not sold through Stripe.")
        account = session.get(BillingAccount, org_id)
        if account is not None and account.status in PAYING | UNPAID:
            raise InvalidInput(f"{org} already has a subscription: change its plan in the customer portal.")
        customer, price, plan_name = (account.customer_id if account else None), plan.stripe_price, plan.name
    user = signed_in_user()
    url = stripe_api.start_checkout(rt.settings, org_id=org_id, org_name=org, price_id=price,
                                    customer_id=customer, email=user.email)
    with rt.db.write() as session:
        record_event(session, org_id, user_label(user), AuditAction.billing_checkout, org, plan=plan_name)
    return redirect(url, code=303)


@bp.post("/<org>/billing/portal")
@login_required
def portal(org: str) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        access = access_for(session, org, Capability.MANAGE_SETTINGS, to="manage the subscription")
        account = session.get(BillingAccount, access.organization.id)
        if account is None:
            raise InvalidInput(f"{org} has no subscription yet: choose a plan first.")
        customer = account.customer_id
    return redirect(stripe_api.open_portal(rt.settings, org_name=org, customer_id=customer), code=303)
