"""GitHub repository connections and the durable record of sync work.

Everything a worker needs to (re)do is a row here before it is a message on
a broker, so a lost message or a dead worker delays work but never loses it.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from envelope.db import Base
from envelope.models.accounts import Organization
from envelope.models.base import UTCDateTime, utcnow


# The columns stay String: these StrEnums hold the very strings stored today,
# so old rows, JSON output and comparisons with loaded (plain str) values agree.


class RunStatus(enum.StrEnum):
    """Where a SyncRun stands; a run is done once it succeeded or failed."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class RunTrigger(enum.StrEnum):
    """What queued a SyncRun: a webhook, a follow-up poll after one, the
    hourly poll, an owner or operator, or (in older rows) the reconciler."""

    webhook = "webhook"
    followup = "followup"
    poll = "poll"
    manual = "manual"
    reconcile = "reconcile"


class AssetOutcome(enum.StrEnum):
    """What a run did with one release asset."""

    published = "published"  # new bytes, now in the index
    present = "present"  # already published (same bytes, or seen unchanged before)
    ignored = "ignored"  # not a wheel or sdist
    refused = "refused"  # the repository may not publish that project or version
    failed = "failed"  # a lasting error (invalid distribution, too large, ...)


class DeliveryOutcome(enum.StrEnum):
    """What became of one webhook delivery."""

    queued = "queued"  # a sync run was queued for it
    ignored = "ignored"  # not a release event worth a run
    coalesced = "coalesced"  # a queued run for the same release serves it


class DigestCheck(enum.StrEnum):
    """What a downloaded asset's bytes showed against GitHub's `digest` of it."""

    verified = "verified"  # the sha256 GitHub gave matched
    unverified = "unverified"  # GitHub gave none (older Enterprise Server)
    mismatch = "mismatch"  # other bytes than GitHub vouches for: refused


class ConnectionStatus(enum.StrEnum):
    """Whether a connection syncs. Only App connections leave `active`, on
    GitHub's own events; nothing is deleted, so history and files stay."""

    active = "active"
    removed = "removed"  # the repository was taken out of the App's installation
    suspended = "suspended"  # the installation is suspended
    disconnected = "disconnected"  # the App was uninstalled


class InstallationStatus(enum.StrEnum):
    """An installation of the instance's GitHub App, as GitHub last said."""

    active = "active"
    suspended = "suspended"
    deleted = "deleted"


class TaskName(enum.StrEnum):
    """The worker's tasks, by the names the outbox stores and Celery routes on."""

    ingest_run = "envelope.ingest_run"
    render_readme = "envelope.render_readme"
    poll_all = "envelope.poll_all"
    reconcile = "envelope.reconcile"
    send_mail = "envelope.send_mail"
    housekeeping = "envelope.housekeeping"
    lifecycle = "envelope.lifecycle"
    refresh_upstream_page = "envelope.refresh_upstream_page"


class RepositoryConnection(Base):
    """One organization's connection of one GitHub repository. Several
    organizations may connect the same repository, each with its own
    webhook secret and token: whether one has says nothing about the others."""

    __tablename__ = "repository_connections"
    __table_args__ = (UniqueConstraint("organization_id", "full_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # owner/repo, lowercased: GitHub compares repository names case-insensitively.
    # Indexed: a webhook names only the repository.
    full_name: Mapped[str] = mapped_column(String(200), index=True)
    # Normalized project names this repository may publish; empty: any project.
    allowed_projects: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Fernet-sealed with a key derived from ENVELOPE_SECRET_KEY. A connection
    # through the GitHub App has neither: the App's webhook secret signs its
    # deliveries and short-lived installation tokens fetch its assets.
    github_token_sealed: Mapped[str | None] = mapped_column(Text)
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text)
    installation_id: Mapped[int | None] = mapped_column(ForeignKey("github_installations.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ConnectionStatus.active)  # a ConnectionStatus
    releases_etag: Mapped[str | None] = mapped_column(String(200))
    last_polled: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship()
    installation: Mapped["GitHubInstallation | None"] = relationship(lazy="joined")  # pages show it


class GitHubApp(Base):
    """The instance's own GitHub App, made by the manifest flow: one row at most."""

    __tablename__ = "github_apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(BigInteger)
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    html_url: Mapped[str] = mapped_column(String(500))
    owner_login: Mapped[str | None] = mapped_column(String(100))
    # Sealed like the other secrets (envelope.sealing): the PEM signs the JWTs
    # that mint installation tokens, the secret signs the App's webhooks.
    private_key_sealed: Mapped[str] = mapped_column(Text)
    webhook_secret_sealed: Mapped[str] = mapped_column(Text)
    # The App's OAuth client: an installing owner's OAuth code, traded with
    # it, proves which installations their GitHub account manages. NULL on
    # Apps made before 0024 (those bind within BIND_WINDOW, unverified).
    client_id: Mapped[str | None] = mapped_column(String(100))
    client_secret_sealed: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GitHubInstallation(Base):
    """Where the App is installed (a GitHub user or organization), and the
    Envelope organization whose owner installed it (None until one does)."""

    __tablename__ = "github_installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    installation_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    account_login: Mapped[str] = mapped_column(String(100))
    account_type: Mapped[str] = mapped_column(String(20))  # User | Organization
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default=InstallationStatus.active)  # an InstallationStatus
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppDelivery(Base):
    """One row per X-GitHub-Delivery to the App's webhook, written before it
    is acted on: a redelivery finds it and changes nothing."""

    __tablename__ = "github_app_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(50))
    action: Mapped[str | None] = mapped_column(String(50))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    received: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One row per X-GitHub-Delivery and connection: a redelivered webhook
    finds its row and stops. Per connection, so a delivery id chosen by
    whoever knows one organization's secret cannot block another's."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("connection_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(100))
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("repository_connections.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(50))
    action: Mapped[str | None] = mapped_column(String(50))
    release_id: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(20))  # a DeliveryOutcome
    received: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncRun(Base):
    """One ingestion of one release (or of every release, for a manual sync).

    `lease_until` is how a run is claimed: a worker owns it until then and
    extends it while it works; the reconciler re-queues runs whose lease ran
    out (their worker died) and runs queued for too long (a lost message)."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("repository_connections.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(20))  # a RunTrigger
    release_id: Mapped[int | None] = mapped_column(BigInteger)
    release_tag: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.queued, index=True)  # a RunStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Which follow-up poll of the schedule this is (0 for the first run), and
    # how many polls in a row have seen the same assets (follow-ups stop at 2).
    followup_index: Mapped[int] = mapped_column(Integer, default=0)
    stable_polls: Mapped[int] = mapped_column(Integer, default=0)
    # Names+sizes+update times of the assets seen: follow-ups stop once it is stable.
    assets_fingerprint: Mapped[str | None] = mapped_column(String(64))
    assets_seen: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[int] = mapped_column(Integer, default=0)
    present: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    connection: Mapped[RepositoryConnection] = relationship()
    assets: Mapped[list["SyncAsset"]] = relationship(
        back_populates="run", order_by="SyncAsset.id", cascade="all, delete-orphan"
    )


class SyncAsset(Base):
    """What happened to one asset in one run, with the reason when it was not published."""

    __tablename__ = "sync_assets"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    # GitHub's id and update time: an asset seen published before, unchanged,
    # is not downloaded again.
    asset_id: Mapped[int] = mapped_column(BigInteger, index=True)
    asset_updated_at: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))  # an AssetOutcome
    reason: Mapped[str | None] = mapped_column(Text)
    digest_check: Mapped[str | None] = mapped_column(String(20))  # a DigestCheck; None: not downloaded

    run: Mapped[SyncRun] = relationship(back_populates="assets")


class OutboxMessage(Base):
    """A task to send to the broker, written in the same transaction as the
    work it stands for. The relay sends rows whose `not_before` has passed
    and marks them sent; tasks are idempotent, so a row sent twice is harmless."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(100))  # a TaskName
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
