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

from core.store.columns import LEASE_COLS, REQUEST_COLS, RUN_COLS, SERVICE_COLS, Decoders

__all__ = ["LEASE_COLS", "REQUEST_COLS", "RUN_COLS", "SERVICE_COLS", "Conn", "encode"]

Conn = psycopg.Connection[TupleRow]

_DECODE = Decoders(timestamp=lambda value: value)
request = _DECODE.request
run = _DECODE.run
service = _DECODE.service
lease = _DECODE.lease


def encode(value: Any) -> Any:
    """A model value as PostgreSQL stores it (psycopg adapts datetimes and booleans)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return Jsonb(value)
    return value
