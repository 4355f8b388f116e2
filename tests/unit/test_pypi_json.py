"""Which release PyPI's JSON API names in `info.version` (as Warehouse picks it)."""
from __future__ import annotations

import pytest

from envelope.errors import NotFound
from envelope.index.pypi_json import latest_version, parse_version
from envelope.models import File


def _releases(**yanked: list[bool]) -> dict[str, list[tuple[File, str]]]:
    """{version: [(file, version)…]}; keyword names spell versions with '_' for '.'."""
    out = {}
    for key, flags in yanked.items():
        version = key.lstrip("v").replace("_", ".")
        out[version] = [(File(yanked=flag), version) for flag in flags]
    return out


@pytest.mark.parametrize(
    ("releases", "expected"),
    [
        (_releases(v1_0=[False], v2_0=[False], v2_1rc1=[False]), "2.0"),  # finals before pre-releases
        (_releases(v1_0=[False], v2_0=[True, True]), "1.0"),  # a release whose files are all yanked is yanked
        (_releases(v1_0=[False], v2_0=[True, False]), "2.0"),  # one live file keeps it
        (_releases(v1_0=[True], v2_0rc1=[False]), "2.0rc1"),  # a live pre-release before a yanked final
        (_releases(v1_0=[True], v1_10=[True]), "1.10"),  # all yanked: the newest, by PEP 440 order
        ({}, None),
    ],
)
def test_latest_version(releases, expected) -> None:
    assert latest_version(releases) == expected


def test_a_version_that_cannot_exist_is_not_found() -> None:
    assert str(parse_version("1.5")) == "1.5"
    with pytest.raises(NotFound):
        parse_version("not-a-version")
