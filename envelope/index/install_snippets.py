"""Copy-paste configuration for pip, uv and poetry pointing at one organization's index."""
from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN_PLACEHOLDER = "YOUR_TOKEN"
TOKEN_USERNAME = "__token__"


def index_url(base_url: str, org: str) -> str:
    """The organization's simple index: '{base}/{org}/simple/'."""
    return f"{base_url.rstrip('/')}/{org}/simple/"


def uv_env_name(index_name: str) -> str:
    """uv reads UV_INDEX_<NAME>_USERNAME/PASSWORD with the index name upper-cased
    and every non-alphanumeric character replaced by '_'."""
    return re.sub(r"[^A-Z0-9]", "_", index_name.upper())


@dataclass(frozen=True)
class Snippet:
    key: str
    title: str
    language: str  # ini | toml | shell
    text: str
    note: str = ""


def _with_credentials(url: str, token: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{TOKEN_USERNAME}:{token}@{rest}"


def install_snippets(
    base_url: str, org: str, *, token: str | None = None, project: str | None = None
) -> list[Snippet]:
    """Snippets for pip.conf, pip's command line, uv, poetry and a PIP_INDEX_URL
    environment variable. Without `token` they carry YOUR_TOKEN for the reader to fill in."""
    url = index_url(base_url, org)
    secret = token or TOKEN_PLACEHOLDER
    authed = _with_credentials(url, secret)
    package = project or "PACKAGE"
    env = uv_env_name(org)
    return [
        Snippet(
            "pip-conf", "pip.conf (pip.ini on Windows)", "ini",
            f"[global]\nindex-url = {authed}\n",
            "pip then installs everything from this index. Avoid --extra-index-url: a "
            "public package with the same name as a private one could win.",
        ),
        Snippet("pip-cli", "pip command line", "shell", f"pip install --index-url {authed} {package}\n"),
        Snippet(
            "uv", "uv: pyproject.toml", "toml",
            f'[[tool.uv.index]]\nname = "{org}"\nurl = "{url}"\nauthenticate = "always"\n'
            "explicit = true\n\n[tool.uv.sources]\n"
            f'{package} = {{ index = "{org}" }}\n',
            "explicit = true: only the packages listed in [tool.uv.sources] come from this index.",
        ),
        Snippet(
            "uv-env", "uv: credentials in the environment", "shell",
            f"export UV_INDEX_{env}_USERNAME={TOKEN_USERNAME}\nexport UV_INDEX_{env}_PASSWORD={secret}\n",
        ),
        Snippet(
            "poetry", "poetry", "shell",
            f"poetry source add --priority=explicit {org} {url}\n"
            f"poetry config http-basic.{org} {TOKEN_USERNAME} {secret}\n"
            f"poetry add --source {org} {package}\n",
        ),
        Snippet("env", "Environment variable (pip, CI)", "shell", f"export PIP_INDEX_URL={authed}\n"),
    ]
