"""What each long-running process of `envelope serve` loads before it is used.

The web server, the Celery worker and `serve`'s supervisor run for as long as
the index does; a library none of their requests needs is memory held for
nothing (bench/README.md, "Memory of `make serve`"). These libraries load on
the first use of the feature that needs them instead. Each check runs in a
fresh interpreter, as the process starts.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import scrubbed_environ

ROOT = Path(__file__).resolve().parents[2]

# Trusted publishing (PyJWT with cryptography's X.509), sealed secrets
# (cryptography), two-factor enrolment (pyotp, qrcode), the upstream proxy and
# GitHub (requests, urllib3), README rendering, PEP 740 attestations.
LAZY = ("jwt", "cryptography", "pyotp", "qrcode", "requests", "urllib3", "github", "pypi_simple",
        "readme_renderer", "sigstore", "pydantic")

PROCESSES = {
    "web (gunicorn master, preloaded)": "import web.wsgi",
    "celery worker": "import worker.celery_app as c; c.app.loader.import_default_modules()",
    "serve supervisor": "import cli.serve; from envelope.config import Settings; Settings.from_env()",
}


def loaded_after(code: str, data_dir: Path) -> dict:
    script = f"""
import gc, json, sys
{code}
print(json.dumps({{"modules": sorted(sys.modules), "frozen": gc.get_freeze_count()}}))
"""
    env = {**scrubbed_environ(), "ENVELOPE_DATA_DIR": str(data_dir), "HOME": str(data_dir)}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_process_starts_without_the_libraries_of_features_it_has_not_used(process, tmp_path: Path) -> None:
    modules = loaded_after(PROCESSES[process], tmp_path)["modules"]
    loaded = sorted({name.split(".")[0] for name in modules} & set(LAZY))
    assert loaded == [], f"{process} imports {loaded} at start"


def test_the_supervisor_loads_neither_hashlib_nor_the_app(tmp_path: Path) -> None:
    # `envelope serve` made the instance's key before it execs the supervisor.
    loaded_after("from envelope.config import Settings; Settings.from_env()", tmp_path)
    modules = set(loaded_after(PROCESSES["serve supervisor"], tmp_path)["modules"])
    assert not modules & {"hashlib", "secrets", "flask", "sqlalchemy", "celery", "click"}


def test_the_web_app_is_frozen_for_the_collector_before_the_workers_fork(tmp_path: Path) -> None:
    # gc.freeze(): a full collection in a worker would otherwise copy most of
    # the shared pages (bench/README.md).
    assert loaded_after(PROCESSES["web (gunicorn master, preloaded)"], tmp_path)["frozen"] > 10_000
