"""What an OIDC token must prove before it is exchanged: GitHub's signature
(RS256, a key the issuer publishes), the configured issuer and audience, its
validity window, and the claims a publisher is matched on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envelope.errors import MintRefused
from envelope.publishing.issuer import IssuerKeys

LEEWAY = 30  # seconds of clock skew allowed on exp, nbf and iat
MAX_TOKEN = 16 * 1024  # characters: GitHub's tokens are about 1.5 KB
MAX_CLAIM = 255  # characters of a claim Envelope stores
REQUIRED = ("iss", "aud", "exp", "iat", "nbf", "jti", "sub", "repository")


@dataclass(frozen=True)
class GitHubClaims:
    """The claims of a verified GitHub Actions token that Envelope uses."""

    issuer: str
    jti: str
    expires: int  # seconds since the epoch
    repository: str  # owner/repo, lowercased
    workflow_ref: str  # job_workflow_ref, else workflow_ref: owner/repo/.github/workflows/FILE@REF
    environment: str  # lowercased; "" when the job names none
    ref: str
    sha: str
    run_id: str
    run_attempt: str
    repository_id: str
    repository_owner_id: str

    def audit_detail(self) -> dict[str, str | None]:
        """What the audit log keeps of the run that minted a token."""
        return {
            "repository": self.repository, "workflow": self.workflow_ref, "ref": self.ref or None,
            "sha": self.sha or None, "run_id": self.run_id or None, "run_attempt": self.run_attempt or None,
            "environment": self.environment or None,
        }


def verify_token(token: Any, keys: IssuerKeys, *, audience: str) -> GitHubClaims:
    """The claims of `token` once its signature, issuer, audience, times and
    shape are verified; MintRefused saying which check failed otherwise.
    (IssuerUnavailable when the issuer's keys cannot be fetched.)

    PyJWT is imported here, not with the module: with cryptography's X.509
    and key types it is about 12 MB, and every web process imports this
    module while few instances publish with OIDC."""
    import jwt

    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise MintRefused("invalid-payload", "The request must be a JSON object with the OIDC token in \"token\".")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise MintRefused("invalid-token", "The token is not a JSON Web Token.") from None
    if header.get("alg") != "RS256":
        raise MintRefused("invalid-token", f"The token is signed with {header.get('alg')!r}; only RS256 is accepted.")
    key = keys.key_for(header.get("kid") if isinstance(header.get("kid"), str) else None)
    try:
        claims = jwt.decode(
            token, key=key.key, algorithms=["RS256"], audience=audience, issuer=keys.issuer, leeway=LEEWAY,
            options={"require": list(REQUIRED), "strict_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise MintRefused("invalid-token", "The token has expired: request a fresh one.") from None
    except jwt.ImmatureSignatureError:
        raise MintRefused("invalid-token", "The token is not valid yet (nbf or iat in the future).") from None
    except jwt.InvalidAudienceError:
        raise MintRefused("invalid-token", f"The token's audience is not {audience!r}: "
                          f"request it with audience={audience}.") from None
    except jwt.InvalidIssuerError:
        raise MintRefused("invalid-token", f"The token was not issued by {keys.issuer}.") from None
    except jwt.InvalidSignatureError:
        raise MintRefused("invalid-token", "The token's signature does not verify.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise MintRefused("invalid-token", f"The token lacks the {exc.claim!r} claim.") from None
    except jwt.PyJWTError as exc:
        raise MintRefused("invalid-token", f"The token is invalid: {exc}.") from None
    return _github_claims(claims)


def _text(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or len(str(value)) > MAX_CLAIM:
        raise MintRefused("invalid-token", f"The token's {name!r} claim is malformed.")
    return str(value)


def _github_claims(claims: dict[str, Any]) -> GitHubClaims:
    workflow_ref = _text(claims, "job_workflow_ref") or _text(claims, "workflow_ref")
    if not workflow_ref:
        raise MintRefused("invalid-token", "The token names no workflow (job_workflow_ref or workflow_ref).")
    jti = _text(claims, "jti")
    if not jti:
        raise MintRefused("invalid-token", "The token has an empty 'jti' claim.")
    return GitHubClaims(
        issuer=_text(claims, "iss"), jti=jti, expires=int(claims["exp"]),
        repository=_text(claims, "repository").lower(), workflow_ref=workflow_ref,
        environment=_text(claims, "environment").lower(), ref=_text(claims, "ref"), sha=_text(claims, "sha"),
        run_id=_text(claims, "run_id"), run_attempt=_text(claims, "run_attempt"),
        repository_id=_text(claims, "repository_id"), repository_owner_id=_text(claims, "repository_owner_id"),
    )
