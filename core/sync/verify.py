"""`syncdeck verify`: is my replica right? Compare it with the source, key by key.

The source's full listing is decoded by the same codec as a sync's, so a row is
hashed the same way on both sides. The replica target does the comparison,
against the entity's cursor, so lag (rows changed since the last sync, rows
deleted since the last full one) is told apart from drift (see `Drift`).
Source errors (`SourceError`, `SourceUnavailable`) and the replica's database
errors propagate to the caller; nothing is written to the replica.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import msgspec

from core.entities import EntitySpec
from core.replica.base import Drift, Replica, ReplicaTarget
from core.sources.base import Page, Source
from core.sync.codec import RecordCodec, codec_for
from core.sync.kinds import KindCodec


async def verify_entity(
    spec: EntitySpec, source: Source, replica: Replica, page_size: int = 5000
) -> Drift:
    """Missing, extra and different rows between the source's full listing and the replica.

    The target lives on one thread of its own, like the sync engine's."""
    executor = ThreadPoolExecutor(1, thread_name_prefix=f"verify-{spec.name}")
    loop = asyncio.get_running_loop()

    def open_target() -> tuple[ReplicaTarget, RecordCodec | KindCodec]:
        target = replica.target(spec)
        try:
            target.begin_verify()
            return target, codec_for(spec)
        except BaseException:
            target.close()
            raise

    def add(page: Page) -> tuple[int, int]:
        batch = codec.decode_page(page)
        target.verify(codec.with_cursor_texts(batch) if isinstance(codec, KindCodec) else batch)
        return len(batch.keys), len(batch.rejected)

    try:
        target, codec = await loop.run_in_executor(executor, open_target)
        try:
            listed = invalid = 0
            token: str | None = None
            while True:
                page = await source.page(spec.name, None, token, page_size)
                valid, rejected = await loop.run_in_executor(executor, add, page)
                listed, invalid = listed + valid, invalid + rejected
                if page.next is None:
                    break
                token = page.next
            drift = await loop.run_in_executor(executor, target.finish_verify)
        finally:
            executor.submit(target.close)
        return msgspec.structs.replace(
            drift,
            source_rows=listed,
            invalid_in_source=invalid,
            pending_age_s=_age_s(drift.pending_oldest),
        )
    finally:
        executor.shutdown(wait=False)


def _age_s(cursor: str | None) -> float | None:
    """Seconds since `cursor` (an ISO-8601 UTC time), None if none or not a time."""
    if cursor is None:
        return None
    try:
        return max(0.0, time.time() - datetime.fromisoformat(cursor).timestamp())
    except ValueError:
        return None
