"""The 80 % warnings by email: once per organization, kind and month, to its owners.

Run periodically off the request path (the worker's housekeeping task): the
figures are summed once per organization that has limits, and the month a
kind was last mailed is kept with the limits (OrgQuota.warned), so a usage
that stays high mails once a month, not once an hour."""
from __future__ import annotations

from sqlalchemy import select

from envelope.config import Settings
from envelope.db import Database
from envelope.mail import queue_mail
from envelope.models import Membership, Organization, OrgQuota, Role, User
from envelope.models.base import utcnow
from envelope.quotas import get_limits, org_usage, warnings


def mail_warnings(db: Database, settings: Settings) -> int:
    """Queue the warnings due; returns how many messages were queued."""
    now = utcnow()
    queued = 0
    with db.write() as session:
        for quota, org_name in session.execute(
            select(OrgQuota, Organization.name).join(Organization, Organization.id == OrgQuota.organization_id)
        ).all():
            limits = get_limits(session, quota.organization_id)  # its plan's, if it is on one
            if not limits.any:
                continue
            usage = org_usage(session, quota.organization_id, now)
            due = [w for w in warnings(limits, usage) if (quota.warned or {}).get(w.kind) != usage.month]
            if not due:
                continue
            owners = session.scalars(
                select(User).join(Membership, Membership.user_id == User.id)
                .where(Membership.organization_id == quota.organization_id, Membership.role == Role.owner,
                       User.is_active.is_(True))
            ).all()
            body = "\n".join([
                f"{org_name} is close to a limit set by the administrator of this Envelope instance:", "",
                *(f"  {w.sentence}" for w in due), "",
                f"Usage and limits: {settings.base_url}/{org_name}/usage",
                "Past a limit, uploads (storage) or downloads (until the first of next month, UTC) are refused,",
                "and no one more can join (members). Delete old files, or ask the administrator for more.",
            ])
            for owner in owners:
                queue_mail(session, settings, to=owner.email, subject=f"{org_name}: 80 % of a limit reached",
                           body=body + "\n")
                queued += 1
            quota.warned = {**(quota.warned or {}), **{w.kind: usage.month for w in due}}
    return queued
