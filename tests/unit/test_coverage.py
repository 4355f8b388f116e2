from __future__ import annotations

import pytest

from envelope.packaging.coverage import DEFAULT_PLATFORMS, Platform, platforms_of, row_label, wheel_coverage

LINUX_X86 = Platform("manylinux", "x86_64")
LINUX_ARM = Platform("manylinux", "aarch64")
MAC_X86 = Platform("macos", "x86_64")
MAC_ARM = Platform("macos", "arm64")
WINDOWS = Platform("windows", "AMD64")


def test_a_missing_cp313_aarch64_wheel_shows_as_a_gap():
    coverage = wheel_coverage([
        "native-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "native-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "native-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "native-1.0.tar.gz",
    ])
    assert coverage.rows == ("cp312", "cp313")
    assert coverage.platforms == DEFAULT_PLATFORMS
    assert coverage.covered("cp312", LINUX_ARM) and coverage.covered("cp313", LINUX_X86)
    assert not coverage.covered("cp313", LINUX_ARM)
    assert coverage.providers("cp312", LINUX_ARM) == (
        "native-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",)
    assert (("cp313", LINUX_ARM) in coverage.missing()) and coverage.wheels == 3 and not coverage.pure


def test_a_pure_wheel_covers_everything():
    coverage = wheel_coverage(["demo-1.0-py3-none-any.whl"])
    assert coverage.pure and coverage.rows == ("py3",)
    assert not coverage.missing()


def test_abi3_covers_every_later_cpython_on_its_platforms():
    coverage = wheel_coverage(["fast-1.0-cp310-abi3-manylinux_2_28_x86_64.whl",
                               "fast-1.0-cp310-abi3-macosx_11_0_universal2.whl"])
    assert coverage.rows == ("cp310", "cp311", "cp312", "cp313", "cp314")
    assert all(coverage.covered(row, p) for row in coverage.rows for p in (LINUX_X86, MAC_X86, MAC_ARM))
    assert not coverage.covered("cp313", WINDOWS)


def test_free_threaded_pypy_and_platform_specific_generic_wheels():
    coverage = wheel_coverage([
        "x-1.0-cp313-cp313t-win_amd64.whl",
        "x-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
        "x-1.0-py3-none-musllinux_1_2_aarch64.whl",
        "x-1.0-cp312-cp312-win_arm64.whl",
    ])
    assert coverage.rows == ("cp312", "cp313t", "pp310")
    assert coverage.covered("cp313t", WINDOWS) and not coverage.covered("cp312", WINDOWS)
    assert coverage.covered("pp310", LINUX_X86)
    assert all(coverage.covered(row, Platform("musllinux", "aarch64")) for row in coverage.rows)
    assert coverage.platforms[-1] == Platform("windows", "ARM64")  # an extra column, after the usual ones


def test_sdist_only_and_garbage_names():
    coverage = wheel_coverage(["demo-1.0.tar.gz", "not-a-wheel.whl"])
    assert coverage.wheels == 0 and coverage.rows == ("py3",) and not coverage.pure


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("any", None),
        ("manylinux1_x86_64", (LINUX_X86,)),
        ("manylinux2014_aarch64", (LINUX_ARM,)),
        ("manylinux_2_28_aarch64", (LINUX_ARM,)),
        ("musllinux_1_1_x86_64", (Platform("musllinux", "x86_64"),)),
        ("macosx_10_9_x86_64", (MAC_X86,)),
        ("macosx_11_0_arm64", (MAC_ARM,)),
        ("macosx_10_9_universal2", (MAC_X86, MAC_ARM)),
        ("win_amd64", (WINDOWS,)),
        ("win32", (Platform("windows", "x86"),)),
        ("linux_x86_64", (Platform("linux", "x86_64"),)),
        ("ios_13_0_arm64_iphoneos", (Platform("other", "ios_13_0_arm64_iphoneos"),)),
    ],
)
def test_platforms_of(tag, expected):
    assert platforms_of(tag) == expected


@pytest.mark.parametrize(
    ("row", "label"),
    [("cp39", "CPython 3.9"), ("cp313", "CPython 3.13"), ("cp313t", "CPython 3.13 free-threaded"),
     ("pp310", "PyPy 3.10"), ("py3", "Python 3 (any)"), ("graalpy311", "graalpy311")],
)
def test_row_label(row, label):
    assert row_label(row) == label
