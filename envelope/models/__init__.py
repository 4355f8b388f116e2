"""All tables, importable from one place (Alembic needs every model loaded)."""
from envelope.models.accounts import (
    AccessToken,
    InstanceSetting,
    Invitation,
    Membership,
    OneTimeToken,
    Organization,
    PendingSignup,
    RecoveryCode,
    Role,
    TokenScope,
    User,
    UserSession,
)
from envelope.models.audit import AuditEvent, ServiceHeartbeat
from envelope.models.github import (
    AssetOutcome,
    DeliveryOutcome,
    OutboxMessage,
    RepositoryConnection,
    RunStatus,
    RunTrigger,
    SyncAsset,
    SyncRun,
    TaskName,
    WebhookDelivery,
)
from envelope.models.mail import MailMessage
from envelope.models.packaging import DeletedFilename, File, FileSource, Project, ReadmeStatus, Release
from envelope.models.ratelimit import RateLimitCounter
from envelope.models.upstream import UpstreamObject, UpstreamPage

__all__ = [
    "PendingSignup",
    "InstanceSetting",
    "Invitation",
    "OneTimeToken",
    "RecoveryCode",
    "UserSession",
    "AccessToken",
    "AssetOutcome",
    "AuditEvent",
    "DeletedFilename",
    "DeliveryOutcome",
    "File",
    "FileSource",
    "MailMessage",
    "Membership",
    "OutboxMessage",
    "Organization",
    "Project",
    "ReadmeStatus",
    "RateLimitCounter",
    "Release",
    "RepositoryConnection",
    "Role",
    "RunStatus",
    "RunTrigger",
    "ServiceHeartbeat",
    "SyncAsset",
    "SyncRun",
    "TaskName",
    "TokenScope",
    "UpstreamObject",
    "UpstreamPage",
    "User",
    "WebhookDelivery",
]
