"""Tell a pure-Python project from one with native code, for `envelope ci init`.

The two need different workflows: cibuildwheel 4 refuses to build a
pure-Python wheel (``NonPlatformWheelError``), and a matrix of five runners
building one ``py3-none-any`` wheel is waste. So `ci init` reads the
project's ``pyproject.toml`` and looks for the usual signs of compiled code,
and says which signs it found, so a person can overrule it with ``--kind``.

Only the checkout is read; nothing is imported, built or installed.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from envelope.errors import InvalidInput

Kind = Literal["pure", "native"]

# Build backends that compile by design.
NATIVE_BACKENDS = {
    "mesonpy": "meson-python",
    "scikit_build_core.build": "scikit-build-core",
    "scikit_build_core.setuptools.build_meta": "scikit-build-core",
    "maturin": "maturin",
    "py_build_cmake.build": "py-build-cmake",
    "enscons": "enscons",
}
# Backends that only package Python files unless a plugin or setup.py adds
# extension modules (looked for separately).
PURE_BACKENDS = {
    "hatchling.build": "hatchling",
    "flit_core.buildapi": "flit-core",
    "setuptools.build_meta": "setuptools",
    "setuptools.build_meta:__legacy__": "setuptools",
    "pdm.backend": "pdm-backend",
    "poetry.core.masonry.api": "poetry-core",
    "uv_build": "uv-build",
}
# Build requirements that exist to compile something.
NATIVE_REQUIREMENTS = (
    "cython", "setuptools-rust", "pybind11", "nanobind", "scikit-build", "cmake",
    "cffi", "hatch-cython", "hatch-mypyc", "mypy", "numpy", "meson", "ninja", "maturin",
)
# Files whose presence means compiled code (the project's own, or a build of it).
NATIVE_MARKER_FILES = ("Cargo.toml", "CMakeLists.txt", "meson.build")
NATIVE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".pyx", ".pxd", ".rs", ".f", ".f90", ".m", ".mm")
# Folders that hold other people's code or build output, not the project's.
SKIPPED_DIRS = {"build", "dist", "node_modules", "venv", "env", "site-packages", "__pycache__", "wheelhouse"}
SETUP_PY_EXTENSIONS = re.compile(r"\bext_modules\b|\bExtension\s*\(|\bcythonize\s*\(")
MAX_FILES_SCANNED = 20_000


@dataclass(frozen=True)
class Detection:
    """What `ci init` concluded, and the evidence a person can check."""

    kind: Kind
    backend: str
    reasons: tuple[str, ...]

    def explain(self) -> str:
        label = "pure Python" if self.kind == "pure" else "native code"
        return f"{label} ({'; '.join(self.reasons)})"


def read_pyproject(checkout: Path) -> dict[str, Any]:
    """The parsed ``pyproject.toml``, or InvalidInput saying why there is none to read."""
    path = checkout / "pyproject.toml"
    if not path.is_file():
        raise InvalidInput(
            f"{checkout} has no pyproject.toml: run `envelope ci init` in your project's root folder, "
            "or give its path (the workflow builds with pyproject.toml)."
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid TOML ({exc}): fix it, then run `envelope ci init` again.") from exc


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _native_sources(checkout: Path) -> list[str]:
    """Relative paths of compiled-language sources and build files, hidden and build folders skipped."""
    found: list[str] = []
    scanned = 0
    for root, dirs, files in os.walk(checkout):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files):
            scanned += 1
            if name in NATIVE_MARKER_FILES or name.lower().endswith(NATIVE_SUFFIXES):
                found.append(str((Path(root) / name).relative_to(checkout)))
        if scanned > MAX_FILES_SCANNED:
            break
    return found


def detect(checkout: Path) -> Detection:
    """Decide pure or native from pyproject.toml, setup.py and the source files."""
    pyproject = read_pyproject(checkout)
    build_system = pyproject.get("build-system") or {}
    # PEP 517: no build-backend means setuptools' legacy backend.
    backend = str(build_system.get("build-backend") or "setuptools.build_meta:__legacy__")
    requires = [_requirement_name(r) for r in build_system.get("requires") or [] if isinstance(r, str)]
    native: list[str] = []
    if backend in NATIVE_BACKENDS:
        native.append(f"build backend {NATIVE_BACKENDS[backend]} compiles code")
    compilers = sorted({r for r in requires if r in NATIVE_REQUIREMENTS})
    if compilers:
        native.append(f"build requires {', '.join(compilers)}")
    setuptools_table = (pyproject.get("tool") or {}).get("setuptools") or {}
    if setuptools_table.get("ext-modules"):
        native.append("[tool.setuptools] declares ext-modules")
    setup_py = checkout / "setup.py"
    if setup_py.is_file() and SETUP_PY_EXTENSIONS.search(setup_py.read_text(encoding="utf-8", errors="replace")):
        native.append("setup.py declares extension modules")
    sources = _native_sources(checkout)
    if sources:
        more = f" and {len(sources) - 1} more" if len(sources) > 1 else ""
        native.append(f"found {sources[0]}{more}")
    if native:
        return Detection("native", backend, tuple(native))
    name = PURE_BACKENDS.get(backend, backend)
    return Detection("pure", backend, (
        f"build backend {name}",
        "no C, C++, Cython, Rust or Fortran sources, no extension modules",
    ))
