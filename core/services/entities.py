"""The four built-in entities: their record models, keys, cursors and replica tables.

An entity is data, not code: the one sync engine reads these specs. The
replica tables they describe are a public contract (other programs read them),
so a change to a model's fields bumps its `mapping_version`, which makes the
next auto run a full one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CURSOR_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
"""Cursors are UTC ISO-8601 timestamps ending in Z: they sort as text."""


class Record(BaseModel):
    """Values are stored as the source has them (no trimming): the replica mirrors the ERP."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    updated_at: str = Field(pattern=CURSOR_PATTERN)


class Customer(Record):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=254)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    credit_limit: float = Field(ge=0, le=1e9)


class Product(Record):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(max_length=100)
    unit: str = Field(max_length=16)
    active: bool
    weight_kg: float = Field(ge=0, le=100_000)


class Price(Record):
    id: str = Field(min_length=1, max_length=96)
    sku: str = Field(min_length=1, max_length=64)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: float = Field(gt=0, le=1e8)
    valid_from: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    line_no: int = Field(ge=1, le=10_000)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1_000_000)
    unit_price: float = Field(ge=0, le=1e8)


class Order(Record):
    id: str = Field(min_length=1, max_length=64)
    customer_id: str = Field(min_length=1, max_length=64)
    status: Literal["open", "confirmed", "shipped", "invoiced", "cancelled"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    total: float = Field(ge=0, le=1e10)
    ordered_at: str = Field(pattern=CURSOR_PATTERN)
    lines: list[OrderLine] = Field(default_factory=list, max_length=10_000)


@dataclass(frozen=True)
class ChildTable:
    """Rows owned by a parent record, replaced together with it (order lines)."""

    table: str
    record_field: str
    parent_column: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    sql_types: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EntitySpec:
    name: str
    """Also the service name and the replica table."""
    model: type[Record]
    key: str
    cursor: str = "updated_at"
    mapping_version: int = 1
    child: ChildTable | None = None
    sql_types: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.name

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Record fields stored in the replica table: key first, cursor last."""
        child_field = self.child.record_field if self.child else None
        skip = {child_field, self.key, self.cursor}
        names = [n for n in self.model.model_fields if n not in skip]
        return (self.key, *names, self.cursor)


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "customers",
            Customer,
            key="id",
            sql_types={"credit_limit": "REAL"},
        ),
        EntitySpec(
            "products",
            Product,
            key="sku",
            sql_types={"active": "INTEGER", "weight_kg": "REAL"},
        ),
        EntitySpec("prices", Price, key="id", sql_types={"amount": "REAL"}),
        EntitySpec(
            "orders",
            Order,
            key="id",
            sql_types={"total": "REAL"},
            child=ChildTable(
                table="order_lines",
                record_field="lines",
                parent_column="order_id",
                columns=("line_no", "sku", "quantity", "unit_price"),
                key_columns=("order_id", "line_no"),
                sql_types={"line_no": "INTEGER", "quantity": "INTEGER", "unit_price": "REAL"},
            ),
        ),
    )
}


def replica_ddl(spec: EntitySpec) -> list[str]:
    """CREATE statements for an entity's replica table (and its child table)."""
    cols = [
        f"{c} {spec.sql_types.get(c, 'TEXT')}{' NOT NULL PRIMARY KEY' if c == spec.key else ''}"
        for c in spec.columns
    ]
    cols += ["row_hash BLOB NOT NULL", "synced_at TEXT NOT NULL", "deleted_at TEXT"]
    statements = [
        f"CREATE TABLE {spec.table} ({', '.join(cols)})",
        f"CREATE INDEX {spec.table}_by_cursor ON {spec.table}({spec.cursor})",
    ]
    if spec.child is not None:
        child = spec.child
        child_cols = [f"{child.parent_column} TEXT NOT NULL"] + [
            f"{c} {child.sql_types.get(c, 'TEXT')} NOT NULL" for c in child.columns
        ]
        statements.append(
            f"CREATE TABLE {child.table} ({', '.join(child_cols)}, "
            f"PRIMARY KEY ({', '.join(child.key_columns)}))"
        )
    return statements
