"""Organizations, people, their roles, and access tokens."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, false, BigInteger, Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from envelope.db import Base
from envelope.models.base import UTCDateTime, utcnow


class Role(str, enum.Enum):
    """Ordered: each role can do everything the ones before it can."""

    reader = "reader"
    maintainer = "maintainer"
    owner = "owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    @property
    def with_article(self) -> str:
        """For sentences: "an owner", "a reader"."""
        return f"an {self.value}" if self.value[0] in "aeiou" else f"a {self.value}"


class TokenScope(enum.StrEnum):
    """What an access token may do: read the index, or also upload to it.
    Stored as this string in AccessToken.scope (a String column)."""

    read = "read"
    upload = "upload"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Bumped whenever the set of projects changes: the /simple/ page's ETag.
    serial: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped whenever access narrows (a token revoked, a member removed, a role
    # or a password changed): read with the serial, it makes every process
    # verify its cached credentials again on the next request.
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Upstream proxy, opt-in: names with no private project fall through to
    # this simple index (NULL: off). Credentials, if any, are kept apart and sealed.
    upstream_url: Mapped[str | None] = mapped_column(String(500))
    upstream_credentials_sealed: Mapped[str | None] = mapped_column(Text)
    # Name patterns ("acme-*") never proxied, even while no private project has them.
    reserved_names: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Minimum age, in seconds, of an upstream file before the proxy offers it
    # (0: at once): a defence against malicious fresh releases. Judged by the
    # upstream's PEP 700 upload-time (envelope.upstream.hold).
    upstream_min_age: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # How many upstream versions the minimum age has held back, each counted once.
    upstream_held_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The budget of the upstream cache (envelope.lifecycle.upstream_cache): at
    # most this many bytes of cached upstream files, each used within this
    # many seconds; NULL: no limit of that kind (kept forever).
    upstream_cache_max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    upstream_cache_max_age: Mapped[int | None] = mapped_column(Integer)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # TOTP secret, Fernet-sealed; enabled only once a first code confirmed it.
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A signed-in browser. The cookie carries only `id`; revoking the row
    signs that browser out, and the list of rows is what "your sessions" shows."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie secret
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class OneTimeToken(Base):
    """Links sent by email (password reset, email verification, invitations'
    acceptance is separate): stored hashed, expire, and work once."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # reset_password | verify_email
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    used: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingSignup(Base):
    """A sign-up waiting for its email address to be confirmed. The account is
    created only when the emailed link is followed, so the sign-up form
    answers the same whether or not an address is already registered."""

    __tablename__ = "pending_signups"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    next_path: Mapped[str | None] = mapped_column(String(500))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """Two-factor recovery codes: hashed, each usable once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invitation(Base):
    """An email invitation to join an organization with a role; works once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()


class InstanceSetting(Base):
    """Instance-wide switches an admin flips in the UI (e.g. open sign-up)."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500))


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship()
    user: Mapped[User] = relationship()


class AccessToken(Base):
    """Only the SHA-256 of the secret is kept: tokens are 190 random bits, so
    a fast hash is as strong as a slow one and keeps auth cheap."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(16))  # a TokenScope
    # [{"project": normalized name, "specifier": "" or a PEP 440 specifier}]
    restrictions: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters after the prefix, shown in listings so people can
    # tell tokens apart without the secret.
    hint: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Minted by trusted publishing (envelope/publishing): which publisher's
    # exchange made it. Only such tokens may be burnt by /_/oidc/burn-token.
    publisher_id: Mapped[int | None] = mapped_column(
        ForeignKey("trusted_publishers.id", ondelete="SET NULL"), index=True
    )

    organization: Mapped[Organization] = relationship()
    user: Mapped[User | None] = relationship()
