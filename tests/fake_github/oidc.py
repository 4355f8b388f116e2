"""GitHub Actions' OIDC side, faked on the loopback: the issuer (discovery
document and JWKS, as https://token.actions.githubusercontent.com serves
them, with its own RSA keys) and the runner's ID-token endpoint
(ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN) that answers {"value": JWT} for
`?audience=`. Tokens carry GitHub's claim set for the job `FakeOidc.job` set."""
from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LOOPBACK = "127.0.0.1"
LIFETIME = 5 * 60  # seconds: GitHub's ID tokens live five minutes


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    private: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), secrets.token_hex(16).upper())

    def pem(self) -> bytes:
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": _b64(numbers.n),
                "e": _b64(numbers.e), "x5t": self.kid}


@dataclass
class Job:
    """One workflow run's identity, as GitHub's claims describe it."""

    repository: str = "acme/billing"
    workflow: str = "release.yml"
    environment: str | None = None
    ref: str = "refs/tags/v1.0.0"
    sha: str = "a" * 40
    run_id: str = "9876543210"
    repository_id: str = "123456789"
    repository_owner_id: str = "4242"
    event_name: str = "push"
    overrides: dict[str, Any] = field(default_factory=dict)

    def claims(self, issuer: str, audience: str, now: int | None = None) -> dict[str, Any]:
        now = int(time.time()) if now is None else now
        owner = self.repository.split("/")[0]
        workflow_ref = f"{self.repository}/.github/workflows/{self.workflow}@{self.ref}"
        subject = (f"repo:{self.repository}:environment:{self.environment}" if self.environment
                   else f"repo:{self.repository}:ref:{self.ref}")
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()), "sub": subject, "aud": audience, "ref": self.ref, "sha": self.sha,
            "repository": self.repository, "repository_owner": owner, "repository_owner_id": self.repository_owner_id,
            "run_id": self.run_id, "run_number": "7", "run_attempt": "1", "repository_visibility": "private",
            "repository_id": self.repository_id, "actor_id": "583231", "actor": "octocat",
            "workflow": "Release", "head_ref": "", "base_ref": "", "event_name": self.event_name,
            "ref_protected": "false", "ref_type": "tag" if self.ref.startswith("refs/tags/") else "branch",
            "workflow_ref": workflow_ref, "workflow_sha": self.sha, "job_workflow_ref": workflow_ref,
            "job_workflow_sha": self.sha, "runner_environment": "github-hosted",
            "iss": issuer, "nbf": now - 600, "exp": now + LIFETIME, "iat": now,
        }
        if self.environment:
            claims["environment"] = self.environment
        claims.update(self.overrides)
        return {k: v for k, v in claims.items() if v is not None}


class FakeOidc:
    """Both endpoints on one loopback server. `url` is the issuer (what
    ENVELOPE_OIDC_GITHUB_ISSUER names); `actions_env` what a runner sets."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.job = Job()
        self.request_token = secrets.token_urlsafe(24)
        self.requests: list[tuple[str, str]] = []  # (path with query, Authorization header)
        self.issued: list[str] = []
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-oidc", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def actions_env(self) -> dict[str, str]:
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/_apis/pipelines/workflows/{self.job.run_id}/idtoken?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def sign(self, claims: dict[str, Any], key: SigningKey | None = None) -> str:
        key = key or self.key
        return jwt.encode(claims, key.pem(), algorithm="RS256", headers={"kid": key.kid, "x5t": key.kid, "typ": "JWT"})

    def token(self, audience: str = "envelope", *, key: SigningKey | None = None, now: int | None = None,
              **overrides: Any) -> str:
        """A token for the current job, as the Actions endpoint would issue it."""
        claims = self.job.claims(self.url, audience, now)
        claims.update(overrides)
        return self.sign({k: v for k, v in claims.items() if v is not None}, key)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url, "jwks_uri": f"{self.url}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"], "response_types_supported": ["id_token"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
                                 "repository_id", "repository_owner", "repository_owner_id", "run_id",
                                 "run_number", "run_attempt", "actor", "actor_id", "workflow", "workflow_ref",
                                 "workflow_sha", "head_ref", "base_ref", "event_name", "ref_type",
                                 "environment", "environment_node_id", "job_workflow_ref", "job_workflow_sha",
                                 "repository_visibility", "runner_environment", "issuer_scope"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid"],
        }

    def __enter__(self) -> "FakeOidc":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(fake: FakeOidc) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            fake.requests.append((self.path, self.headers.get("Authorization", "")))
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                return self._send(200, fake.discovery())
            if parts.path == "/.well-known/jwks":
                return self._send(200, {"keys": [fake.key.jwk()]})
            if parts.path.startswith("/_apis/pipelines/workflows/") and parts.path.endswith("/idtoken"):
                scheme, _, credential = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or not secrets.compare_digest(credential, fake.request_token):
                    return self._send(401, {"message": "Bad credentials"})
                audience = (parse_qs(parts.query).get("audience") or [None])[0]
                owner = fake.job.repository.split("/")[0]
                token = fake.token(audience or f"https://github.com/{owner}")  # GitHub's default audience
                fake.issued.append(token)
                return self._send(200, {"value": token})
            return self._send(404, {"message": "Not Found"})

    return Handler
