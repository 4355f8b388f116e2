"""Which Python versions and platforms a release's wheels cover.

Built from wheel filenames alone (packaging parses them), so a release page
can show at a glance that, say, CPython 3.13 on Linux aarch64 has no wheel
and would fall back to building the sdist.

Rows are interpreters: CPython versions (``cp312``, free-threaded ``cp313t``),
PyPy (``pp310``) and, when no wheel names a version, ``py3``. Columns are
platforms: the usual cibuildwheel targets always, plus any other platform a
wheel names. A pure wheel (``py3-none-any``) covers every cell, an ``abi3``
wheel every CPython from its minimum version up, a ``py3-none-<platform>``
wheel every row of its column.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename


@dataclass(frozen=True)
class Platform:
    family: str  # manylinux | musllinux | macos | windows | linux | other
    arch: str

    @property
    def label(self) -> str:
        family = {"macos": "macOS", "windows": "Windows"}.get(self.family, self.family)
        return f"{family} {self.arch}" if self.family != "other" else self.arch

    @property
    def key(self) -> str:
        return f"{self.family}-{self.arch}"


DEFAULT_PLATFORMS = (
    Platform("manylinux", "x86_64"),
    Platform("manylinux", "aarch64"),
    Platform("musllinux", "x86_64"),
    Platform("musllinux", "aarch64"),
    Platform("macos", "x86_64"),
    Platform("macos", "arm64"),
    Platform("windows", "AMD64"),
)
# The CPython minor versions an abi3 wheel is spread over (3.8 to 3.14):
# abi3 promises every later version too, but rows stop at ones that exist.
CPYTHON_MINORS = range(8, 15)
ANY_PYTHON = "py3"

_MANYLINUX = re.compile(r"manylinux(?:1|2010|2014|_\d+_\d+)_(?P<arch>\w+)")
_MUSLLINUX = re.compile(r"musllinux_\d+_\d+_(?P<arch>\w+)")
_MACOS = re.compile(r"macosx_\d+_\d+_(?P<arch>\w+)")
_LINUX = re.compile(r"linux_(?P<arch>\w+)")
_MACOS_ARCHES = {"universal2": ("x86_64", "arm64"), "intel": ("x86_64",), "universal": ("x86_64",)}
_WINDOWS = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}
_INTERPRETER = re.compile(r"(?P<impl>[a-z]+)(?P<major>\d)(?P<minor>\d*)")


def platforms_of(platform_tag: str) -> tuple[Platform, ...] | None:
    """The columns a platform tag covers; None for 'any' (all of them)."""
    if platform_tag == "any":
        return None
    if match := _MANYLINUX.fullmatch(platform_tag):
        return (Platform("manylinux", match["arch"]),)
    if match := _MUSLLINUX.fullmatch(platform_tag):
        return (Platform("musllinux", match["arch"]),)
    if match := _MACOS.fullmatch(platform_tag):
        arch = match["arch"]
        return tuple(Platform("macos", a) for a in _MACOS_ARCHES.get(arch, (arch,)))
    if platform_tag in _WINDOWS:
        return (Platform("windows", _WINDOWS[platform_tag]),)
    if match := _LINUX.fullmatch(platform_tag):
        return (Platform("linux", match["arch"]),)
    return (Platform("other", platform_tag),)


def _row_key(row: str) -> tuple[int, int, int, str]:
    match = _INTERPRETER.match(row)
    order = {"cp": 0, "pp": 1}.get(match["impl"], 2) if match else 3
    major = int(match["major"]) if match else 0
    minor = int(match["minor"] or 0) if match else 0
    return (order, major, minor, row)


def row_label(row: str) -> str:
    match = _INTERPRETER.fullmatch(row.removesuffix("t"))
    if row == ANY_PYTHON:
        return "Python 3 (any)"
    if not match or not match["minor"]:
        return row
    version = f"{match['major']}.{match['minor']}"
    if match["impl"] == "cp":
        return f"CPython {version}" + (" free-threaded" if row.endswith("t") else "")
    if match["impl"] == "pp":
        return f"PyPy {version}"
    return row


@dataclass(frozen=True)
class _Rows:
    """Which rows one tag covers: named ones, every row, or CPython from a minimum."""

    named: frozenset[str] = frozenset()
    every: bool = False
    cpython_from: int | None = None  # minor version, for abi3
    generic_from: int | None = None  # minor version, for py3N

    def covers(self, row: str) -> bool:
        if self.every or row in self.named:
            return True
        match = _INTERPRETER.fullmatch(row)
        if not match or match["major"] != "3" or not match["minor"]:
            return False
        minor = int(match["minor"])
        if self.generic_from is not None and minor >= self.generic_from:
            return True
        return self.cpython_from is not None and match["impl"] == "cp" and minor >= self.cpython_from


def _rows_of(tag: Tag) -> _Rows:
    interpreter, abi = tag.interpreter, tag.abi
    match = _INTERPRETER.fullmatch(interpreter)
    if match is None:
        return _Rows(named=frozenset({interpreter}))
    impl, major, minor = match["impl"], match["major"], match["minor"]
    if impl == "py":
        if major != "3":
            return _Rows()
        return _Rows(every=True) if not minor else _Rows(generic_from=int(minor))
    if impl == "cp" and abi == "abi3" and minor:
        return _Rows(cpython_from=int(minor))
    if impl == "cp" and abi == f"{interpreter}t":
        return _Rows(named=frozenset({f"{interpreter}t"}))
    return _Rows(named=frozenset({interpreter}))


@dataclass(frozen=True)
class Coverage:
    rows: tuple[str, ...]
    platforms: tuple[Platform, ...]
    # (row, platform key) -> the wheels that cover that cell
    cells: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    wheels: int = 0
    pure: bool = False  # a wheel for any platform and any Python 3 exists

    def covered(self, row: str, platform: Platform) -> bool:
        return bool(self.cells.get((row, platform.key)))

    def providers(self, row: str, platform: Platform) -> tuple[str, ...]:
        return self.cells.get((row, platform.key), ())

    def missing(self) -> list[tuple[str, Platform]]:
        return [(r, p) for r in self.rows for p in self.platforms if not self.covered(r, p)]


def wheel_coverage(filenames: Iterable[str]) -> Coverage:
    """The matrix for a release's files; sdists and unparsable names are ignored."""
    wheels: list[tuple[str, frozenset[Tag]]] = []
    for filename in filenames:
        if not filename.endswith(".whl"):
            continue
        try:
            _name, _version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        wheels.append((filename, tags))

    rows: set[str] = set()
    extra: set[Platform] = set()
    entries: list[tuple[str, _Rows, tuple[Platform, ...] | None]] = []
    for filename, tags in wheels:
        for tag in tags:
            covered = _rows_of(tag)
            platforms = platforms_of(tag.platform)
            entries.append((filename, covered, platforms))
            rows |= covered.named
            if covered.cpython_from is not None:
                rows |= {f"cp3{minor}" for minor in CPYTHON_MINORS if minor >= covered.cpython_from}
            if platforms:
                extra |= set(platforms) - set(DEFAULT_PLATFORMS)
    if not rows:
        rows = {ANY_PYTHON}
    ordered_rows = tuple(sorted(rows, key=_row_key))
    columns = DEFAULT_PLATFORMS + tuple(sorted(extra, key=lambda p: (p.family, p.arch)))

    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    pure = False
    for filename, covered, platforms in entries:
        if covered.every and platforms is None:
            pure = True
        for row in ordered_rows:
            if not covered.covers(row) and not (covered.every or row == ANY_PYTHON and _generic(covered)):
                continue
            for platform in columns if platforms is None else platforms:
                if filename not in cells[(row, platform.key)]:
                    cells[(row, platform.key)].append(filename)
    return Coverage(
        rows=ordered_rows,
        platforms=columns,
        cells={key: tuple(names) for key, names in cells.items()},
        wheels=len(wheels),
        pure=pure,
    )


def _generic(covered: _Rows) -> bool:
    """A tag for Python 3 in general (py3, py38, abi3) fills the 'py3' row
    that stands in when no wheel names a concrete interpreter."""
    return covered.every or covered.generic_from is not None or covered.cpython_from is not None
