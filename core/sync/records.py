"""The ERP record models (pydantic): what a valid record of each entity looks like.

Imported only by the codec, when a sync or `verify` first runs: pydantic is slow to
import and build, which no start-up path may pay for. A model's
fields are its entity's replica columns (`core.entities`) plus, for
orders, the child records; `tests/test_records.py` keeps the two from drifting
apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.entities import CURSOR_PATTERN


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


MODELS: dict[str, type[Record]] = {
    "customers": Customer,
    "products": Product,
    "prices": Price,
    "orders": Order,
}
"""The record model of each entity, by entity name."""

CHILD_MODELS: dict[str, type[BaseModel]] = {"order_lines": OrderLine}
"""The model of each child table's records, by child table name."""
