"""Copy-paste configuration for one organization's index: how to install from
it (pip, uv, poetry, pdm) and how to publish to it (twine, uv, poetry).

Every install snippet makes Envelope the *only* index the client asks (pip's
`--index-url`, uv's `default = true`, poetry's `primary`, pdm's source named
`pypi`), never one index among others. Clients that merge or rank several
indexes let another index answer for a private name — pip's
`--extra-index-url` takes the highest version anywhere, and uv asks every
other index before its default one — so PyPI's unrelated `ledger` would
replace the private `ledger` that `billing` needs (dependency confusion).
Public packages belong in the same URL, through the organization's upstream
proxy, which never proxies the organization's own names; `public_packages`
says which of the two the reader has.

The page, the token page and any API build their text here, from the
configured base URL (never a request's Host header). Without a token the
snippets carry `$ENVELOPE_TOKEN`, a shell variable the reader sets; a real
token is only put in by the page that shows it once anyway.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from envelope.upstream.proxy import DEFAULT_UPSTREAM

TOKEN_VARIABLE = "ENVELOPE_TOKEN"
TOKEN_PLACEHOLDER = f"${TOKEN_VARIABLE}"
TOKEN_USERNAME = "__token__"


@dataclass(frozen=True)
class Snippet:
    key: str
    title: str
    language: str  # ini | toml | shell
    text: str
    note: str = ""


@dataclass(frozen=True)
class PublicPackages:
    """Where the reader's public packages (requests, numpy…) come from: the
    organization's upstream proxy, through the same URL, or nowhere yet."""

    proxied: bool
    text: str


def index_url(base_url: str, org: str) -> str:
    """The organization's simple index: '{base}/{org}/simple/'."""
    return f"{base_url.rstrip('/')}/{org}/simple/"


def upload_url(base_url: str, org: str) -> str:
    """The organization's legacy upload API: '{base}/{org}/legacy/'."""
    return f"{base_url.rstrip('/')}/{org}/legacy/"


def uv_env_name(index_name: str) -> str:
    """uv reads UV_INDEX_<NAME>_USERNAME/PASSWORD with the index name upper-cased
    and every non-alphanumeric character replaced by '_'."""
    return re.sub(r"[^A-Z0-9]", "_", index_name.upper())


def _with_credentials(url: str, secret: str) -> str:
    scheme, _, rest = url.partition("://")
    # The placeholder stays readable ($ENVELOPE_TOKEN, ${ENVELOPE_TOKEN}); a
    # real token is base62 and '_' and needs no quoting, but is quoted anyway.
    password = secret if secret.startswith("$") else quote(secret, safe="")
    return f"{scheme}://{TOKEN_USERNAME}:{password}@{rest}"


def upstream_label(upstream_url: str | None) -> str:
    """How the install section names the upstream: PyPI, or its URL (stored without credentials)."""
    return "PyPI" if upstream_url in (None, DEFAULT_UPSTREAM) else str(upstream_url)


def public_packages(org: str, upstream_url: str | None) -> PublicPackages:
    """The sentence the install snippets stand under: with the proxy on,
    public packages come through the same URL; with it off, a warning that
    adding PyPI as a second index lets PyPI answer for private names."""
    if upstream_url is not None:
        return PublicPackages(True, (
            f"Public packages come through the same URL: {org}'s index proxies {upstream_label(upstream_url)} "
            f"for names {org} does not publish, and never for its own. Configure this index alone; "
            "no other index is needed."
        ))
    return PublicPackages(False, (
        f"This index serves {org}'s own packages only. Do not add PyPI as a second index "
        "(pip --extra-index-url, another uv index, a second poetry source): the installer then lets "
        "PyPI answer for private names, and a public package that shares a private dependency's "
        "name gets installed instead (dependency confusion). To get public packages safely, through "
        f"this same URL, an owner turns on {org}'s upstream proxy, which never proxies {org}'s own names."
    ))


def install_snippets(
    base_url: str, org: str, *, token: str | None = None, project: str | None = None
) -> list[Snippet]:
    """Snippets for pip, uv, poetry and pdm, each making this index the only
    one its client asks; the first is the one to show first. Without `token`
    they carry $ENVELOPE_TOKEN. The configuration is the same whether the
    upstream proxy is on or not; `public_packages` says what that means."""
    url = index_url(base_url, org)
    secret = token or TOKEN_PLACEHOLDER
    authed = _with_credentials(url, secret)
    package = project or "PACKAGE"
    env = uv_env_name(org)
    return [
        Snippet("pip-cli", "pip command line", "shell", f'pip install --index-url "{authed}" {package}\n',
                "--index-url replaces PyPI; never use --extra-index-url, which takes the highest version "
                "from any index."),
        Snippet(
            "uv", "uv: pyproject.toml", "toml",
            f'[[tool.uv.index]]\nname = "{org}"\nurl = "{url}"\ndefault = true\nauthenticate = "always"\n',
            "default = true replaces PyPI. uv asks every other [[tool.uv.index]] before the default one, "
            "so another index added here would answer first, even for private names.",
        ),
        Snippet(
            "uv-env", "uv: credentials in the environment", "shell",
            f"export UV_INDEX_{env}_USERNAME={TOKEN_USERNAME}\nexport UV_INDEX_{env}_PASSWORD=\"{secret}\"\n",
        ),
        Snippet(
            "uv-pip", "uv pip, uvx and uv tool", "shell",
            f'uv pip install --index-url "{authed}" {package}\n\n'
            f"# or, for every uv command (older uv reads UV_INDEX_URL):\n"
            f'export UV_DEFAULT_INDEX="{authed}"\n',
        ),
        Snippet(
            "poetry", "poetry", "shell",
            f"poetry source add --priority=primary {org} {url}\n"
            f'poetry config http-basic.{org} {TOKEN_USERNAME} "{secret}"\n'
            f"poetry add {package}\n",
            "A primary source turns off poetry's implicit PyPI.",
        ),
        Snippet(
            "pdm", "pdm: pyproject.toml", "toml",
            f'[[tool.pdm.source]]\nname = "pypi"\nurl = "{_with_credentials(url, "${" + TOKEN_VARIABLE + "}")}"\n',
            "The source named pypi replaces PyPI. pdm expands ${ENVELOPE_TOKEN} from the environment "
            f"(export {TOKEN_VARIABLE}=the token), so the file holds no secret.",
        ),
        Snippet(
            "pip-conf", "pip.conf (pip.ini on Windows)", "ini", f"[global]\nindex-url = {authed}\n",
            "pip reads no variables in this file: put the token itself in place of $ENVELOPE_TOKEN, "
            "or use PIP_INDEX_URL below." if token is None else "",
        ),
        Snippet("env", "Environment variable (pip, CI)", "shell", f'export PIP_INDEX_URL="{authed}"\n'),
    ]


def publish_snippets(base_url: str, org: str, *, token: str | None = None) -> list[Snippet]:
    """How to upload to the organization with an upload token: twine's
    variables and .pypirc, uv publish and poetry publish. Without `token`
    they carry $ENVELOPE_TOKEN."""
    url = upload_url(base_url, org)
    secret = token or TOKEN_PLACEHOLDER
    return [
        Snippet(
            "twine-env", "twine: environment variables", "shell",
            f"export TWINE_REPOSITORY_URL={url}\nexport TWINE_USERNAME={TOKEN_USERNAME}\n"
            f'export TWINE_PASSWORD="{secret}"\ntwine upload dist/*\n',
        ),
        Snippet(
            "pypirc", "twine: ~/.pypirc", "ini",
            f"[distutils]\nindex-servers =\n    {org}\n\n[{org}]\nrepository = {url}\n"
            f"username = {TOKEN_USERNAME}\npassword = {secret}\n",
            f"Then: twine upload -r {org} dist/*" + (
                ". twine reads no variables in this file: put the token itself in place of $ENVELOPE_TOKEN."
                if token is None else ""
            ),
        ),
        Snippet(
            "uv-publish", "uv publish", "shell",
            f'export UV_PUBLISH_TOKEN="{secret}"\nuv publish --publish-url {url} dist/*\n',
            f"Or --username {TOKEN_USERNAME} --password with the token.",
        ),
        Snippet(
            "poetry-publish", "poetry publish", "shell",
            f"poetry config repositories.{org} {url}\n"
            f'poetry config http-basic.{org} {TOKEN_USERNAME} "{secret}"\n'
            f"poetry publish --build -r {org}\n",
        ),
    ]
