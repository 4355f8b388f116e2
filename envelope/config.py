"""Typed settings built from the environment: the only reader of os.environ."""
from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

from envelope.data_dir import make_data_dir_private, stored_secret_key

T = TypeVar("T")
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

DEFAULT_MAX_FILE_SIZE = 1024**3  # bytes: 1 GiB, like PyPI's default upload limit
DEFAULT_FOLLOWUPS = (60, 180, 600, 1800, 3600)  # seconds after a release event
DEFAULT_OIDC_ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_OIDC_AUDIENCE = "envelope"
# Links in mail when nothing names the public address: what `make serve`
# binds. `envelope serve` exports its own address instead; a request's Host
# header is never used (anyone can send any Host and get reset links mailed
# to their server).
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # `serve --host` values that mean every interface


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    storage_url: str
    broker_url: str
    secret_key: str
    base_url: str  # absolute links in mail, webhook URLs, install snippets, CLI output
    github_api_url: str
    sync_followups: tuple[int, ...]
    reconcile_interval: int  # seconds
    poll_interval: int  # seconds between polls of every repository
    housekeeping_interval: int  # seconds between housekeeping runs (stale upload spools)
    max_file_size: int  # bytes
    ratelimit_storage_url: str  # limits storage: redis://…, envelope+db:// (the database) or memory://
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
    # Host names the web app answers for (werkzeug's TRUSTED_HOSTS); empty: any.
    trusted_hosts: tuple[str, ...] = ()
    # Whether ENVELOPE_BASE_URL was set: without it base_url is a guess (the
    # served address), and the CLI says so next to URLs meant for others.
    base_url_configured: bool = True
    # Where the web process writes one line per request: "-" the console
    # (stdout), a file path, or None (ENVELOPE_ACCESS_LOG=off).
    access_log: str | None = "-"
    # Trusted publishing: the OIDC issuer whose tokens are exchanged for
    # 15-minute access tokens, and the audience they must carry. The issuer
    # is the only address its keys are fetched from.
    oidc_github_issuer: str = DEFAULT_OIDC_ISSUER
    oidc_audience: str = DEFAULT_OIDC_AUDIENCE
    # Billing through Stripe (docs/billing.md): off unless both secrets are
    # set. The API address is Stripe's unless a test points it elsewhere.
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_url: str = "https://api.stripe.com"
    billing_grace_days: int = 14  # an unpaid subscription keeps its plan this long

    @property
    def billing_enabled(self) -> bool:
        return bool(self.stripe_secret_key and self.stripe_webhook_secret)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, default_base_url: str = DEFAULT_BASE_URL
    ) -> "Settings":
        """Read settings; create the data directory (owner-only) and the secret key on first use.

        Raises ValueError naming the variable when a value is not understood."""
        env = os.environ if environ is None else environ
        data_dir = data_dir_from_env(env)
        make_data_dir_private(data_dir)
        return cls(
            data_dir=data_dir,
            database_url=database_url_from_env(env, data_dir),
            storage_url=env.get("ENVELOPE_STORAGE_URL") or f"file://{data_dir / 'files'}",
            broker_url=env.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.db'}",
            secret_key=env.get("ENVELOPE_SECRET_KEY") or stored_secret_key(data_dir),
            base_url=_base_url(env.get("ENVELOPE_BASE_URL"), default_base_url),
            github_api_url=env.get("ENVELOPE_GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            sync_followups=_int_list(env.get("ENVELOPE_SYNC_FOLLOWUPS"), DEFAULT_FOLLOWUPS),
            reconcile_interval=int(env.get("ENVELOPE_RECONCILE_INTERVAL", "60")),
            poll_interval=int(env.get("ENVELOPE_POLL_INTERVAL", "3600")),
            housekeeping_interval=int(env.get("ENVELOPE_HOUSEKEEPING_INTERVAL", "3600")),
            max_file_size=int(env.get("ENVELOPE_MAX_FILE_SIZE", str(DEFAULT_MAX_FILE_SIZE))),
            ratelimit_storage_url=_ratelimit_storage_url(env),
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
            trusted_hosts=_host_list(env.get("ENVELOPE_TRUSTED_HOSTS")),
            base_url_configured=bool((env.get("ENVELOPE_BASE_URL") or "").strip()),
            access_log=_access_log(env.get("ENVELOPE_ACCESS_LOG")),
            oidc_github_issuer=_issuer(env.get("ENVELOPE_OIDC_GITHUB_ISSUER")),
            oidc_audience=(env.get("ENVELOPE_OIDC_AUDIENCE") or "").strip() or DEFAULT_OIDC_AUDIENCE,
            stripe_secret_key=(env.get("ENVELOPE_STRIPE_SECRET_KEY") or "").strip() or None,
            stripe_webhook_secret=(env.get("ENVELOPE_STRIPE_WEBHOOK_SECRET") or "").strip() or None,
            stripe_api_url=(env.get("ENVELOPE_STRIPE_API_URL") or "https://api.stripe.com").rstrip("/"),  # tests: the fake
            billing_grace_days=int(env.get("ENVELOPE_BILLING_GRACE_DAYS", "14")),
        )

    @property
    def tmp_dir(self) -> Path:
        """Spool directory for uploads and downloads, on the data disk rather than /tmp's tmpfs."""
        path = self.data_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def github_web_url(self) -> str:
        """GitHub's web root for the configured API (where people create and
        install Apps): github.com for api.github.com, the server itself for
        GitHub Enterprise's HOST/api/v3, else the API URL as it is."""
        return github_web_url(self.github_api_url)


def github_web_url(api_url: str) -> str:
    parts = urlsplit(api_url)
    if parts.hostname == "api.github.com":
        return "https://github.com"
    if parts.path.rstrip("/").endswith("/api/v3"):
        return urlunsplit(parts._replace(path=parts.path.rstrip("/")[: -len("/api/v3")], query="", fragment=""))
    return api_url.rstrip("/")


PROJECT_NAME = "envelope-index"  # pyproject.toml's [project] name: how a checkout is recognised


def checkout_root(package_dir: Path | None = None) -> Path | None:
    """The source checkout Envelope runs from, when it is installed editable
    (`make dev-install`): the folder above the `envelope` package that holds
    this project's pyproject.toml. None for a regular install (site-packages)."""
    if package_dir is None:
        package_dir = Path(__file__).resolve().parent
    root = package_dir.parent
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{PROJECT_NAME}"' in pyproject else None


def default_data_dir(package_dir: Path | None = None) -> Path:
    """Where the data lives without ENVELOPE_DATA_DIR: the checkout's var/
    wherever a command is run from, so `envelope token create` run from
    another folder reaches the same instance `make serve` runs; ./var for
    an install outside a checkout."""
    root = checkout_root(package_dir)
    return (root / "var") if root is not None else Path("./var").resolve()


def data_dir_from_env(env: Mapping[str, str]) -> Path:
    """The data dir the settings will use; creates nothing."""
    raw = env.get("ENVELOPE_DATA_DIR")
    return Path(raw).resolve() if raw else default_data_dir()


def database_url_from_env(env: Mapping[str, str], data_dir: Path) -> str:
    """DATABASE_URL, else the SQLite file in the data dir; creates nothing."""
    return env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'envelope.db'}"


def instance_location(environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """(data dir, database URL) as Settings.from_env would find them, without creating either."""
    env = os.environ if environ is None else environ
    data_dir = data_dir_from_env(env)
    return data_dir, database_url_from_env(env, data_dir)


def served_base_url(host: str, port: int) -> str:
    """The base URL `envelope serve --host HOST --port PORT` stands for when
    ENVELOPE_BASE_URL is unset. A wildcard bind (0.0.0.0, ::) is meant for
    other machines, to whom 127.0.0.1 would mean themselves: the machine's
    host name stands in, and `serve` says so in its first line."""
    name = host.strip("[]")
    if name in WILDCARD_HOSTS:
        name = socket.gethostname() or "127.0.0.1"
    if ":" in name:
        name = f"[{name}]"  # IPv6 literal
    return f"http://{name}:{port}"


def served_environ(settings: Settings) -> dict[str, str]:
    """The environment for `serve`'s children (web server, worker): this
    process's, with the base URL and the data dir it settled on, so every
    process builds the same links, uses the same data and none falls back
    to a default of its own."""
    return {**os.environ, "ENVELOPE_BASE_URL": settings.base_url, "ENVELOPE_DATA_DIR": str(settings.data_dir)}


def _base_url(raw: str | None, default: str) -> str:
    value = (raw or "").strip().rstrip("/")
    if not value:
        return default.rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"ENVELOPE_BASE_URL={raw!r} is not understood: use the address people reach this index at, "
            "such as https://pypi.example.com."
        )
    return value


def _issuer(raw: str | None) -> str:
    """An issuer is compared with the tokens' `iss` character for character,
    and its keys are fetched from below it: an absolute http(s) URL without
    a trailing slash, query or fragment."""
    value = (raw or "").strip().rstrip("/")
    if not value:
        return DEFAULT_OIDC_ISSUER
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"ENVELOPE_OIDC_GITHUB_ISSUER={raw!r} is not understood: use the issuer's URL, "
            f"such as {DEFAULT_OIDC_ISSUER}."
        )
    return value


def _access_log(raw: str | None) -> str | None:
    value = (raw or "").strip() or "-"
    return None if value.lower() == "off" else value


def _host_list(raw: str | None) -> tuple[str, ...]:
    """Comma-separated host names, lowercased; werkzeug matches them without the port."""
    return tuple(part.strip().lower() for part in (raw or "").split(",") if part.strip())


def _ratelimit_storage_url(env: Mapping[str, str]) -> str:
    """ENVELOPE_RATELIMIT_STORAGE_URL when set; else the Redis the instance
    already uses (page cache, then Celery's broker); else the database
    (envelope/accounts/ratelimit.py). Counts must be shared by every web process for
    the documented limits to hold, so memory:// is used only when asked for."""
    explicit = env.get("ENVELOPE_RATELIMIT_STORAGE_URL")
    if explicit:
        return explicit
    for url in (env.get("ENVELOPE_CACHE_URL", ""), env.get("CELERY_BROKER_URL", "")):
        if url.startswith(("redis://", "rediss://")):
            return url
    return "envelope+db://"


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
