"""Typed settings built from the environment: the only reader of os.environ."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

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
        )

    @property
    def tmp_dir(self) -> Path:
        """Spool directory for uploads and downloads, on the data disk rather than /tmp's tmpfs."""
        path = self.data_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _int_list(raw: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not raw:
        return default
    return tuple(int(part) for part in raw.split(",") if part.strip())


def _stored_secret_key(data_dir: Path) -> str:
    """Generate the key once so sessions survive restarts of an embedded install."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
