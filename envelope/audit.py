"""The audit log: one row per change, written inside the change's transaction."""
from __future__ import annotations

import enum
from typing import Any

from sqlalchemy.orm import Session

from envelope.models import AuditEvent

MAX_PAGE = 100_000  # keeps OFFSET within every backend's integer range


class AuditAction(enum.StrEnum):
    """Every action the log records, as the "area.verb" string stored in
    AuditEvent.action and shown by the UI, the API and the CLI (unchanged
    from the bare strings these replaced, so old rows read the same)."""

    org_create = "org.create"
    org_claim = "org.claim"
    org_quota = "org.quota"
    billing_checkout = "billing.checkout"
    billing_plan = "billing.plan"
    billing_unpaid = "billing.unpaid"
    billing_downgrade = "billing.downgrade"
    instance_signup = "instance.signup"
    member_set = "member.set"
    member_add = "member.add"
    member_role = "member.role"
    member_leave = "member.leave"
    member_remove = "member.remove"
    invitation_create = "invitation.create"
    invitation_revoke = "invitation.revoke"
    invitation_accept = "invitation.accept"
    user_create = "user.create"
    user_admin = "user.admin"
    user_disable = "user.disable"
    user_enable = "user.enable"
    user_password_change = "user.password_change"
    user_password_reset = "user.password_reset"
    user_email_verify = "user.email_verify"
    user_session_revoke = "user.session_revoke"
    user_session_revoke_all = "user.session_revoke_all"
    user_2fa_enable = "user.2fa_enable"
    user_2fa_disable = "user.2fa_disable"
    user_recovery_code_used = "user.recovery_code_used"
    user_recovery_codes_regenerate = "user.recovery_codes_regenerate"
    token_create = "token.create"
    token_revoke = "token.revoke"
    token_mint = "token.mint"
    publisher_add = "publisher.add"
    publisher_remove = "publisher.remove"
    project_create = "project.create"
    project_status = "project.status"
    file_publish = "file.publish"
    file_yank = "file.yank"
    file_unyank = "file.unyank"
    file_delete = "file.delete"
    retention_set = "retention.set"
    retention_clear = "retention.clear"
    repo_add = "repo.add"
    repo_remove = "repo.remove"
    repo_sync = "repo.sync"
    repo_status = "repo.status"  # GitHub took a repository out of the App's installation, or back
    github_app_create = "github_app.create"
    github_app_install = "github_app.install"  # an installation is bound to an organization
    github_app_installation = "github_app.installation"  # GitHub suspended, unsuspended or uninstalled it
    proxy_enable = "proxy.enable"
    proxy_disable = "proxy.disable"
    proxy_reserve = "proxy.reserve"
    proxy_unreserve = "proxy.unreserve"
    proxy_min_age = "proxy.min_age"
    proxy_cache_budget = "proxy.cache_budget"
    proxy_cache_evict = "proxy.cache_evict"  # the collector evicted cached upstream files past the budget


def record_event(
    session: Session,
    organization_id: int | None,
    actor: str,
    action: AuditAction,
    subject: str,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            organization_id=organization_id,
            actor=actor,
            action=action,
            subject=subject,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )
