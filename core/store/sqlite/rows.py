"""Rows to models and models to rows, for the SQLite store.

Timestamps are stored as epoch seconds (REAL), enums as their values, booleans
as integers and lists as JSON text: `encode` is the one place that says so.
The columns and their decoding are shared with every backend (`core.store.columns`).
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Any

from core.models import to_datetime
from core.store.columns import LEASE_COLS, REQUEST_COLS, RUN_COLS, SERVICE_COLS, Decoders, Dialect

__all__ = ["LEASE_COLS", "REQUEST_COLS", "RUN_COLS", "SERVICE_COLS", "SQLITE", "encode"]


def _event_data(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {"value": data}


SQLITE = Dialect(
    param="?",
    decode=Decoders(timestamp=to_datetime),
    event_data=_event_data,
    duration_s="finished_at - started_at",
    wait_s="MAX(0, runs.started_at - requests.requested_at)",
)
request = SQLITE.decode.request
run = SQLITE.decode.run
service = SQLITE.decode.service
lease = SQLITE.decode.lease


def encode(value: Any) -> Any:
    """A model value as SQLite stores it."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value)
    return value
