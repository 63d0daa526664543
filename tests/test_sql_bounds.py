"""The SQL source's `since` bounds (`core.sources.sql.bounds`): pure functions, no database.

`wall_lower_bound` is the lowest wall time of any instant at or after a given one: in
Europe/Rome on 2026-10-25 the clocks go back from 03:00 CEST to 02:00 CET at 01:00 UTC,
so 02:00-02:59 happens twice; in spring (2026-03-29, 02:00 CET to 03:00 CEST at 01:00
UTC) nothing is lower than the instant's own wall time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.sources.sql.bounds import (
    Shape,
    parse_instant,
    shape_of,
    source_bound,
    wall_lower_bound,
)

ROME = ZoneInfo("Europe/Rome")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2026-10-24T23:30:00", "2026-10-25T01:30:00"),  # before the hour: its own wall time
        ("2026-10-24T23:59:59", "2026-10-25T01:59:59"),
        ("2026-10-25T00:00:00", "2026-10-25T02:00:00"),  # 02:00 CEST: the hour begins
        ("2026-10-25T00:30:00.123456", "2026-10-25T02:00:00"),  # 02:30 CEST: back to 02:00
        ("2026-10-25T00:59:59.999999", "2026-10-25T02:00:00"),
        ("2026-10-25T01:00:00", "2026-10-25T02:00:00"),  # 02:00 CET, the second time
        ("2026-10-25T01:30:00.000001", "2026-10-25T02:30:00.000001"),  # past the change
        ("2026-10-25T05:00:00", "2026-10-25T06:00:00"),
    ],
)
def test_rome_in_autumn(instant: str, expected: str) -> None:
    assert wall_lower_bound(utc(instant), ROME) == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2026-03-29T00:30:00", "2026-03-29T01:30:00"),  # 01:30 CET
        ("2026-03-29T00:59:59.5", "2026-03-29T01:59:59.5"),
        ("2026-03-29T01:00:00", "2026-03-29T03:00:00"),  # 03:00 CEST: 02:xx never happens
        ("2026-03-28T23:00:00", "2026-03-29T00:00:00"),
    ],
)
def test_rome_in_spring_is_the_wall_time(instant: str, expected: str) -> None:
    assert wall_lower_bound(utc(instant), ROME) == datetime.fromisoformat(expected)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)))
def test_utc_is_the_instant_itself(naive: datetime) -> None:
    assert wall_lower_bound(naive.replace(tzinfo=UTC), ZoneInfo("UTC")) == naive


@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1)))
def test_no_later_instant_has_a_lower_wall_time(naive: datetime) -> None:
    """Checked against every minute of the next 26 hours: the bound is never above any of
    their wall times, and less than a minute below the lowest (the transitions' own
    instants fall between two samples)."""
    instant = naive.replace(tzinfo=UTC)
    bound = wall_lower_bound(instant, ROME)
    walls = [
        (instant + timedelta(minutes=m)).astimezone(ROME).replace(tzinfo=None)
        for m in range(26 * 60)
    ]
    assert bound <= min(walls)
    assert bound >= min(walls) - timedelta(minutes=1)


def test_other_zones() -> None:
    new_york = ZoneInfo("America/New_York")  # back from EDT to EST at 06:00 UTC
    assert wall_lower_bound(utc("2026-11-01T05:30:00"), new_york) == datetime(2026, 11, 1, 1)
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # back half an hour, at 15:00 UTC
    assert wall_lower_bound(utc("2026-04-04T14:50:00"), lord_howe) == datetime(2026, 4, 5, 1, 30)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        wall_lower_bound(datetime(2026, 1, 1), ROME)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-25T00:30:00Z", utc("2026-10-25T00:30:00")),
        ("2026-10-25T00:30:00.123456Z", utc("2026-10-25T00:30:00.123456")),
        ("2026-10-25T00:30:00.1234569Z", utc("2026-10-25T00:30:00.123456")),  # cut, not rounded
        ("2026-10-25 00:30:00.5", utc("2026-10-25T00:30:00.5")),  # no offset: UTC
        ("2026-10-25T02:30:00+02:00", utc("2026-10-25T00:30:00")),
        ("2026-10-25T00:30Z", utc("2026-10-25T00:30:00")),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-10-25", "2026-13-01T00:00:00Z"])
def test_parse_instant_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


def test_shapes() -> None:
    assert shape_of(datetime(2026, 1, 1)) == Shape("naive")
    assert shape_of(datetime(2026, 1, 1, tzinfo=UTC)) == Shape("aware")
    assert shape_of(date(2026, 1, 1)) == Shape("date")
    assert shape_of("2026-01-01 10:00:00") == Shape("text", " ")
    assert shape_of("2026-01-01T10:00:00.5") == Shape("text", "T")
    assert shape_of("2026-01-01T10:00:00Z") == Shape("text", "T", "Z")
    assert shape_of("2026-01-01 10:00:00+00:00") == Shape("text", " ", "+00:00")
    assert shape_of(12) == Shape("other")


def test_source_bounds() -> None:
    since = "2026-10-25T00:30:00.5Z"
    assert source_bound(since, "timestamp", Shape("aware"), ROME) == utc("2026-10-25T00:30:00.5")
    assert source_bound(since, "timestamp", Shape("naive"), ROME) == datetime(2026, 10, 25, 2)
    assert source_bound(since, "timestamp", Shape("date"), ROME) == date(2026, 10, 25)
    assert source_bound(since, "timestamp", Shape("text", "T"), ROME) == "2026-10-25T02:00:00"
    assert source_bound(since, "timestamp", Shape("text", " ", "Z"), ROME) == (
        "2026-10-25 00:30:00.5Z"  # the shortest text: never above a longer spelling of it
    )
    assert source_bound("2026-10-25", "date", Shape("date"), ROME) == date(2026, 10, 25)
    assert source_bound("2026-10-25", "date", Shape("text"), ROME) == "2026-10-25"
    assert source_bound("42", "integer", Shape("other"), ROME) == 42
    assert source_bound("B-7", "text", Shape("text"), ROME) == "B-7"
    for kind, value, shape in [
        ("integer", "4.2", Shape("other")),
        ("date", "soon", Shape("date")),
        ("timestamp", "now", Shape("naive")),
        ("timestamp", since, Shape("other")),
    ]:
        with pytest.raises(ValueError):
            source_bound(value, kind, shape, ROME)  # type: ignore[arg-type]
