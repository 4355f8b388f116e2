"""The minimum age's arithmetic: parsing it, and which files a cut holds back."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envelope.errors import InvalidInput
from envelope.upstream import hold

NOW = datetime(2026, 12, 6, 21, 0, 0, tzinfo=timezone.utc)


def _entry(version: str, uploaded: str | None) -> dict:
    return {"version": version, "filename": f"p-{version}-py3-none-any.whl", "upload_time": uploaded}


@pytest.mark.parametrize(("text", "seconds"), [
    ("", 0), ("0", 0), ("off", 0), ("3d", 3 * 86400), (" 12H ", 12 * 3600), ("30m", 1800), ("45s", 45),
    ("2w", 14 * 86400), ("3", 3 * 86400), ("90d", 90 * 86400),
])
def test_parse_min_age(text: str, seconds: int) -> None:
    assert hold.parse_min_age(text) == seconds
    assert hold.parse_min_age(hold.format_min_age(seconds)) == seconds  # what is shown reads back the same


@pytest.mark.parametrize("text", ["3 days", "-1d", "1.5d", "d", "3y", "91d", "99999999s"])
def test_parse_min_age_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        hold.parse_min_age(text)


def test_format_min_age_picks_the_largest_exact_unit() -> None:
    assert [hold.format_min_age(s) for s in (0, 45, 90, 3600, 86400 * 3, 86400 * 14, 86400 + 1)] == [
        "0", "45s", "90s", "1h", "3d", "2w", "86401s"]


def test_a_cut_holds_files_younger_than_the_minimum_age_and_offers_untimed_ones() -> None:
    files = [
        _entry("1.0", "2026-11-01T00:00:00.000000Z"),
        _entry("2.0", "2026-12-06T20:00:00.000000Z"),  # an hour old
        _entry("2.0", "2026-12-03T20:59:59.000000Z"),  # an sdist of 3 days and a second ago
        _entry("3.0", None),
    ]
    cut = hold.cut(3 * 86400, NOW)
    assert [hold.is_held(e, cut) for e in files] == [False, True, False, False]
    assert hold.held_versions(files, 3 * 86400, NOW) == {"2.0": "2026-12-09T20:00:00Z"}
    assert hold.cut(0, NOW) is None and not any(hold.is_held(e, None) for e in files)


def test_released_counts_upload_times_past_the_cut_as_time_passes() -> None:
    files = [_entry("1.0", "2026-12-01T00:00:00.000000Z"), _entry("2.0", "2026-12-06T20:00:00.000000Z"),
             _entry("2.1", "2026-12-06T20:00:00.000000Z"), _entry("3.0", None)]
    times = hold.upload_times(files)
    assert len(times) == 2  # distinct, untimed left out
    day = 86400
    assert hold.released(times, hold.cut(day, NOW)) == 1
    later = datetime(2026, 12, 7, 20, 0, 0, tzinfo=timezone.utc)
    assert hold.released(times, hold.cut(day, later)) == 2  # 2.0 and 2.1 come of age together
    assert hold.released(times, None) == 2
