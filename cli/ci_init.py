"""`envelope ci init`: put a release workflow that fits the project into a user's checkout.

Envelope takes a library's files from its CI: by trusted publishing (the
job's OIDC identity buys a 15-minute upload token, no stored secret) or from
the GitHub release the job attaches them to (webhook and poll). Writing our
tested template (``cli/ci_template/``) into the checkout, rather than asking
people to copy it from the docs, means every library starts from a workflow
the test suite lints, builds with, and checks against cibuildwheel.

The workflow is put together from a few fragments: the build jobs for the
project's kind (one ``python -m build`` job for pure Python, the cibuildwheel
matrix for native code, which refuses pure-Python wheels), the publishing
job, and optionally the step that gets a read token for private
dependencies. Each combination is linted by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from cli.ci_project import Detection, Kind, detect
from envelope.publishing.workflows import read_step
from envelope.errors import Conflict, InvalidInput

Publish = Literal["trusted", "release"]
KINDS: tuple[Kind, ...] = ("pure", "native")
PUBLISH_MODES: tuple[Publish, ...] = ("trusted", "release")

TEMPLATE_PACKAGE = "cli.ci_template"
WORKFLOW_PATH = Path(".github") / "workflows" / "release-wheels.yml"
# The jobs the publishing job waits for: every build job, or nothing is published.
BUILD_JOBS: dict[Kind, str] = {"pure": "[build]", "native": "[wheels, sdist]"}
PUBLISH_TEXT: dict[Publish, tuple[str, str]] = {
    "trusted": ("Envelope (trusted publishing)",
                "uploads them to Envelope with\n# trusted publishing: no stored secret."),
    "release": ("GitHub release -> Envelope",
                "attaches them to the GitHub\n# release for the tag, where Envelope picks them up."),
}
PRIVATE_DEPS_MARK = "      # @PRIVATE_DEPS@\n"
PERMISSIONS_MARK = "    # @PRIVATE_DEPS_PERMISSIONS@\n"


@dataclass(frozen=True)
class Choice:
    """The workflow `ci init` writes, and why (shown to the person running it)."""

    kind: Kind
    publish: Publish
    private_deps: bool
    detection: Detection | None  # None when --kind overrode the detection


def _fragment(name: str) -> str:
    """One template fragment exactly as shipped (package data, so it works from a wheel)."""
    return resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def render(kind: Kind, publish: Publish, *, private_deps: bool = False) -> str:
    """The workflow text for one combination of project kind, publishing and private dependencies."""
    if kind not in KINDS or publish not in PUBLISH_MODES:
        raise InvalidInput(f"Unknown workflow {kind}/{publish}: use --kind pure|native and --publish trusted|release.")
    target, what = PUBLISH_TEXT[publish]
    text = _fragment(f"{kind}.yml").replace("@PUBLISH_TARGET@", target).replace("@PUBLISH_WHAT@", what)
    text = text.replace(PRIVATE_DEPS_MARK, read_step() if private_deps else "")
    text = text.replace(PERMISSIONS_MARK, _fragment("private-deps-permissions.yml") if private_deps else "")
    text += _fragment(f"publish-{publish}.yml").replace("@NEEDS@", BUILD_JOBS[kind])
    assert "@" + "PRIVATE" not in text and "@NEEDS@" not in text and "@PUBLISH" not in text
    return text


def choose(checkout: Path, *, kind: Kind | None, publish: Publish, private_deps: bool) -> Choice:
    """Pick the workflow for ``checkout``: its detected kind unless ``kind`` overrides it.

    Refuses (InvalidInput) a path that is not a directory or has no
    pyproject.toml, even with ``kind`` given: the workflow builds with it.
    """
    checkout = Path(checkout)
    if not checkout.is_dir():
        raise InvalidInput(f"{checkout} is not a directory: give the path of your repository's checkout.")
    detection = detect(checkout)  # reads pyproject.toml, refusing a folder without one
    if kind is None:
        return Choice(detection.kind, publish, private_deps, detection)
    return Choice(kind, publish, private_deps, None if kind != detection.kind else detection)


def write_workflow(checkout: Path, choice: Choice, *, force: bool = False) -> Path:
    """Write the chosen workflow to ``<checkout>/.github/workflows/release-wheels.yml``.

    Creates the folders as needed and returns the path written. An existing
    workflow is someone's edited copy: it is replaced only with ``force``, so
    running the command twice never loses work.

    Raises InvalidInput when the file cannot be written, and Conflict when
    it exists and ``force`` is false.
    """
    target = Path(checkout) / WORKFLOW_PATH
    if not force and (target.exists() or target.is_symlink()):
        raise Conflict(f"{target} already exists: pass --force to overwrite it.")
    data = render(choice.kind, choice.publish, private_deps=choice.private_deps).encode("utf-8")
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


def explain(choice: Choice) -> list[str]:
    """What `ci init` tells the person: the choices made, why, and how to change them."""
    other_kind = "native" if choice.kind == "pure" else "pure"
    if choice.detection is None:
        lines = [f"Project: {choice.kind} (as --kind asked; it looks like {other_kind})."]
    else:
        lines = [f"Project: {choice.detection.explain()}; --kind {other_kind} overrides this."]
    lines.append(
        "Build: one job, python -m build (wheel + sdist)." if choice.kind == "pure"
        else "Build: cibuildwheel on Linux, macOS and Windows (CPython 3.10-3.13), plus an sdist."
    )
    if choice.publish == "trusted":
        lines.append("Publish: trusted publishing to the index in the repository variable ENVELOPE_URL, "
                     "no stored secret; add the publisher with `envelope publisher add` "
                     "(--publish release attaches the files to the GitHub release instead).")
    else:
        lines.append("Publish: attach the files to the GitHub release; Envelope takes them through the "
                     "repository connection's webhook and poll (--publish trusted uploads them directly).")
    lines.append(
        "Private dependencies: the build gets a 15-minute read token through OIDC "
        "(a publisher with --scope read --environment envelope-read)."
        if choice.private_deps else
        "Private dependencies: none (--private-deps adds a step that gets a 15-minute read token through OIDC)."
    )
    return lines
