"""The demo ERP's fault knobs (`DemoFaults`), applied to the pages a source serves.

So operators and tests can see every failure path without a real ERP:

- `latency_s`: every page waits that long first;
- `hang_after_pages`: from that page on, a page never answers (only a timeout or
  a cancel ends it; in a worker thread, its `stop` event, then SourceInterrupted);
- `error_rate`: that share of pages raises SourceUnavailable (a simulated 503),
  drawn from the caller's seeded random generator;
- `truncate_full`: a full listing (no `since`) ends after that share of the entity;
- `malformed_rate`: that share of records is broken, always the same records for a
  seed, each in one deterministic way (no key, a non-number, an absurd number).

Malformed records are the sync's to quarantine; nothing here raises for them.
"""

from __future__ import annotations

import asyncio
import random
import threading
import zlib
from collections.abc import Callable
from typing import Any

from core.config import DemoFaults
from core.demo.generation import KEYS
from core.errors import SourceInterrupted, SourceUnavailable

_NUMERIC = {"customers": "credit_limit", "products": "weight_kg", "prices": "amount"}
"""The number field `corrupt` breaks (orders: `total`)."""


async def before_page(faults: DemoFaults, rng: random.Random, pages: int) -> None:
    """The latency, hang and failure due before page number `pages` (0 for the first)."""
    if faults.latency_s:
        await asyncio.sleep(faults.latency_s)
    if faults.hang_after_pages is not None and pages >= faults.hang_after_pages:
        await asyncio.sleep(365 * 24 * 3600)  # a hung ERP: only a timeout or cancel ends it
    maybe_fail(faults, rng)


def before_page_blocking(
    faults: DemoFaults, rng: random.Random, pages: int, stop: threading.Event
) -> None:
    """`before_page` for a worker thread: the waits end early when `stop` is set."""
    if faults.latency_s and stop.wait(faults.latency_s):
        raise SourceInterrupted("reading the demo ERP was stopped")
    if faults.hang_after_pages is not None and pages >= faults.hang_after_pages:
        stop.wait()  # a hung ERP: only a timeout or cancel ends it
        raise SourceInterrupted("reading the demo ERP was stopped")
    maybe_fail(faults, rng)


def maybe_fail(faults: DemoFaults, rng: random.Random) -> None:
    if faults.error_rate and rng.random() < faults.error_rate:
        raise SourceUnavailable("demo ERP: simulated 503 Service Unavailable")


def full_cap(faults: DemoFaults, since: str | None, count: Callable[[], int]) -> int | None:
    """How many records a truncated full listing ends after; None if it is not truncated."""
    if since is None and faults.truncate_full is not None:
        return int(faults.truncate_full * count())
    return None


def spoil(
    records: list[dict[str, Any]], entity: str, seed: int, rate: float
) -> list[dict[str, Any]]:
    """`records` with the malformed ones (see `is_malformed`) broken by `corrupt`."""
    return [corrupt(r, entity, seed) if is_malformed(r, entity, seed, rate) else r for r in records]


def corrupt(record: dict[str, Any], entity: str, seed: int) -> dict[str, Any]:
    """A deterministic kind of breakage for a record chosen as malformed."""
    key = str(record.get(KEYS[entity]))
    kind = zlib.crc32(f"{seed}:{key}".encode()) % 3
    broken = dict(record)
    if kind == 0:
        broken.pop(KEYS[entity], None)
    elif kind == 1:
        broken[_NUMERIC.get(entity, "total")] = "not-a-number"
    else:
        broken[_NUMERIC.get(entity, "total")] = -1e15
    return broken


def is_malformed(record: dict[str, Any], entity: str, seed: int, rate: float) -> bool:
    if rate <= 0:
        return False
    key = str(record.get(KEYS[entity]))
    return (zlib.crc32(f"m:{seed}:{key}".encode()) % 10_000) / 10_000 < rate
