"""Typed settings built from the environment: the only reader of os.environ."""
from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TypeVar, Union

T = TypeVar("T")
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_MAX_FILE_SIZE = 1024**3  # bytes: 1 GiB, like PyPI's default upload limit
DEFAULT_FOLLOWUPS = (60, 180, 600, 1800, 3600)  # seconds after a release event


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    broker_url: str
    secret_key: str
    base_url: str | None
    github_api_url: str
    sync_followups: tuple[int, ...]
    reconcile_interval: int  # seconds
    poll_interval: int  # seconds between polls of every repository
    max_file_size: int  # bytes
    ratelimit_storage_url: str  # Flask-Limiter storage: memory:// or redis://…
    downloads: str  # "redirect" (presigned/CDN URL) or "stream" (through the web process)
    download_url_window: int  # seconds a redirect URL stays identical (pip/uv cache by URL)
    cdn_url: str | None  # base URL of a CDN in front of the bucket
    cdn_key_id: str | None  # CloudFront key pair id, to sign CDN URLs
    cdn_private_key_file: str | None  # PEM file of that key
    accel_redirect_prefix: str | None  # local storage behind nginx: X-Accel-Redirect location
    cache_url: str  # memory:// (per process) or redis://… (shared)
    trusted_proxies: int  # reverse proxies in front whose X-Forwarded-For/-Proto to believe
    auth_cache_seconds: float  # how long a verified credential is trusted without the database
    # Outgoing mail. Without an SMTP host, messages are written as .eml files
    # under data_dir/mail/ (a laptop install needs no mail server).
    smtp_host: str | None = None
    smtp_port: int = 25  # 465 means implicit TLS
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    mail_from: str = "Envelope <envelope@localhost>"
    # Whether anyone may create an account until an admin changes it in the UI.
    signup_open: bool = True
    # Upstream proxy: how long a fetched upstream page is fresh, the total
    # deadline for fetching one page, and the non-public networks it may
    # reach besides public addresses (an internal mirror).
    upstream_ttl: int = 600  # seconds
    upstream_timeout: float = 10.0  # seconds
    upstream_allow_addresses: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read settings; create the data directory and the secret key on first use."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("ENVELOPE_DATA_DIR", "./var")).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'envelope.db'}",
            storage_url=env.get("ENVELOPE_STORAGE_URL") or f"file://{data_dir / 'files'}",
            broker_url=env.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.db'}",
            secret_key=env.get("ENVELOPE_SECRET_KEY") or _stored_secret_key(data_dir),
            base_url=(env.get("ENVELOPE_BASE_URL") or "").rstrip("/") or None,
            github_api_url=env.get("ENVELOPE_GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            sync_followups=_int_list(env.get("ENVELOPE_SYNC_FOLLOWUPS"), DEFAULT_FOLLOWUPS),
            reconcile_interval=int(env.get("ENVELOPE_RECONCILE_INTERVAL", "60")),
            poll_interval=int(env.get("ENVELOPE_POLL_INTERVAL", "3600")),
            max_file_size=int(env.get("ENVELOPE_MAX_FILE_SIZE", str(DEFAULT_MAX_FILE_SIZE))),
            ratelimit_storage_url=env.get("ENVELOPE_RATELIMIT_STORAGE_URL", "memory://"),
            downloads=_choice(
                "ENVELOPE_DOWNLOADS", env.get("ENVELOPE_DOWNLOADS"),
                {"redirect": "redirect", "stream": "stream"}, "redirect",
            ),
            download_url_window=int(env.get("ENVELOPE_DOWNLOAD_URL_WINDOW", "3600")),
            cdn_url=(env.get("ENVELOPE_CDN_URL") or "").rstrip("/") or None,
            cdn_key_id=env.get("ENVELOPE_CDN_KEY_ID") or None,
            cdn_private_key_file=env.get("ENVELOPE_CDN_PRIVATE_KEY_FILE") or None,
            accel_redirect_prefix=(env.get("ENVELOPE_ACCEL_REDIRECT_PREFIX") or "").rstrip("/") or None,
            cache_url=env.get("ENVELOPE_CACHE_URL", "memory://"),
            trusted_proxies=int(env.get("ENVELOPE_TRUSTED_PROXIES", "0")),
            auth_cache_seconds=float(env.get("ENVELOPE_AUTH_CACHE_SECONDS", "5")),
            smtp_host=env.get("ENVELOPE_SMTP_HOST") or None,
            smtp_port=int(env.get("ENVELOPE_SMTP_PORT") or "25"),
            smtp_username=env.get("ENVELOPE_SMTP_USERNAME") or None,
            smtp_password=env.get("ENVELOPE_SMTP_PASSWORD") or None,
            smtp_starttls=_flag("ENVELOPE_SMTP_STARTTLS", env.get("ENVELOPE_SMTP_STARTTLS"), False),
            mail_from=env.get("ENVELOPE_SMTP_FROM") or "Envelope <envelope@localhost>",
            signup_open=_choice(
                "ENVELOPE_SIGNUP", env.get("ENVELOPE_SIGNUP"), {"open": True, "closed": False}, "open"
            ),
            upstream_ttl=int(env.get("ENVELOPE_UPSTREAM_TTL", "600")),
            upstream_timeout=float(env.get("ENVELOPE_UPSTREAM_TIMEOUT", "10")),
            upstream_allow_addresses=_networks(
                "ENVELOPE_UPSTREAM_ALLOW_ADDRESSES", env.get("ENVELOPE_UPSTREAM_ALLOW_ADDRESSES")
            ),
        )

    @property
    def tmp_dir(self) -> Path:
        """Spool directory for uploads and downloads, on the data disk rather than /tmp's tmpfs."""
        path = self.data_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _networks(name: str, raw: str | None) -> tuple[IPNetwork, ...]:
    networks = []
    for part in (p.strip() for p in (raw or "").split(",")):
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(
                    f"{name}: {part!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8)."
                ) from None
    return tuple(networks)


def _int_list(raw: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not raw:
        return default
    return tuple(int(part) for part in raw.split(",") if part.strip())


_BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _flag(name: str, raw: str | None, default: bool) -> bool:
    return _choice(name, raw, _BOOLEANS, "true" if default else "false")


def _choice(name: str, raw: str | None, choices: dict[str, T], default: str) -> T:
    value = (raw or default).strip().lower()
    if value not in choices:
        raise ValueError(f"{name}={raw!r} is not understood: use one of {', '.join(choices)}.")
    return choices[value]


def _stored_secret_key(data_dir: Path) -> str:
    """Generate the key once so sessions survive restarts of an embedded install.

    Several processes may start at once (web, worker, beat): the key is
    written to a private temporary file and linked into place, which either
    creates the file complete or fails because another process won; then
    that process's key is read."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".secret_key-")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()
