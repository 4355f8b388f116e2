"""Every client in the wild against one Envelope: six publish, seven resolve and install.

Publishing: twine, `uv publish`, `poetry publish`, `pdm publish`, `hatch
publish` and `flit publish` each upload a project of their own to
`/{org}/legacy/` with an upload token, then upload the same files again;
the index must list each file once, with the sha256 of the bytes the client
sent. Installing: pip, `uv pip install`, `uv lock` + `uv sync`, poetry, pdm,
pipenv and pip-tools resolve the private `billing`, which depends on the
private `ledger` (PyPI has an unrelated `ledger`), with a read token limited
to those two projects.

Every client runs with HTTP(S)_PROXY pointing at a closed local port and
NO_PROXY for the loopback, in a HOME of its own: Envelope is the only thing
it can reach, so a client that asks PyPI for anything fails loudly instead
of quietly resolving a public name. The tools other than pip, uv and twine
(the suite's own) are pinned below and installed once into cached venvs
(clients.tool_bin). The observed matrix is printed at the end of the module,
with each tool's version: docs/clients.md quotes it.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.builders import make_sdist_raw, make_wheel
from tests.integration.clients import BIN, index_url, run, tool_bin, twine_upload
from tests.services import Backend, client_environ

ORG = "acme"
# Projects made here fresh: the same interpreter the suite runs on, never a download.
PYTHON = Path(sys.executable).resolve()
PINS = {
    "poetry": ["poetry==2.5.1"],
    # pdm 2.29.4 accepts hishel 2, which dropped the storage class pdm uses
    # ("module 'hishel' has no attribute 'SyncSqliteStorage'"); its own
    # [locked] extra pins a certifi PyPI does not have, so pin hishel alone.
    "pdm": ["pdm==2.29.4", "hishel[httpx2]==1.4.0"],
    "hatch": ["hatch==1.18.2"],
    "flit": ["flit==4.2.0"],
    "pipenv": ["pipenv==2026.10.3"],
    "pip-tools": ["pip-tools==7.7.0"],  # the pin of test_pypi_json: one cached venv for both
}
EXPECTED = {"billing": "4.2.0", "ledger": "7.3.1"}


@pytest.fixture(scope="module")
def backend() -> Backend:
    """What a client sees does not depend on the database or storage: embedded defaults only."""
    return Backend("sqlite-file")


@dataclass
class Observation:
    client: str
    version: str
    action: str
    outcome: str


@dataclass
class World:
    server: object
    upload_token: str
    read_token: str  # read scope, billing and ledger only
    reader: str  # read scope, every project: the test's own view of the index
    dead_proxy: str
    scenario: dict[str, Path]
    observed: list[Observation] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.server.base_url.split("://", 1)[1]

    @property
    def upload_url(self) -> str:
        return f"{self.server.base_url}/{ORG}/legacy/"

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """client_environ() plus a HOME of its own and a proxy that refuses everything but the loopback."""
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in client_environ().items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "CONDA_PREFIX"}}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env[name] = env[name.lower()] = self.dead_proxy
        env.update(
            NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
            HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
            XDG_DATA_HOME=str(home / ".local/share"), XDG_STATE_HOME=str(home / ".local/state"),
            UV_PYTHON_DOWNLOADS="never", POETRY_NO_INTERACTION="1", PDM_CHECK_UPDATE="false",
            PDM_NON_INTERACTIVE="1", PIPENV_YES="1", PIPENV_NOSPIN="1", PIPENV_VENV_IN_PROJECT="1",
            PIPENV_IGNORE_VIRTUALENVS="1",
        )  # fmt: skip
        env.update(extra)
        return env

    def files(self, project: str) -> dict[str, str]:
        """filename -> sha256 of every file the index lists for `project` (each listed once)."""
        response = requests.get(f"{self.server.base_url}/{ORG}/simple/{project}/", auth=("__token__", self.reader),
                                headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30)
        response.raise_for_status()
        names = [f["filename"] for f in response.json()["files"]]
        assert len(names) == len(set(names)), f"{project} lists a file twice: {names}"
        return {f["filename"]: f["hashes"]["sha256"] for f in response.json()["files"]}

    def record(self, client: str, version: str, action: str, outcome: str) -> None:
        self.observed.append(Observation(client, version, action, outcome))


@pytest.fixture(scope="module")
def dead_proxy() -> Iterator[str]:
    """A loopback port that is bound but never listens: every connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def world(server, dead_proxy: str, tmp_path_factory, request) -> Iterator[World]:
    dist = tmp_path_factory.mktemp("scenario")
    scenario = {
        "ledger-wheel": make_wheel(dist, "ledger", "7.3.1"),
        "ledger-sdist": make_sdist_raw(dist, "ledger", "7.3.1"),
        "billing-wheel": make_wheel(dist, "billing", "4.2.0", requires_dist=["ledger>=7"]),
        "payroll-wheel": make_wheel(dist, "payroll", "1.0.0"),  # outside the read token
    }
    server.cli("org", "create", ORG)
    upload = server.token(ORG, "--scope", "upload", "--name", "publishers")
    twine_upload(server.client_env, server.base_url, ORG, upload, list(scenario.values()))
    read = server.token(ORG, "--scope", "read", "--name", "installers", "--project", "billing", "--project", "ledger")
    w = World(server, upload, read, server.token(ORG, "--scope", "read"), dead_proxy, scenario)
    yield w
    lines = ["", "client matrix (observed against Envelope):", "| client | version | action | outcome |",
             "|---|---|---|---|", *(f"| {o.client} | {o.version} | {o.action} | {o.outcome} |" for o in w.observed)]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown without -s: docs/clients.md quotes it
        print("\n".join(lines))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version(argv: list[str], env: dict[str, str]) -> str:
    """The version a tool reports for itself (`X.Y.Z` from the first line of `--version`)."""
    result = run(argv, env)
    first = (result.stdout.strip() or result.stderr.strip()).splitlines()[0]
    found = re.search(r"\d+\.\d+(\.\d+)*", first)
    assert found, first
    return found.group(0)


def _tool(name: str) -> Path:
    """The cached venv of a pinned tool, installed with the suite's ordinary environment (PyPI reachable)."""
    return tool_bin(name, PINS[name], client_environ())


# --------------------------------------------------------------------------- publishing


def _built(directory: Path, project: str) -> list[Path]:
    """A wheel and an sdist of `project` 1.0.0, made here: no build backend is fetched at test time."""
    return [make_wheel(directory, project, "1.0.0"), make_sdist_raw(directory, project, "1.0.0")]


def _publish_twine(w: World, tmp_path: Path) -> tuple[str, list[Path], str]:
    env = w.env(tmp_path / "home")
    files = _built(tmp_path / "dist", "pub-twine")
    twine_upload(env, w.server.base_url, ORG, w.upload_token, files)
    again = twine_upload(env, w.server.base_url, ORG, w.upload_token, files)
    assert again.returncode == 0
    return _version([str(BIN / "twine"), "--version"], env), files, "same files again: 200, nothing changed"


def _publish_uv(w: World, tmp_path: Path) -> tuple[str, list[Path], str]:
    project = tmp_path / "pub-uv"
    files = _built(project / "dist", "pub-uv")
    env = w.env(tmp_path / "home")
    run([str(BIN / "uv"), "publish", "--no-config", "--no-cache", "--publish-url", w.upload_url,
         "--username", "__token__", "--password", w.upload_token, *map(str, files)], env)
    # Again through a named index: its `url` is the check URL, read with the
    # index's own credentials. (A bare --check-url gets none until uv has stored
    # the upload's, so its first file meets a 401 and is uploaded anyway.)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "pub-uv"\nversion = "1.0.0"\n\n'
        f'[[tool.uv.index]]\nname = "envelope"\nurl = "{w.server.base_url}/{ORG}/simple/"\n'
        f'publish-url = "{w.upload_url}"\ndefault = true\n'
    )
    env = w.env(tmp_path / "home", UV_INDEX_ENVELOPE_USERNAME="__token__", UV_INDEX_ENVELOPE_PASSWORD=w.upload_token)
    del env["UV_NO_CONFIG"]  # the index is defined in the project's pyproject.toml
    again = run([str(BIN / "uv"), "publish", "--no-cache", "--index", "envelope"], env, cwd=project)
    for path in files:
        assert f"File {path.name} already exists, skipping" in again.stderr, again.stderr
    return (_version([str(BIN / "uv"), "--version"], env), files,
            "again with `--index envelope`: both files found in its index by sha256 and skipped")


def _publish_poetry(w: World, tmp_path: Path) -> tuple[str, list[Path], str]:
    bin_dir = _tool("poetry")
    project = tmp_path / "pub-poetry"
    files = _built(project / "dist", "pub-poetry")  # poetry publishes dist/{name}-{version}* of the project
    (project / "pyproject.toml").write_text(
        '[project]\nname = "pub-poetry"\nversion = "1.0.0"\nrequires-python = ">=3.9"\n'
    )
    env = w.env(tmp_path / "home", POETRY_REPOSITORIES_ENVELOPE_URL=w.upload_url,
                POETRY_HTTP_BASIC_ENVELOPE_USERNAME="__token__", POETRY_HTTP_BASIC_ENVELOPE_PASSWORD=w.upload_token)
    publish = [str(bin_dir / "poetry"), "--directory", str(project), "publish", "--repository", "envelope"]
    run(publish, env)
    run(publish, env)
    return _version([str(bin_dir / "poetry"), "--version"], env), files, "same files again: 200, nothing changed"


def _publish_pdm(w: World, tmp_path: Path) -> tuple[str, list[Path], str]:
    bin_dir = _tool("pdm")
    project = tmp_path / "pub-pdm"
    files = _built(project / "dist", "pub-pdm")
    (project / "pyproject.toml").write_text(
        '[project]\nname = "pub-pdm"\nversion = "1.0.0"\nrequires-python = ">=3.9"\n'
    )
    env = w.env(tmp_path / "home")
    publish = [str(bin_dir / "pdm"), "publish", "--project", str(project), "--no-build",
               "--repository", w.upload_url, "--username", "__token__", "--password", w.upload_token]
    run(publish, env)
    run(publish, env)
    return _version([str(bin_dir / "pdm"), "--version"], env), files, "same files again: 200, nothing changed"


def _publish_hatch(w: World, tmp_path: Path) -> tuple[str, list[Path], str]:
    bin_dir = _tool("hatch")
    files = _built(tmp_path / "dist", "pub-hatch")
    env = w.env(tmp_path / "home")
    publish = [str(bin_dir / "hatch"), "publish", "--no-prompt", "--repo", w.upload_url,
               "--user", "__token__", "--auth", w.upload_token, *map(str, files)]
    run(publish, env)
    # hatch looks for existing files at {repo}/+simple/{name}/ (devpi's layout),
    # which Envelope does not serve: it uploads again and gets the no-op 200.
    again = run(publish, env)
    assert "already exists" not in again.stdout + again.stderr
    return (_version([str(bin_dir / "hatch"), "--version"], env), files,
            "same files again: uploaded again (its existence check is devpi's URL), 200, nothing changed")


def _publish_flit(w: World, tmp_path: Path) -> tuple[str, list[Path], str]:
    bin_dir = _tool("flit")
    project = tmp_path / "pub-flit"
    (project / "pub_flit").mkdir(parents=True)
    (project / "pub_flit" / "__init__.py").write_text('"""Published by flit in the Envelope suite."""\n')
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.4,<5"]\nbuild-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "pub-flit"\nversion = "1.0.0"\ndescription = "Published by flit"\n'
        'requires-python = ">=3.9"\n'
    )
    # flit always builds (in-process, with the flit_core it ships), then uploads;
    # SOURCE_DATE_EPOCH makes the second build byte-identical to the first.
    env = w.env(tmp_path / "home", FLIT_INDEX_URL=w.upload_url, FLIT_USERNAME="__token__",
                FLIT_PASSWORD=w.upload_token, SOURCE_DATE_EPOCH="1577836800")
    publish = [str(bin_dir / "flit"), "publish"]  # FLIT_INDEX_URL names the index: no ~/.pypirc
    first = run(publish, env, cwd=project)
    built = sorted((project / "dist").iterdir())
    digests = {p.name: _sha256(p) for p in built}
    run(publish, env, cwd=project)
    assert {p.name: _sha256(p) for p in sorted((project / "dist").iterdir())} == digests
    assert "Uploading" in first.stdout + first.stderr
    return (_version([str(bin_dir / "flit"), "--version"], env), built,
            "builds again (same bytes with SOURCE_DATE_EPOCH), 200, nothing changed")


PUBLISHERS = {
    "twine": _publish_twine, "uv publish": _publish_uv, "poetry publish": _publish_poetry,
    "pdm publish": _publish_pdm, "hatch publish": _publish_hatch, "flit publish": _publish_flit,
}


@pytest.mark.parametrize("client", list(PUBLISHERS))
def test_client_publishes_and_publishing_again_changes_nothing(world: World, tmp_path: Path, client: str) -> None:
    version, files, again = PUBLISHERS[client](world, tmp_path)
    print(f"{client}: {version}")
    project = files[0].name.split("-", 1)[0].replace("_", "-")
    assert world.files(project) == {p.name: _sha256(p) for p in files}
    assert len(files) == 2 and {p.suffix for p in files} == {".whl", ".gz"}
    world.record(client, version, "publish wheel + sdist, then again", f"ok; {again}")


# --------------------------------------------------------------------------- resolving and installing

VERSIONS_CODE = "import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in ('billing', 'ledger')}))"


def _installed(python: Path, env: dict[str, str], target: Path | None = None) -> dict[str, str]:
    """billing's and ledger's installed versions, as `python` (or a --target folder) sees them."""
    code = (f"import sys; sys.path.insert(0, {str(target)!r}); " if target else "") + VERSIONS_CODE
    return json.loads(run([str(python), "-c", code], env).stdout)


def _install_pip(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    env = w.env(tmp_path / "home")
    run([str(BIN / "python"), "-m", "pip", "install", "--no-cache-dir", "--target", str(tmp_path / "t"),
         "--index-url", index_url(w.server.base_url, ORG, w.read_token), "billing"], env)
    return (_version([str(BIN / "python"), "-m", "pip", "--version"], env),
            _installed(BIN / "python", env, tmp_path / "t"), "`--index-url` with the token in it")


def _install_uv_pip(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    env = w.env(tmp_path / "home")
    venv = tmp_path / "venv"
    run([str(BIN / "uv"), "venv", "--no-config", "--python", str(PYTHON), str(venv)], env)
    run([str(BIN / "uv"), "pip", "install", "--no-config", "--no-cache", "--python", str(venv / "bin" / "python"),
         "--index-url", index_url(w.server.base_url, ORG, w.read_token), "billing"], env)
    return (_version([str(BIN / "uv"), "--version"], env), _installed(venv / "bin" / "python", env),
            "`uv pip install --index-url` with the token in it")


def _install_uv_project(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\ndependencies = ["billing"]\n\n'
        '[tool.uv]\npackage = false\n\n'
        f'[[tool.uv.index]]\nname = "envelope"\nurl = "{w.server.base_url}/{ORG}/simple/"\ndefault = true\n'
    )
    env = w.env(tmp_path / "home", UV_INDEX_ENVELOPE_USERNAME="__token__", UV_INDEX_ENVELOPE_PASSWORD=w.read_token)
    del env["UV_NO_CONFIG"]  # it would ignore the project's [[tool.uv.index]] and ask PyPI
    uv = [str(BIN / "uv"), "--directory", str(project)]
    run([*uv, "lock", "--python", str(PYTHON)], env)
    lock = (project / "uv.lock").read_text()
    assert f"sha256:{_sha256(w.scenario['ledger-wheel'])}" in lock and "pypi.org" not in lock, lock
    assert w.read_token not in lock  # credentials stay in the environment
    run([*uv, "sync", "--frozen", "--python", str(PYTHON)], env)
    return (_version([str(BIN / "uv"), "--version"], env), _installed(project / ".venv" / "bin" / "python", env),
            "`uv lock` + `uv sync --frozen`; `[[tool.uv.index]]` default = true, UV_INDEX_ENVELOPE_*")


def _install_poetry(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    bin_dir = _tool("poetry")
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11,<4"\ndependencies = ["billing"]\n\n'
        '[tool.poetry]\npackage-mode = false\n\n'
        f'[[tool.poetry.source]]\nname = "envelope"\nurl = "{w.server.base_url}/{ORG}/simple/"\n'
        'priority = "primary"\n'
    )
    env = w.env(tmp_path / "home", POETRY_HTTP_BASIC_ENVELOPE_USERNAME="__token__",
                POETRY_HTTP_BASIC_ENVELOPE_PASSWORD=w.read_token, POETRY_VIRTUALENVS_IN_PROJECT="true")
    poetry = [str(bin_dir / "poetry"), "--directory", str(project)]
    run([*poetry, "lock"], env)
    lock = (project / "poetry.lock").read_text()
    assert f"sha256:{_sha256(w.scenario['ledger-wheel'])}" in lock and w.read_token not in lock, lock
    run([*poetry, "install"], env)
    return (_version([str(bin_dir / "poetry"), "--version"], env),
            _installed(project / ".venv" / "bin" / "python", env),
            "`poetry lock` + `poetry install`; source priority = primary (no PyPI), POETRY_HTTP_BASIC_ENVELOPE_*")


def _install_pdm(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    bin_dir = _tool("pdm")
    project = tmp_path / "app"
    project.mkdir()
    # The source named "pypi" replaces PyPI; pdm expands ${VAR} in the URL, not in username/password.
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\ndependencies = ["billing"]\n\n'
        '[tool.pdm]\ndistribution = false\n\n'
        f'[[tool.pdm.source]]\nname = "pypi"\nurl = "http://__token__:${{ENVELOPE_TOKEN}}@{w.host}/{ORG}/simple/"\n'
    )
    env = w.env(tmp_path / "home", ENVELOPE_TOKEN=w.read_token)
    pdm = [str(bin_dir / "pdm")]
    run([*pdm, "use", "--project", str(project), "-f", str(PYTHON)], env)
    run([*pdm, "lock", "--project", str(project)], env)
    lock = (project / "pdm.lock").read_text()
    assert f"sha256:{_sha256(w.scenario['ledger-wheel'])}" in lock and w.read_token not in lock, lock
    run([*pdm, "install", "--project", str(project), "--frozen-lockfile"], env)
    return (_version([*pdm, "--version"], env), _installed(project / ".venv" / "bin" / "python", env),
            "`pdm lock` + `pdm install`; a source named pypi, ${ENVELOPE_TOKEN} in its URL")


def _install_pipenv(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    bin_dir = _tool("pipenv")
    project = tmp_path / "app"
    project.mkdir()
    (project / "Pipfile").write_text(
        f'[[source]]\nname = "envelope"\nurl = "http://__token__:${{ENVELOPE_TOKEN}}@{w.host}/{ORG}/simple/"\n'
        'verify_ssl = false\n\n[packages]\nbilling = "*"\n\n[requires]\npython_version = "3.11"\n'
    )
    env = w.env(tmp_path / "home", ENVELOPE_TOKEN=w.read_token)
    run([str(bin_dir / "pipenv"), "lock", "--python", str(PYTHON)], env, cwd=project)
    lock = json.loads((project / "Pipfile.lock").read_text())
    assert lock["default"]["ledger"]["version"] == "==7.3.1"
    assert f"sha256:{_sha256(w.scenario['ledger-wheel'])}" in lock["default"]["ledger"]["hashes"]
    assert w.read_token not in (project / "Pipfile.lock").read_text()
    run([str(bin_dir / "pipenv"), "sync"], env, cwd=project)
    return (_version([str(bin_dir / "pipenv"), "--version"], env),
            _installed(project / ".venv" / "bin" / "python", env),
            "`pipenv lock` + `pipenv sync`; the Pipfile's only [[source]], ${ENVELOPE_TOKEN} in its URL")


def _install_pip_tools(w: World, tmp_path: Path) -> tuple[str, dict[str, str], str]:
    bin_dir = _tool("pip-tools")
    env = w.env(tmp_path / "home")
    url = index_url(w.server.base_url, ORG, w.read_token)
    (tmp_path / "requirements.in").write_text("billing\n")
    run([str(bin_dir / "pip-compile"), "--generate-hashes", "--no-header", "--no-emit-index-url", "--strip-extras",
         "--cache-dir", str(tmp_path / "cache"), "--index-url", url,
         "--output-file", str(tmp_path / "requirements.txt"), str(tmp_path / "requirements.in")], env)
    pinned = (tmp_path / "requirements.txt").read_text()
    for path in w.scenario.values():
        if not path.name.startswith("payroll"):
            assert f"--hash=sha256:{_sha256(path)}" in pinned, pinned
    # pip-sync refuses a target whose pip is older than its own (26.2.2+; the
    # interpreter's ensurepip has 23.2.1), so install the pinned file with pip.
    run([str(BIN / "python"), "-m", "pip", "install", "--no-cache-dir", "--require-hashes", "--target",
         str(tmp_path / "t"), "--index-url", url, "-r", str(tmp_path / "requirements.txt")], env)
    return (_version([str(bin_dir / "pip-compile"), "--version"], env), _installed(BIN / "python", env, tmp_path / "t"),
            "`pip-compile --generate-hashes` (hashes from the JSON API) + `pip install --require-hashes -r`")


INSTALLERS = {
    "pip": _install_pip, "uv pip": _install_uv_pip, "uv lock/sync": _install_uv_project,
    "poetry": _install_poetry, "pdm": _install_pdm, "pipenv": _install_pipenv, "pip-tools": _install_pip_tools,
}


@pytest.mark.parametrize("client", list(INSTALLERS))
def test_client_resolves_private_billing_and_ledger_from_envelope(world: World, tmp_path: Path, client: str) -> None:
    """billing 4.2.0 needs ledger>=7: both must come from Envelope, none from PyPI (unreachable here)."""
    version, installed, how = INSTALLERS[client](world, tmp_path)
    print(f"{client}: {version}")
    assert installed == EXPECTED
    world.record(client, version, "resolve + install billing -> ledger", f"ok: billing 4.2.0, ledger 7.3.1; {how}")


def test_the_refusing_proxy_really_refuses(world: World, tmp_path: Path) -> None:
    """The guard the matrix relies on: a client that asks PyPI under this environment fails at the proxy."""
    env = world.env(tmp_path / "home")
    result = run([str(BIN / "uv"), "pip", "compile", "--no-config", "--no-cache", "--python", str(PYTHON), "-"],
                 {**env, "UV_HTTP_RETRIES": "0"}, check=False, input="ledger\n")
    assert result.returncode != 0
    assert "Connection refused" in result.stderr and "pypi.org" in result.stderr, result.stderr
