"""How values are stored, for the PostgreSQL store.

Timestamps are `timestamptz` (psycopg hands over aware datetimes both ways),
enums are stored as their values, booleans as booleans and lists as `jsonb`:
`encode` is the one place that says so. The columns, their decoding and the
SQL are shared with every backend: this module's `Dialect` is what differs.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import msgspec
import psycopg
from psycopg import errors
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from core.store.sql.columns import Decoders, Dialect

Conn = psycopg.Connection[TupleRow]


def encode(value: Any) -> Any:
    """A model value as PostgreSQL stores it (psycopg adapts datetimes and booleans)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return Jsonb(value)
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _event_data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


POSTGRES = Dialect(
    param="%s",
    decode=Decoders(timestamp=lambda value: value),
    event_data=_event_data,
    encode=encode,
    event_json=lambda data: Jsonb(data, dumps=_dumps),
    to_json=lambda value: Jsonb(msgspec.to_builtins(value)),
    from_json=lambda value, kind: msgspec.convert(value, kind),
    unique_violation=errors.UniqueViolation,
    row_lock=" FOR UPDATE",
    duration_s="EXTRACT(EPOCH FROM finished_at - started_at)::float8",
    wait_s="GREATEST(0, EXTRACT(EPOCH FROM runs.started_at - requests.requested_at))::float8",
)
