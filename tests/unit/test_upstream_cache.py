"""The upstream cache budget's arithmetic: what goes, in which order, and how budgets are written."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from envelope.errors import InvalidInput
from envelope.lifecycle.upstream_cache import Budget, Cached, choose, format_max_age, format_max_size, parse_max_age, parse_max_size

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=timezone.utc)


def _obj(id: int, size: int, days_ago: float) -> Cached:
    return Cached(id, f"upstream/k{id}", f"f{id}.whl", size, NOW - timedelta(days=days_ago))


def _gone(budget: Budget, objects: list[Cached]) -> list[int]:
    return [e.obj.id for e in choose(objects, budget, NOW)]


def test_no_budget_keeps_everything() -> None:
    assert _gone(Budget(), [_obj(1, 10**9, 3000)]) == []


def test_age_evicts_files_unused_for_longer_than_the_budget_whatever_their_size() -> None:
    objects = [_obj(1, 5, 100), _obj(2, 5, 89), _obj(3, 5, 91), _obj(4, 5, 0)]
    evicted = choose(objects, Budget(max_age=90 * 86400), NOW)
    assert [e.obj.id for e in evicted] == [1, 3]  # least recently used first
    assert evicted[0].reason == "unused for more than 90d"


def test_size_evicts_least_recently_used_until_the_rest_fits() -> None:
    # Cached in id order, but used in another: recency decides, not age of fetch.
    objects = [_obj(1, 40, 1), _obj(2, 40, 5), _obj(3, 40, 3), _obj(4, 40, 0)]
    assert _gone(Budget(max_bytes=100), objects) == [2, 3]  # 160 -> 80
    assert _gone(Budget(max_bytes=80), objects) == [2, 3]  # exactly at the budget is within it
    assert _gone(Budget(max_bytes=79), objects) == [2, 3, 1]
    assert _gone(Budget(max_bytes=160), objects) == []
    assert _gone(Budget(max_bytes=0), objects) == [2, 3, 1, 4]


def test_one_big_recent_file_pushes_out_several_small_old_ones() -> None:
    objects = [_obj(1, 10, 9), _obj(2, 10, 8), _obj(3, 10, 7), _obj(4, 100, 0)]
    assert _gone(Budget(max_bytes=110), objects) == [1, 2]  # 130 -> 110
    assert _gone(Budget(max_bytes=105), objects) == [1, 2, 3]


def test_age_first_then_size_counts_only_what_the_age_left() -> None:
    objects = [_obj(1, 100, 40), _obj(2, 30, 10), _obj(3, 30, 2), _obj(4, 30, 1)]
    evicted = choose(objects, Budget(max_bytes=60, max_age=30 * 86400), NOW)
    assert [e.obj.id for e in evicted] == [1, 2]
    assert evicted[1].reason == "over the 60 bytes budget"


def test_ties_in_last_use_go_in_the_order_they_were_cached() -> None:
    objects = [_obj(3, 10, 1), _obj(1, 10, 1), _obj(2, 10, 1)]
    assert _gone(Budget(max_bytes=10), objects) == [1, 2]


@pytest.mark.parametrize("text, seconds", [("90d", 90 * 86400), ("12w", 12 * 7 * 86400), ("36h", 36 * 3600),
                                           ("30", 30 * 86400), (" none ", None), ("", None)])
def test_ages_parse_as_the_minimum_age_does(text: str, seconds: int | None) -> None:
    assert parse_max_age(text) == seconds
    if seconds is not None:
        assert parse_max_age(format_max_age(seconds)) == seconds


@pytest.mark.parametrize("text", ["30m", "0", "soon", "-1d", "99999w"])
def test_ages_below_an_hour_or_absurd_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_max_age(text)


def test_sizes_parse_as_quotas_do() -> None:
    assert parse_max_size("5GB") == 5 * 10**9 and parse_max_size("512MiB") == 512 * 2**20
    assert parse_max_size("none") is None and parse_max_size("0") == 0
    assert format_max_size(5 * 10**9) == "5GB" and format_max_size(None) == ""
    with pytest.raises(InvalidInput):
        parse_max_size("lots")


def test_budgets_describe_themselves() -> None:
    assert Budget().describe() == "none, kept forever"
    assert Budget(5 * 10**9, 90 * 86400).describe() == "at most 5 GB, each used within 90d"
