"""A run's side of the replica, on the run's worker thread: decode each page, count it,
write it with its cursor in one fenced transaction, and end a full pass.

The cursor a page moves is the highest among its valid rows, unless:
- a full pass from a `KeyOrderedSource` caps it at the source's `high_water`, read
  before the pass (a row it read early may change later);
- the listing said on its first page that it is not in cursor order (`CursorHold`):
  then no page moves it, and `release_cursor` moves it once the listing completes, to
  the highest cursor read, capped at the hold's `cap`, and sets the entity's horizon.
  A listing cut short (a crash, a failure) has moved nothing, so the next run reads it
  again whole.

The end of a full pass reconciles deletions only when it may (`finish_full`): never when
the listing looks truncated (`IncompleteListing`, nothing deleted), never when a record
came without its key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.entities import EntitySpec
from core.errors import IncompleteListing
from core.models import RunCounts
from core.replica.base import Batch, BatchResult, ReplicaTarget
from core.sources.base import CursorHold, Page
from core.sync.codec import codec_for
from core.sync.kinds import KindCodec


def check_listing_complete(fetched: int, live_before: int, threshold: float) -> None:
    """Raises IncompleteListing when a full pass listed fewer than `threshold` of the rows
    the replica held live before it: a truncated listing must delete nothing."""
    if live_before and fetched < threshold * live_before:
        raise IncompleteListing(
            f"the full listing returned {fetched} records, fewer than "
            f"{threshold:.0%} of the {live_before} live rows in the replica; "
            "deleted nothing (is the source truncating its listing?)"
        )


class RunWriter:
    """A run's side of the replica, on the run's worker thread: decode, count, write."""

    def __init__(
        self,
        target: ReplicaTarget,
        spec: EntitySpec,
        on_commit: Callable[[RunCounts], None] = lambda counts: None,
        before_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.target = target
        self._on_commit = on_commit
        self._before_commit = before_commit
        self._batches = 0
        self._codec = codec_for(spec)  # built here: building the validators is slow
        self._full = False
        self._want_seen = False
        self._cap: tuple[Any] | None = None  # (the highest cursor this pass may leave,)
        self._hold: CursorHold | None = None
        self._held_top: str | None = None  # the highest cursor a held listing has read
        self._first = True  # the next page is a listing's first
        self.keyless_rejected = 0
        """Invalid records without a key seen in this full pass."""

    def begin_full(self) -> None:
        self._full = True
        self.keyless_rejected = 0
        self._want_seen = self.target.begin_full()

    def write(self, page: Page | list[dict[str, Any]], run_id: int) -> BatchResult:
        """Validate, classify and write one page with its cursor, atomically."""
        return self.commit(self.prepare(page), run_id)

    def cap_cursor(self, high_water: Any) -> None:
        """This full pass leaves the cursor at most at `high_water` (raw, from the source);
        with none (or one that cannot be read) it leaves the cursor where it was."""
        assert isinstance(self._codec, KindCodec)  # a configured entity's source
        self._cap = (self._codec.cursor_value(high_water),)

    def prepare(self, page: Page | list[dict[str, Any]]) -> Batch:
        """Decode a page (no I/O): may run on another thread than `commit`, one page ahead.
        Pages come in listing order, each listing from its first."""
        if self._first and isinstance(page, Page):
            self._hold = page.hold
        self._first = False
        batch = self._codec.decode_page(page, want_seen=self._want_seen)
        if self._full:
            self.keyless_rejected += sum(1 for key, _, _ in batch.rejected if key is None)
        if self._cap is not None and batch.top_cursor is not None:
            cap = self._cap[0]
            batch.top_cursor = None if cap is None else min(batch.top_cursor, cap)
        if self._hold is not None:
            top, batch.top_cursor = batch.top_cursor, None
            if top is not None and (self._held_top is None or top > self._held_top):
                self._held_top = top
        return batch

    def commit(self, batch: Batch, run_id: int) -> BatchResult:
        """Write one decoded page with its cursor in one transaction, fenced by the target."""
        self._batches += 1
        if self._before_commit is not None:
            self._before_commit(self._batches)
        result = self.target.write(batch, run_id)
        self._on_commit(result.counts)
        return result

    @property
    def held(self) -> bool:
        """Whether this listing's cursor waits for `release_cursor`."""
        return self._hold is not None

    def release_cursor(self, run_id: int, horizon_before: str | None) -> None:
        """The listing completed: move the cursor held since its first page, and set the
        entity's horizon (the hold's, or none: `horizon_before` is cleared if set), in one
        fenced transaction. Then the next listing starts afresh."""
        hold, top = self._hold, self._held_top
        self._hold, self._held_top, self._first = None, None, True
        if hold is None:
            if horizon_before is not None:  # an xmin entity became a cursor one
                self.target.write(Batch(horizon=""), run_id)
            return
        if hold.cap is not None and top is not None:
            assert isinstance(self._codec, KindCodec)  # a configured entity's source
            cap = self._codec.cursor_value(hold.cap)
            top = None if cap is None else min(top, cap)
        self.target.write(Batch(top_cursor=top, horizon=hold.horizon or ""), run_id)

    def missed(self, limit: int) -> list[tuple[str, tuple[str, ...]]]:
        """Up to `limit` live rows this full pass has not listed and that are not delete
        candidates yet, as (sync_key, key values as text); none when the pass may not
        reconcile."""
        if self.keyless_rejected:
            return []
        assert isinstance(self._codec, KindCodec)  # only a configured entity's source shifts
        return [(key, self._codec.key_parts(key)) for key in self.target.missed(limit)]

    def finish_full(
        self,
        mapping_version: int,
        fetched: int,
        live_before: int,
        threshold: float,
        twice: bool = False,
        gone: list[str] | None = None,
    ) -> int:
        """Reconcile deletions if the pass may (see the module's docstring), with
        `ReplicaTarget.finish_full`'s `twice` rule for a listing that may skip a row, `gone`
        being sync keys from `missed` that the source said are gone; returns how many.
        Raises IncompleteListing (the pass stays unfinished, `needs_full` set)."""
        check_listing_complete(fetched, live_before, threshold)
        # A record served without its key could stand for any row: deleting "unseen"
        # rows would delete it. Such a pass reconciles nothing (its rows still landed).
        deleted = self.target.finish_full(
            mapping_version, not self.keyless_rejected, twice=twice, gone=gone or ()
        )
        self._full = self._want_seen = False
        self._cap = None
        return deleted
