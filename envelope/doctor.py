"""`envelope doctor URL [PROJECT]`: why can't this token install from this index?

pip hides every refusal of an index behind "(from versions: none)", even
with -v; the reason Envelope puts in the status line ("This access token
expired on …") reaches only curl and twine. The doctor asks the index as an
installer does, over HTTP only (it needs no database, so it runs on any
laptop or CI job), and turns the answers into one sentence.

Credentials are sent only to the URL's own host: redirects are reported,
never followed, and the token never appears in what is printed.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from packaging.requirements import Requirement

from envelope.errors import InvalidInput
from envelope.http_errors import describe
from envelope.names import normalize

PEP691_JSON = "application/vnd.pypi.simple.v1+json"
TIMEOUT = 15  # seconds per request


@dataclass(frozen=True)
class Finding:
    ok: bool
    sentence: str


@dataclass(frozen=True)
class Target:
    """What the URL names: the host part, the organization, maybe a project."""

    origin: str  # scheme://host[:port], no credentials
    org: str
    project: str | None
    username: str
    secret: str | None

    @property
    def index(self) -> str:
        """The index URL, as printed too: never with the secret."""
        return f"{self.origin}/{self.org}/simple/"


class Unusable(ValueError):
    """The URL cannot be an index URL; the message says what to give instead."""


def parse_target(url: str, *, token: str | None = None, project: str | None = None) -> Target:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unusable(f"Give the index URL, such as https://HOST/ORG/simple/, not {_without_secret(url)!r}.")
    segments = [s for s in parts.path.split("/") if s]
    if not segments or (len(segments) > 1 and segments[1] != "simple") or len(segments) > 3:
        raise Unusable(
            f"{_without_secret(url)} is not an index URL: it looks like https://HOST/ORG/simple/ "
            "(or https://HOST/ORG/simple/PROJECT/)."
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    named = segments[2] if len(segments) == 3 else None
    return Target(
        origin=origin,
        org=segments[0],
        project=project or named,
        username=parts.username or "__token__",
        secret=token or parts.password,
    )


def _without_secret(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{netloc}", parts.path, parts.query, parts.fragment))


def diagnose(target: Target, http: requests.Session | None = None) -> Finding:
    """One sentence: what works, or the first thing that does not."""
    if not target.secret:
        return Finding(False, "No token given: put it in the URL (https://__token__:envl_…@HOST/ORG/simple/) "
                              "or pass --token.")
    # Proxies and CA bundles come from the environment as an installer's
    # would; explicit credentials win over ~/.netrc.
    http = http or requests.Session()
    auth = (target.username, target.secret)
    root = _get(http, target.index, auth)
    if isinstance(root, Finding):
        return root
    if root.status_code != 200:
        return _refusal(target, root)
    if not _is_index(root):
        return Finding(False, f"{target.origin} answered, but {target.index} is not a Python package index.")
    listed = {p["name"] for p in root.json().get("projects", [])}
    me = _describe_token(http, target, auth)
    if target.project is None:
        return Finding(True, f"OK: {target.index} accepts this {me or 'credential'} and lists "
                             f"{len(listed)} project{'s' if len(listed) != 1 else ''}.")
    return _check_project(http, target, auth, me)


def _get(http: requests.Session, url: str, auth: tuple[str, str]) -> requests.Response | Finding:
    try:
        return http.get(url, auth=auth, headers={"Accept": PEP691_JSON}, timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return Finding(False, f"Cannot reach {urlsplit(url).netloc}: {describe(exc)}.")


def _refusal(target: Target, response: requests.Response) -> Finding:
    """The server's own sentence (it is in the reason phrase), with what to do."""
    reason = (response.reason or "").strip()
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        return Finding(False, f"{target.index} redirects to {response.headers.get('Location', '?')}: "
                              "use that address (credentials are not sent to a redirect).")
    if status == 401:
        said = reason if reason and reason != "Unauthorized" else "The credentials were refused"
        return Finding(False, f"{said.rstrip('.')} ({target.origin} refused it for {target.org}).")
    if status == 404:
        if reason.startswith("Not Found: "):  # Envelope names a token's own organization
            said = reason.removeprefix("Not Found: ")
            return Finding(False, said[:1].upper() + said[1:])
        return Finding(False, f"No organization {target.org!r} at {target.origin} for these credentials: "
                              "check the organization in the URL.")
    if status == 429:
        wait = response.headers.get("Retry-After")
        return Finding(False, f"Too many failed attempts from this address: try again in {wait or 'a few'} s.")
    return Finding(False, f"{target.index} answered {status} {reason}.")


def _is_index(response: requests.Response) -> bool:
    if not response.headers.get("Content-Type", "").startswith(PEP691_JSON):
        return False
    try:
        return isinstance(response.json().get("projects"), list)
    except ValueError:
        return False


def _describe_token(http: requests.Session, target: Target, auth: tuple[str, str]) -> str | None:
    """"read token limited to billing<2,>=1, expires …", or None for a
    password or a server without the endpoint."""
    token = _token_facts(http, target, auth)
    if token is None:
        return None
    words = [f"{token['scope']} token"]
    if token["projects"]:
        words.append("limited to " + ", ".join(token["projects"]))
    if token["expires"]:
        words.append(f"expiring {token['expires'][:16].replace('T', ' ')} UTC")
    return " ".join(words[:1]) + (" (" + "; ".join(words[1:]) + ")" if words[1:] else "")


def _token_facts(http: requests.Session, target: Target, auth: tuple[str, str]) -> dict | None:
    url = f"{target.origin}/api/v1/orgs/{quote(target.org)}/tokens/current"
    try:
        response = http.get(url, auth=auth, timeout=TIMEOUT, allow_redirects=False)
    except requests.exceptions.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def _check_project(http: requests.Session, target: Target, auth: tuple[str, str], me: str | None) -> Finding:
    try:
        name = normalize(target.project or "")
    except InvalidInput:
        return Finding(False, f"{target.project!r} is not a valid project name.")
    page = _get(http, f"{target.index}{name}/", auth)
    if isinstance(page, Finding):
        return page
    if page.status_code == 200 and _is_detail(page):
        files = page.json().get("files", [])
        live = [f for f in files if not f.get("yanked")]
        if not files:
            return Finding(False, f"This token sees {name} but none of its files: its version range "
                                  f"excludes them all ({me or 'credential'}).")
        return Finding(True, f"OK: this {me or 'credential'} can install {name} from {target.index} "
                             f"({len(live)} installable file{'s' if len(live) != 1 else ''}).")
    if page.status_code != 404:
        return _refusal(target, page)
    token = _token_facts(http, target, auth)
    limits = [p for p in (token or {}).get("projects", [])]
    if limits and not any(_project_of(p) == name for p in limits):
        return Finding(False, f"This token is limited to {', '.join(limits)}: it cannot see {name}; "
                              "make a token that includes it.")
    return Finding(False, f"No project {name} in {target.org} that this token can see (and the organization "
                          "does not proxy it from an upstream): check the name.")


def _is_detail(response: requests.Response) -> bool:
    if not response.headers.get("Content-Type", "").startswith(PEP691_JSON):
        return False
    try:
        return isinstance(response.json().get("files"), list)
    except ValueError:
        return False


def _project_of(restriction: str) -> str:
    """`billing<2,>=1` -> `billing`."""
    return normalize(Requirement(restriction).name)
