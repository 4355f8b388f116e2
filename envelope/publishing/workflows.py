"""The GitHub Actions steps a trusted publisher's workflow needs, built from
the configured base URL: publish with uv (or the PyPA action), or install
private dependencies with a minted read token. The publishers page and
docs/trusted-publishing.md show the same text."""
from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

from envelope.index.snippets import Snippet
from envelope.models import TokenScope, TrustedPublisher


def read_step() -> str:
    """The step that trades a job's OIDC identity for a 15-minute read token
    (bash and Python's standard library, nothing to install on the runner),
    as `envelope ci init --private-deps` writes it. Package data, so it works
    from a wheel."""
    return resources.files(__package__).joinpath("read-step.yml").read_text(encoding="utf-8")


def publish_steps(base_url: str, org: str, environment: str = "") -> str:
    env_line = f"    environment: {environment}\n" if environment else ""
    return (
        "jobs:\n"
        "  publish:\n"
        "    runs-on: ubuntu-latest\n"
        f"{env_line}"
        "    permissions:\n"
        "      id-token: write  # the job may ask GitHub for its OIDC token\n"
        "      contents: read\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - uses: astral-sh/setup-uv@v6\n"
        "      - run: uv build\n"
        f"      - run: uv publish --trusted-publishing always --publish-url {base_url}/{org}/legacy/\n"
        "      # or: - uses: pypa/gh-action-pypi-publish@release/v1\n"
        f"      #       with: {{repository-url: {base_url}/{org}/legacy/}}\n"
    )


def install_steps(base_url: str, org: str, audience: str, environment: str = "") -> str:
    host = urlsplit(base_url)
    index = f"{host.scheme}://__token__:$token@{host.netloc}{host.path}/{org}/simple/"
    env_line = f"    environment: {environment}\n" if environment else ""
    return (
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-latest\n"
        f"{env_line}"
        "    permissions:\n"
        "      id-token: write\n"
        "      contents: read\n"
        "    steps:\n"
        "      - name: A 15-minute read token for private dependencies\n"
        "        run: |\n"
        "          oidc=$(curl -sS --fail-with-body -H \"Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN\" \\\n"
        f"            \"$ACTIONS_ID_TOKEN_REQUEST_URL&audience={audience}\" | jq -r .value)\n"
        f"          token=$(curl -sS --fail-with-body {base_url}/_/oidc/mint-token \\\n"
        "            -H 'Content-Type: application/json' -d \"{\\\"token\\\": \\\"$oidc\\\"}\" | jq -r .token)\n"
        "          echo \"::add-mask::$token\"\n"
        f"          echo \"PIP_INDEX_URL={index}\" >> \"$GITHUB_ENV\"\n"
        f"          echo \"UV_DEFAULT_INDEX={index}\" >> \"$GITHUB_ENV\"\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: pip install -r requirements.txt  # or: uv sync\n"
    )


def workflow_snippet(publisher: TrustedPublisher, base_url: str, org: str, audience: str) -> Snippet:
    """The steps for this publisher's scope, ready to paste into its workflow file."""
    if publisher.scope == TokenScope.upload:
        return Snippet(f"publisher-{publisher.id}", f".github/workflows/{publisher.workflow}", "yaml",
                       publish_steps(base_url, org, publisher.environment))
    return Snippet(f"publisher-{publisher.id}", f".github/workflows/{publisher.workflow}", "yaml",
                   install_steps(base_url, org, audience, publisher.environment))
