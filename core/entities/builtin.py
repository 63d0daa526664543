"""THE built-in entities (customers, products, prices, orders) and the defaults every
other part derives from them: priority, interval and the stagger order.

The record models (`core.sync.records`) are checked against these columns by a test;
they are not imported here, so the console's first frame does not pay for pydantic.
"""

from __future__ import annotations

from core.entities.spec import MINUTE, ChildTable, EntitySpec

ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        EntitySpec(
            "customers",
            key="id",
            fields=(
                ("id", "text"),
                ("name", "text"),
                ("email", "text"),
                ("country", "text"),
                ("credit_limit", "real"),
                ("updated_at", "text"),
            ),
            default_priority=3,
            default_interval_s=30 * MINUTE,
        ),
        EntitySpec(
            "products",
            key="sku",
            fields=(
                ("sku", "text"),
                ("name", "text"),
                ("category", "text"),
                ("unit", "text"),
                ("active", "integer"),
                ("weight_kg", "real"),
                ("updated_at", "text"),
            ),
            default_priority=2,
            default_interval_s=30 * MINUTE,
        ),
        EntitySpec(
            "prices",
            key="id",
            fields=(
                ("id", "text"),
                ("sku", "text"),
                ("currency", "text"),
                ("amount", "real"),
                ("valid_from", "text"),
                ("updated_at", "text"),
            ),
            default_priority=1,
            # Prices change in batches: hourly is enough.
            default_interval_s=60 * MINUTE,
        ),
        EntitySpec(
            "orders",
            key="id",
            fields=(
                ("id", "text"),
                ("customer_id", "text"),
                ("status", "text"),
                ("currency", "text"),
                ("total", "real"),
                ("ordered_at", "text"),
                ("updated_at", "text"),
            ),
            # Orders and customers change all day and matter most.
            default_priority=4,
            default_interval_s=30 * MINUTE,
            child=ChildTable(
                table="order_lines",
                record_field="lines",
                parent_column="order_id",
                fields=(
                    ("line_no", "integer"),
                    ("sku", "text"),
                    ("quantity", "integer"),
                    ("unit_price", "real"),
                ),
                key_columns=("order_id", "line_no"),
            ),
        ),
    )
}
"""In the order `syncdeck verify` reports them."""

STAGGER_ORDER: list[str] = sorted(ENTITIES, key=lambda name: -ENTITIES[name].default_priority)
"""Orders first, prices last: the schedule's start offsets follow the priorities."""

BUILTIN_PRIORITIES: dict[str, int] = {
    name: ENTITIES[name].default_priority for name in STAGGER_ORDER
}
"""Default base priority per built-in service: orders first, prices last."""
