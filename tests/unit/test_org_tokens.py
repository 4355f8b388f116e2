from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from envelope.errors import InvalidInput
from envelope.orgs.tokens import parse_restrictions, resolve_expiry

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("preset", "on_date", "expected"),
    [
        ("1d", None, NOW + timedelta(days=1)),
        ("7d", "", NOW + timedelta(days=7)),
        ("90d", None, NOW + timedelta(days=90)),
        ("never", None, None),
        (None, None, NOW + timedelta(days=30)),
        ("2h", None, NOW + timedelta(hours=2)),
        ("never", "2025-03-10", datetime(2025, 3, 11, tzinfo=timezone.utc)),  # the date wins: through that day
    ],
)
def test_resolve_expiry(preset, on_date, expected):
    assert resolve_expiry(preset, on_date, NOW) == expected


@pytest.mark.parametrize(("preset", "on_date"), [("soon", None), ("30d", "2025-03-09"), ("30d", "10/03/2025")])
def test_resolve_expiry_refuses(preset, on_date):
    with pytest.raises(InvalidInput):
        resolve_expiry(preset, on_date, NOW)


def test_parse_restrictions():
    assert parse_restrictions("billing>=1,<2\n\n  reports \r\n") == [("billing", "<2,>=1"), ("reports", "")]
    assert parse_restrictions(["a", " ", "b"]) == [("a", ""), ("b", "")]
    with pytest.raises(InvalidInput):
        parse_restrictions("\n".join(f"p{n}" for n in range(101)))
