"""The GitHub Actions steps a trusted publisher's workflow needs, built from
the configured base URL: publish with uv (or the PyPA action), or install
private dependencies with a minted read token. The publishers page, `envelope
ci init --private-deps` and docs/ci.md share the read step (read-step.yml)."""
from __future__ import annotations

from importlib import resources

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


def install_steps(base_url: str, org: str, environment: str = "") -> str:
    """A job installing private dependencies with the read step, the
    organization's URL written in where ci init reads a repository variable."""
    env_line = f"    environment: {environment}\n" if environment else ""
    step = read_step().replace("${{ vars.ENVELOPE_URL }}", f"{base_url}/{org}")
    return (
        "jobs:\n"
        "  test:\n"
        "    runs-on: ubuntu-latest\n"
        f"{env_line}"
        "    permissions:\n"
        "      id-token: write\n"
        "      contents: read\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        f"{step}"
        "      - run: pip install -r requirements.txt\n"
        "      # uv: `uv sync` with the index named \"envelope\" in pyproject.toml:\n"
        f"      #   [[tool.uv.index]] name = \"envelope\", url = \"{base_url}/{org}/simple/\", default = true\n"
    )


def workflow_snippet(publisher: TrustedPublisher, base_url: str, org: str) -> Snippet:
    """The steps for this publisher's scope, ready to paste into its workflow file."""
    if publisher.scope == TokenScope.upload:
        return Snippet(f"publisher-{publisher.id}", f".github/workflows/{publisher.workflow}", "yaml",
                       publish_steps(base_url, org, publisher.environment))
    return Snippet(f"publisher-{publisher.id}", f".github/workflows/{publisher.workflow}", "yaml",
                   install_steps(base_url, org, publisher.environment))
