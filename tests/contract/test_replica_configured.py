"""A configured entity's replica tables, on every backend: its kinds stored as promised
(decimals exact, booleans, UTC timestamps, JSON), a composite key, a child table; a
mapping that adds a column migrates in place, one that removes or retypes a column is
refused with one line and changes nothing, and `rebuild` starts the table anew."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from contract.test_replica_contract import BACKENDS, Backend
from core.config import load_settings
from core.entities import EntitySpec
from core.runtime.entities import entity_specs
from core.sync.writer import RunWriter

CONFIG = """\
[entities]
builtin = false

[sources.erp]
kind = "sql"
url = "sqlite:///erp.db"
timezone = "Europe/Rome"

[entities.invoices]
source = "erp"
table = "invoices"
key = "id"
cursor = "changed"
columns = { id = "integer", total = "decimal", paid = "boolean", meta = "json", \
changed = "timestamp" }

[entities.invoices.child]
name = "invoice_lines"
table = "lines"
parent = "invoice"
key = ["invoice", "n"]
columns = { invoice = "integer", n = "integer", qty = "decimal", note = "text" }

[entities.stock]
source = "erp"
table = "stock"
key = ["site", "sku"]
cursor = "changed"
columns = { site = "integer", sku = "text", on_hand = "decimal", changed = "timestamp" }
"""


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    made: Backend = BACKENDS[request.param].for_test(request, tmp_path)
    return made


def specs(tmp_path: Path, text: str = CONFIG) -> dict[str, EntitySpec]:
    path = tmp_path / "syncdeck.toml"
    path.write_text(text, encoding="utf-8")
    return entity_specs(load_settings(path, tmp_path / "data"))


def write(backend: Backend, spec: EntitySpec, rows: list[tuple[object, ...]], kids: object) -> None:
    target = backend.replica.target(spec)
    try:
        writer = RunWriter(target, spec)
        from core.sources.base import Page

        page = Page(columns=spec.columns[1:], rows=rows, children=kids)  # type: ignore[arg-type]
        result = writer.write(page, run_id=1)
        assert result.counts.rejected == 0
    finally:
        target.close()


def test_kinds_composite_keys_and_children_are_stored_as_promised(
    backend: Backend, tmp_path: Path
) -> None:
    found = specs(tmp_path)
    changed = datetime(2026, 10, 25, 2, 30)  # Rome, the first of the two 02:30s
    total = Decimal("0.1") + Decimal("0.2")
    write(
        backend,
        found["invoices"],
        [
            (1, total, 1, {"b": [1, 2]}, changed),
            (2, Decimal("12345678901234567890.12"), 0, None, changed),
        ],
        [[(1, 1, Decimal("1.5"), "first"), (1, 2, Decimal("2"), None)], []],
    )
    rows = backend.query("SELECT id, total, paid, meta, changed FROM invoices ORDER BY id")
    assert [(r[0], str(r[1]), bool(r[2]), r[3], r[4]) for r in rows] == [
        (1, "0.3", True, '{"b":[1,2]}', "2026-10-25T00:30:00.000000Z"),
        (2, "12345678901234567890.12", False, None, "2026-10-25T00:30:00.000000Z"),
    ]
    lines = backend.query("SELECT sync_parent, invoice, n, qty, note FROM invoice_lines ORDER BY n")
    assert [(r[0], r[1], r[2], str(r[3]), r[4]) for r in lines] == [
        ("1", 1, 1, "1.5", "first"),
        ("1", 1, 2, "2", None),
    ]
    write(backend, found["stock"], [(1, "A", Decimal("5"), changed), (2, "A", 7, changed)], None)
    keys = backend.query("SELECT sync_key, site, sku FROM stock ORDER BY site")
    assert keys == [('[1,"A"]', 1, "A"), ('[2,"A"]', 2, "A")]


def test_an_added_column_is_migrated_and_a_removed_one_is_refused(
    backend: Backend, tmp_path: Path
) -> None:
    before = specs(tmp_path)["stock"]
    write(backend, before, [(1, "A", Decimal("5"), datetime(2026, 1, 1))], None)
    added = specs(
        tmp_path, CONFIG.replace('on_hand = "decimal"', 'on_hand = "decimal", bin = "text"')
    )
    assert backend.replica.evolve([added["stock"]]) == []
    assert backend.query("SELECT sku, bin FROM stock") == [("A", None)]
    write(backend, added["stock"], [(1, "A", Decimal("6"), "B7", datetime(2026, 1, 2))], None)
    assert backend.query("SELECT sku, bin FROM stock") == [("A", "B7")]

    removed = specs(tmp_path, CONFIG.replace('on_hand = "decimal", ', ""))
    retyped = specs(tmp_path, CONFIG.replace('sku = "text"', 'sku = "integer"'))
    problems = backend.replica.evolve([removed["stock"], retyped["stock"]])
    # on_hand and bin are gone from the first; bin is gone and sku retyped in the second
    assert len(problems) == 4, problems
    assert any(
        p.startswith("replica table stock: column on_hand is not in entity stock's mapping")
        and "`syncdeck replica rebuild stock`" in p
        for p in problems
    )
    assert any("column sku is text, the mapping makes it" in p for p in problems)
    assert backend.query("SELECT sku, bin FROM stock") == [("A", "B7")]  # nothing changed

    backend.replica.rebuild(added["stock"])
    assert backend.replica.evolve([removed["stock"]]) == []  # no table: nothing to refuse
    assert backend.query("SELECT cursor FROM sync_state WHERE entity = 'stock'") == []


def test_an_integer_cursor_moves_past_9_and_sorts_as_a_number(
    backend: Backend, tmp_path: Path
) -> None:
    """Stored as text, 10 would sort before 9 and the cursor would stop at 9 (SQLite), or
    the comparison would fail outright (PostgreSQL): it is kept zero-padded."""
    head, stock = CONFIG.split("[entities.stock]")
    stock = stock.replace('cursor = "changed"', 'cursor = "rev"')
    stock = stock.replace('changed = "timestamp"', 'rev = "integer"')
    spec = specs(tmp_path, f"{head}[entities.stock]{stock}")["stock"]
    assert spec.cursor == "rev"
    write(backend, spec, [(1, "A", Decimal("5"), 9)], None)
    write(backend, spec, [(2, "A", Decimal("5"), 10)], None)
    write(backend, spec, [(3, "A", Decimal("5"), 2)], None)  # late: never moves it back
    assert backend.query("SELECT cursor FROM sync_state WHERE entity = 'stock'") == [
        ("00000000000000000010",)
    ]
    assert backend.query("SELECT rev FROM stock ORDER BY site") == [(9,), (10,), (2,)]
