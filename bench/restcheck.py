"""The check that follows bench/restsource.py's syncs, so that a fast but wrong sync cannot
pass: the replica read with sqlite3 (no syncdeck code), against the records the benchmark
generated with the change applied (bench/restshop.py): the live customers' count, every
customer's id, name, email, credit (exact) and updated_at, the changed ones' new
updated_at and name, and every line of the child table."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from msgspec import Struct
from restshop import CHANGED_STAMP, CHILD, ENTITY, Row


class Check(Struct, frozen=True):
    replica_rows: int
    """Live customers in the replica."""
    differing: int
    """Customers missing from either side, or different in any checked column."""
    changed_at_new_stamp: int
    """Changed customers whose replica row holds CHANGED_STAMP."""
    at_new_stamp: int
    """Replica customers at CHANGED_STAMP (only the changed ones may be)."""
    lines: int
    lines_differing: int

    def ok(self, records: int, changed: int, lines: int) -> bool:
        return (
            self.replica_rows == records
            and self.differing == 0
            and self.changed_at_new_stamp == changed == self.at_new_stamp
            and self.lines == lines
            and self.lines_differing == 0
        )


def check(
    replica: Path,
    expected: dict[int, Row],
    lines: set[tuple[int, int, str, Decimal]],
    changed: list[int],
) -> Check:
    db = sqlite3.connect(f"file:{replica}?mode=ro", uri=True)
    try:
        held: dict[int, Row] = {
            r[0]: (r[0], r[1], r[2], Decimal(r[3]), r[4])
            for r in db.execute(
                f"SELECT id, name, email, credit, updated_at FROM {ENTITY} WHERE deleted_at IS NULL"
            )
        }
        held_lines = {
            (r[0], r[1], r[2], Decimal(r[3]))
            for r in db.execute(
                f"SELECT l.customer_id, l.n, l.sku, l.qty FROM {CHILD} l "
                f"JOIN {ENTITY} c ON c.sync_key = l.sync_parent WHERE c.deleted_at IS NULL"
            )
        }
    finally:
        db.close()
    differing = len(held.keys() ^ expected.keys())
    differing += sum(1 for k in held.keys() & expected.keys() if held[k] != expected[k])
    return Check(
        replica_rows=len(held),
        differing=differing,
        changed_at_new_stamp=sum(1 for i in changed if i in held and held[i][4] == CHANGED_STAMP),
        at_new_stamp=sum(1 for row in held.values() if row[4] == CHANGED_STAMP),
        lines=len(held_lines),
        lines_differing=len(held_lines ^ lines),
    )
