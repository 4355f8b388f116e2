"""Run the real clients (pip, uv, twine) against a server, with only that server answering."""
from __future__ import annotations

import base64
import fcntl
import hashlib
import http.client
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

BIN = Path(sys.executable).parent
# Venvs of other client versions, kept between runs outside the checkout:
# thousands of third-party modules do not belong in the project's tree.
CLIENT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "envelope-tests" / "clients"


def index_url(base_url: str, org: str, token: str | None) -> str:
    host = base_url.split("://", 1)[1]
    userinfo = f"__token__:{quote(token, safe='')}@" if token else ""
    return f"http://{userinfo}{host}/{org}/simple/"


def run(
    argv: list[str], env: dict[str, str], *, check: bool = True, cwd: Path | None = None,
    input: str | None = None,  # noqa: A002 - mirrors subprocess.run
) -> subprocess.CompletedProcess:
    """Run a client; with `check`, a non-zero exit fails the test showing its output.
    `cwd` is for the tools that find their project there (flit, pipenv)."""
    result = subprocess.run(argv, env=env, cwd=cwd, input=input, capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv[:3])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def pip(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(
        [str(BIN / "python"), "-m", "pip", *args, "--no-cache-dir", "--disable-pip-version-check"],
        env,
        check=check,
    )


def pip_version_python(version: str, env: dict[str, str]) -> Path:
    """The python of a venv whose pip is `version` (pip from PyPI, once; the
    venv is kept in CLIENT_CACHE between runs)."""
    return _cached_venv(f"pip-{version}", [f"pip=={version}"], env) / "bin" / "python"


def tool_bin(name: str, requirements: list[str], env: dict[str, str]) -> Path:
    """The bin folder of a venv holding `requirements` (pinned by the caller),
    made once from PyPI and kept in CLIENT_CACHE between runs. The folder's
    name carries the pins, so changing them makes a new venv."""
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:10]
    return _cached_venv(f"{name}-{key}", requirements, env) / "bin"


def _cached_venv(name: str, requirements: list[str], env: dict[str, str]) -> Path:
    """CLIENT_CACHE/name holding `requirements`, made once. A lock file keeps
    parallel test workers (make test runs several) from making it at once."""
    venv = CLIENT_CACHE / name
    marker = venv / ".ready"
    CLIENT_CACHE.mkdir(parents=True, exist_ok=True)
    with open(CLIENT_CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            run([sys.executable, "-m", "venv", "--clear", str(venv)], env)
            run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir", *requirements],
                env)
            marker.touch()
    return venv


def uv(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "uv"), *args, "--no-config", "--no-cache"], env, check=check)


def twine_upload(
    env: dict[str, str], base_url: str, org: str, token: str, files: list[Path], *extra: str,
    check: bool = True,
) -> subprocess.CompletedProcess:
    return run(
        [
            str(BIN / "twine"), "upload", "--non-interactive", "--disable-progress-bar",
            "--repository-url", f"{base_url}/{org}/legacy/", "-u", "__token__", "-p", token,
            *extra, *map(str, files),
        ],
        env,
        check=check,
    )


def installed_version(target: Path, module: str) -> str:
    """__version__ of a module installed with --target, read in a fresh interpreter."""
    code = f"import sys; sys.path.insert(0, {str(target)!r}); import {module}; print({module}.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    return out.stdout.strip()


class PartialUpload:
    """A twine-shaped upload sent by hand, so a test can stop halfway: the
    headers announce the whole body, `send` delivers it piece by piece."""

    def __init__(self, host: str, port: int, org: str, token: str, wheel: Path, *, timeout: float = 60) -> None:
        boundary = "envelopeboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name=":action"\r\n\r\nfile_upload\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{wheel.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.payload = head + wheel.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        self.sent = 0
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.connection.putrequest("POST", f"/{org}/legacy/")
        self.connection.putheader("Authorization", "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode())
        self.connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        self.connection.putheader("Content-Length", str(len(self.payload)))
        self.connection.endheaders()

    def send(self, size: int | None = None) -> None:
        """Send `size` more bytes of the body, or all that is left."""
        end = len(self.payload) if size is None else self.sent + size
        self.connection.send(self.payload[self.sent:end])
        self.sent = min(end, len(self.payload))

    def finish(self) -> http.client.HTTPResponse:
        self.send()
        return self.connection.getresponse()

    def close(self) -> None:
        self.connection.close()
