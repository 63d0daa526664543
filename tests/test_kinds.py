"""A configured entity's values, kind by kind: exact decimals, timestamps read in the
source's zone (the autumn hour that occurs twice included), keys as text, and every value
that does not fit its kind a quarantined record with its reason, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.config import load_settings
from core.entities import EntitySpec
from core.runtime.entities import entity_specs
from core.sources.base import Page
from core.sync.digest import digests, row_digest
from core.sync.kind_columns import fast_columns
from core.sync.kinds import KindCodec, converters, reread_from

CONFIG = """\
[sources.erp]
kind = "sql"
url = "sqlite:///erp.db"
timezone = "Europe/Rome"

[entities.moves]
source = "erp"
table = "moves"
key = ["company", "code"]
cursor = "changed"
lookback_s = 90
columns = { company = "integer", code = "text", amount = "decimal", paid = "boolean", \
day = "date", extra = "json", ratio = "real", changed = "timestamp" }

[entities.docs]
source = "erp"
table = "docs"
key = "id"
cursor = "changed"
columns = { id = "integer", changed = "timestamp" }

[entities.docs.child]
name = "doc_lines"
table = "doc_lines"
parent = "doc"
key = ["doc", "n"]
columns = { doc = "integer", n = "integer", qty = "decimal", note = "text" }
"""


def spec(tmp_path: Path, name: str = "moves") -> EntitySpec:
    path = tmp_path / "syncdeck.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return entity_specs(load_settings(path, tmp_path / "data"))[name]


def row(**values: object) -> tuple[object, ...]:
    base: dict[str, object] = {
        "company": 1,
        "code": "A-1",
        "amount": Decimal("0.30"),
        "paid": 1,
        "day": date(2026, 10, 25),
        "extra": '{"b": 1, "a": [1, 2]}',
        "ratio": 0.5,
        "changed": datetime(2026, 10, 25, 2, 30),
    }
    base.update(values)
    return tuple(base.values())


def test_every_kind_is_stored_as_the_replica_promises(tmp_path: Path) -> None:
    codec = KindCodec(spec(tmp_path))
    batch = codec.decode_rows([row()])
    assert batch.rejected == []
    (values,) = batch.values
    assert values == (
        '[1,"A-1"]',
        1,
        "A-1",
        "0.30",
        True,
        "2026-10-25",
        '{"a":[1,2],"b":1}',
        0.5,
        "2026-10-25T00:30:00.000000Z",  # 02:30 in Rome, the first of the two (CEST)
    )
    assert batch.keys == ['[1,"A-1"]']
    assert batch.top_cursor == "2026-10-25T00:30:00.000000Z"


def test_child_rows_carry_their_parents_key(tmp_path: Path) -> None:
    codec = KindCodec(spec(tmp_path, "docs"))
    changed = datetime(2026, 3, 1, 9, 0)
    lines = [(7, 1, Decimal("2.500"), None), (7, 2, 3, "rush")]
    batch = codec.decode_rows([(7, changed), (8, changed)], [lines, []])
    assert batch.keys == ["7", "8"]
    assert batch.children == [[("7", 7, 1, "2.500", None), ("7", 7, 2, "3", "rush")], []]
    broken = codec.decode_rows([(9, changed)], [[(9, None, 1, None)]])
    assert broken.values == [] and broken.rejected[0][2] == "doc_lines.n: missing"


def test_decimals_stay_exact_however_they_arrive(tmp_path: Path) -> None:
    codec = KindCodec(spec(tmp_path))
    tenths = Decimal("0.1") + Decimal("0.2")
    amounts = [tenths, "99999999999999999999.99", 12345678901234567890, 0.1, "1E+2"]
    batch = codec.decode_rows([row(code=str(i), amount=a) for i, a in enumerate(amounts)])
    assert [v[3] for v in batch.values] == [
        "0.3",
        "99999999999999999999.99",
        "12345678901234567890",
        "0.1",
        "100",
    ]


def test_naive_and_aware_timestamps_meet_on_utc_floored_to_the_microsecond(
    tmp_path: Path,
) -> None:
    codec = KindCodec(spec(tmp_path))
    plus_two = timezone(timedelta(hours=2))
    values = [
        datetime(2026, 7, 1, 12, 0),  # naive: Rome, summer
        datetime(2026, 7, 1, 12, 0, tzinfo=plus_two),
        "2026-07-01T10:00:00.1234569Z",  # nanoseconds: floored, never rounded up
        "2026-01-15 08:00:00",  # naive text: Rome, winter
    ]
    batch = codec.decode_rows([row(code=str(i), changed=v) for i, v in enumerate(values)])
    assert [v[-1] for v in batch.values] == [
        "2026-07-01T10:00:00.000000Z",
        "2026-07-01T10:00:00.000000Z",
        "2026-07-01T10:00:00.123456Z",
        "2026-01-15T07:00:00.000000Z",
    ]


def test_values_that_do_not_fit_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    codec = KindCodec(spec(tmp_path))
    bad = [
        row(code="ok"),
        row(code="money", amount="12,50"),
        row(code="flag", paid=2),
        row(code="when", changed="yesterday"),
        row(code="nan", ratio=float("nan")),
        row(code="nokey", company=None),
        row(code="nocursor", changed=None),
        row(code="json", extra="{not json"),
    ]
    batch = codec.decode_rows(bad, want_seen=True)
    assert [v[2] for v in batch.values] == ["ok"]
    reasons = {json.loads(payload)["code"]: reason for _, payload, reason in batch.rejected}
    assert reasons == {
        "money": "amount: expected a decimal, got '12,50'",
        "flag": "paid: expected a boolean, got 2",
        "when": "changed: expected an ISO-8601 timestamp, got 'yesterday'",
        "nan": "ratio: expected a finite number, got nan",
        "nokey": "company: missing",
        "nocursor": "changed: missing",
        "json": "extra: not valid JSON",
    }
    # A record that is invalid but has its key still exists in the source: a full pass
    # must not delete its row. One without a key cannot be told apart.
    assert len(batch.keys_seen) == len(bad) - 1


def test_lookback_is_counted_in_the_datas_time() -> None:
    assert reread_from("2026-10-25T00:30:00.000000Z", "timestamp", 90) == (
        "2026-10-25T00:28:30.000000Z"
    )
    assert reread_from("2026-10-25", "date", 90) == "2026-10-24"
    assert reread_from("2026-10-25T00:30:00.000000Z", "timestamp", 0) == (
        "2026-10-25T00:30:00.000000Z"
    )
    assert datetime.fromisoformat(reread_from("2026-01-01T00:00:00Z", "timestamp", 1)) == (
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    )


def test_a_page_of_dicts_decodes_like_a_page_of_rows(tmp_path: Path) -> None:
    codec = KindCodec(spec(tmp_path))
    names = codec.spec.columns[1:]
    as_rows = codec.decode_page(Page(columns=names, rows=[row()]))
    as_dicts = codec.decode([dict(zip(names, row(), strict=True))])
    assert as_rows.values == as_dicts.values


def test_equal_rows_fingerprint_alike_whatever_objects_hold_their_values() -> None:
    """marshal's later versions mark a value that is also referenced elsewhere, so the
    same row could fingerprint differently between two listings and be rewritten as
    'updated' although nothing changed (seen with child rows that share their parent's
    key object)."""
    shared = "".join(["to", "ols"])
    elsewhere = [shared]  # another reference to the same string object
    alone = "".join(["to", "ols"])
    assert elsewhere[0] is shared and shared is not alone
    assert digests([(1, shared)]) == digests([(1, alone)])
    assert row_digest((1, shared), [(shared, 2)]) == row_digest((1, alone), [("tools", 2)])


ROME_NIGHTS = [  # around both of 2026's changes: the spring gap and the autumn's twice-hour
    datetime(2026, 3, 29, 1, 59, 59, 999999),
    datetime(2026, 3, 29, 2, 30),
    datetime(2026, 3, 29, 3, 0),
    datetime(2026, 10, 25, 2, 0),
    datetime(2026, 10, 25, 2, 59, 59),
    datetime(2026, 10, 25, 3, 0, 0, 1),
    datetime(1900, 1, 1),
]
FAST_COLUMNS: list[tuple[Any, list[Any]]] = [
    ("timestamp", ROME_NIGHTS),
    ("timestamp", [d.replace(tzinfo=timezone(timedelta(hours=-3))) for d in ROME_NIGHTS]),
    ("decimal", [Decimal(t) for t in ("0.30", "-0.00", "1E+2", "0.0000001", "5E-9")]),
    ("decimal", [Decimal("12345678901234567890.12"), Decimal("-1")]),
    ("decimal", [0, -7, 12345678901234567890]),
    ("integer", [1, None, 2**63]),
    ("text", ["a", None, ""]),
    ("boolean", [True, False, None]),
    ("boolean", [0, 1, 1]),
    ("real", [0.5, None, -1e300]),
    ("date", [date(2026, 10, 25), date(1, 1, 1)]),
]


@pytest.mark.parametrize("zone", ["Europe/Rome", "UTC"])
@pytest.mark.parametrize(("kind", "values"), FAST_COLUMNS)
def test_a_whole_column_converts_exactly_as_value_by_value(
    kind: Any, values: list[Any], zone: str
) -> None:
    (fast,) = fast_columns([kind], ZoneInfo(zone))
    (one,) = converters([kind], zone)
    assert fast(list(values)) == [None if v is None else one(v) for v in values]


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("decimal", [Decimal("1"), None]),
        ("decimal", [Decimal("NaN")]),
        ("timestamp", [datetime(2026, 1, 1), None]),
        ("timestamp", [datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)]),
        ("boolean", [0, 2]),
        ("real", [1.0, float("inf")]),
        ("date", [date(2026, 1, 1), None]),
        ("integer", [1, "2"]),
    ],
)
def test_a_column_the_fast_path_cannot_take_whole_goes_value_by_value(
    kind: Any, values: list[Any]
) -> None:
    (fast,) = fast_columns([kind], ZoneInfo("Europe/Rome"))
    assert fast(list(values)) is None
