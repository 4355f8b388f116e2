"""`envelope ci init`: put the release-wheels workflow into a user's checkout.

Envelope ingests wheels that a repository's own CI attaches to its GitHub
releases. Writing our tested template (``cli/ci_template/``) into the
checkout, rather than asking people to copy it from the docs, means every
connected repository starts from the same workflow that the test suite lints
and checks against cibuildwheel.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from envelope.errors import Conflict, InvalidInput

TEMPLATE_PACKAGE = "cli.ci_template"
TEMPLATE_NAME = "release-wheels.yml"
WORKFLOW_PATH = Path(".github") / "workflows" / TEMPLATE_NAME


def template_bytes() -> bytes:
    """The workflow template exactly as shipped (package data, so it works from a wheel)."""
    return resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_NAME).read_bytes()


def write_workflow(checkout: Path, *, force: bool = False) -> Path:
    """Write the template to ``<checkout>/.github/workflows/release-wheels.yml``.

    Creates the folders as needed and returns the path written. An existing
    workflow is someone's edited copy: it is replaced only with ``force``, so
    running the command twice never loses work.

    Raises InvalidInput when ``checkout`` is not a directory, and Conflict
    when the workflow exists and ``force`` is false.
    """
    checkout = Path(checkout)
    if not checkout.is_dir():
        raise InvalidInput(f"{checkout} is not a directory: give the path of your repository's checkout.")
    target = checkout / WORKFLOW_PATH
    if not force and (target.exists() or target.is_symlink()):
        raise Conflict(f"{target} already exists: pass --force to overwrite it.")
    data = template_bytes()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            # --force replaces the link itself, never the file it points at.
            target.unlink()
        # Bytes, not text: no newline translation, the file is the template's own.
        target.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"Cannot write {target}: {exc.strerror or exc}.") from exc
    return target
