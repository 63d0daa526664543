"""How values are stored, for the SQLite store.

Timestamps are stored as epoch seconds (REAL), enums as their values, booleans
as integers and lists as JSON text: `encode` is the one place that says so.
The columns, their decoding and the SQL are shared with every backend:
this module's `Dialect` is what differs.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from enum import Enum
from typing import Any

import msgspec

from core.models import to_datetime
from core.store.sql.columns import Decoders, Dialect


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


def _event_data(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {"value": data}


SQLITE = Dialect(
    param="?",
    decode=Decoders(timestamp=to_datetime),
    event_data=_event_data,
    encode=encode,
    event_json=lambda data: json.dumps(data, default=str),
    to_json=lambda value: msgspec.json.encode(value).decode(),
    from_json=lambda text, kind: msgspec.json.decode(text, type=kind),
    unique_violation=sqlite3.IntegrityError,
    row_lock="",
    duration_s="finished_at - started_at",
    wait_s="MAX(0, runs.started_at - requests.requested_at)",
)
