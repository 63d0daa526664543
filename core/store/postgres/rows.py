"""Rows to models and models to rows, for the PostgreSQL store.

Timestamps are `timestamptz` (psycopg hands over aware datetimes both ways),
enums are stored as their values, booleans as booleans and lists as `jsonb`:
`encode` is the one place that says so. The columns and their decoding are
shared with every backend (`core.store.columns`).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from core.store.columns import LEASE_COLS, REQUEST_COLS, RUN_COLS, SERVICE_COLS, Decoders, Dialect

__all__ = ["LEASE_COLS", "POSTGRES", "REQUEST_COLS", "RUN_COLS", "SERVICE_COLS", "Conn", "encode"]

Conn = psycopg.Connection[TupleRow]


def _event_data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


POSTGRES = Dialect(
    param="%s",
    decode=Decoders(timestamp=lambda value: value),
    event_data=_event_data,
    duration_s="EXTRACT(EPOCH FROM finished_at - started_at)::float8",
    wait_s="GREATEST(0, EXTRACT(EPOCH FROM runs.started_at - requests.requested_at))::float8",
)
request = POSTGRES.decode.request
run = POSTGRES.decode.run
service = POSTGRES.decode.service
lease = POSTGRES.decode.lease


def encode(value: Any) -> Any:
    """A model value as PostgreSQL stores it (psycopg adapts datetimes and booleans)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return Jsonb(value)
    return value
