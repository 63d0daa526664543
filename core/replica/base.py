"""The replica protocol: what a backend that holds the replica tables must guarantee.

The replica is the tables of ERP rows that other programs read (a public
contract), plus the sync engine's bookkeeping beside them: `sync_state` (the
cursor and the last full pass per entity) and `quarantine` (invalid records).
The engine and `verify` (`core.sync`) talk to it only through `Replica` and
`ReplicaTarget`; `core.runtime` picks the backend from the settings.

What a backend executes, and what it does not decide: records arrive already
validated, hashed and split into rows (`Batch`, built by `core.sync.codec`).
The rules that say when deletions may be reconciled (the completeness guard,
the keyless-record rule) run in the engine, which tells the target whether to
reconcile. A target keeps each promise below inside its own transactions.

Threading: `Replica.target` may be called from any thread; a target is then
used from the one thread that opened it (a worker thread, off the event loop),
and closed there.

Errors: a target raises `SchemaTooNew` when the replica was written by a newer
syncdeck; its database's own errors (for SQLite, `sqlite3.Error`: locked, disk
full) propagate unchanged, and a run that meets one fails with that error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from core.entities import EntitySpec
from core.errors import LeaseLost
from core.models import RunCounts


class Fence(msgspec.Struct, frozen=True):
    """Who may commit to the replica: the runner `holder` at lease `epoch`, until `deadline()`.

    A target opened with a fence commits a batch (or a full pass's end) only if, inside
    that same transaction, the store's lease still names `holder` at `epoch` (where the
    replica shares the store's database, as it does by default). It also commits only
    while `time.monotonic()` is before `deadline()`: the runner's own estimate of when its
    lease could expire (last renewal + TTL - a margin). So a runner frozen past its lease
    knows it the moment it wakes, before any row lands. Otherwise it raises `LeaseLost`
    and commits nothing."""

    holder: str
    epoch: int
    deadline: Callable[[], float]

    def check(self, read_lease: Callable[[], tuple[str, int] | None] | None) -> None:
        """Inside the batch's transaction, just before it commits. `read_lease` reads the
        store's (holder, epoch) in that transaction; None where the replica is in another
        database (then only the deadline can be checked). Raises LeaseLost."""
        if read_lease is not None:
            current = read_lease()
            if current != (self.holder, self.epoch):
                now = "no lease" if current is None else f"epoch {current[1]}, held by {current[0]}"
                raise LeaseLost(f"runner lease epoch {self.epoch} is stale ({now})")
        if time.monotonic() > self.deadline():
            raise LeaseLost(f"runner lease epoch {self.epoch} may have expired (renewal overdue)")


class Batch(msgspec.Struct):
    """One page of a listing, decoded: valid rows as parallel lists, and the rejects."""

    fetched: int = 0
    """Records the source listed on this page, valid or not."""
    keys: list[str] = msgspec.field(default_factory=list)
    values: list[tuple[Any, ...]] = msgspec.field(default_factory=list)
    """The replica columns of each valid row, in `EntitySpec.columns` order (key first)."""
    digests: list[bytes] = msgspec.field(default_factory=list)
    """Per row, the fingerprint of its values and children (`core.sync.codec.row_digest`)."""
    children: list[list[tuple[Any, ...]]] = msgspec.field(default_factory=list)
    """Per row, its child rows (parent key first, then `ChildTable.columns`); empty lists
    for entities without children."""
    top_cursor: str | None = None
    """The highest cursor among the valid rows: where the entity's cursor moves to."""
    rejected: list[tuple[str | None, str, str]] = msgspec.field(default_factory=list)
    """(key if any, raw payload as JSON, reason) per invalid record."""
    horizon: str | None = None
    """When set, the entity's horizon after this batch ("" clears it): where the next
    incremental listing starts instead of the cursor (`SyncState.horizon`)."""
    keys_seen: list[str] = msgspec.field(default_factory=list)
    """When asked for: every key the source listed, valid or not (a malformed record
    still exists in the source, so reconciliation must not delete its row)."""


class SyncState(msgspec.Struct):
    """An entity's bookkeeping: where incremental runs resume, and when a full one is due."""

    cursor: str | None
    last_full_at: float | None
    """Epoch seconds of the last completed full pass."""
    mapping_version: int
    """The entity's `mapping_version` when its last full pass completed (0: never)."""
    needs_full: str | None
    """Why the next auto run must be full (a full pass began and did not complete)."""
    horizon: str | None = None
    """Where the next incremental listing starts instead of the cursor, when the source
    said so (PostgreSQL's xmin horizon); None otherwise."""


class BatchResult(msgspec.Struct):
    counts: RunCounts
    cursor: str | None


class Drift(msgspec.Struct):
    """How a replica table differs from its source, by key, lag told apart from drift.

    The replica's cursor says what its syncs cover: source rows whose cursor is below it.
    A difference there is drift (the replica is wrong). A source row at or after the
    cursor that the replica lacks or holds differently is *pending*: the next incremental
    sync reads from the cursor on and brings it. A live replica row the source no longer
    lists is *pending deletion*: only a full sync reconciles deletions."""

    entity: str
    source_rows: int = 0
    invalid_in_source: int = 0
    cursor: str | None = None
    """The replica's cursor when compared (None: never synced, so everything is pending)."""
    missing: int = 0
    """Drift: listed below the cursor, and absent from the replica (or soft-deleted)."""
    different: int = 0
    """Drift: listed below the cursor, and held with other values."""
    pending: int = 0
    """Listed at or after the cursor and absent or different: the next sync brings them."""
    pending_oldest: str | None = None
    """The cursor value (ISO-8601 UTC) of the oldest pending row."""
    pending_age_s: float | None = None
    """How long ago the oldest pending row changed in the source (set by the caller)."""
    pending_deletion: int = 0
    """Live in the replica, no longer listed by the source: until the next full sync."""
    examples: dict[str, list[str]] | None = None

    @property
    def clean(self) -> bool:
        return not (self.missing or self.different)


class ReplicaTarget(Protocol):
    """One entity's replica tables, opened for one run (a sync or a `verify`)."""

    read_ahead: bool
    """Whether the engine should decode the next page on another thread while this target
    writes one: worth it when a write mostly waits on a server (the GIL is free meanwhile);
    a loss when the write itself runs Python and C in this process (SQLite), as the two
    threads then take turns on the GIL."""

    def state(self) -> SyncState:
        """The entity's sync state; `SyncState(None, None, 0, None)` before its first batch.

        Raises: the backend's database errors."""
        ...

    def live_rows(self) -> int:
        """How many rows the replica holds that are not soft-deleted.

        Raises: the backend's database errors."""
        ...

    def mark_needs_full(self, reason: str) -> None:
        """Make the next auto run a full one, citing `reason`, in one commit.

        Raises: the backend's database errors."""
        ...

    def begin_full(self) -> bool:
        """Start a full pass: commit `needs_full` (so a crash from here on makes the next auto
        run full again) and start recording the keys the pass sees.

        Returns whether the batches of this pass must carry `keys_seen`: False when the
        table holds no row, so there is nothing to reconcile and nothing to record.
        Raises: the backend's database errors (then no pass began)."""
        ...

    def write(self, batch: Batch, run_id: int) -> BatchResult:
        """Write one batch atomically.

        That is its rows (inserted, updated, or revived when soft-deleted, and unchanged
        ones left alone, by digest) and each row's children, replacing its old ones.
        Also its rejects into quarantine under `run_id`, the keys it saw (in a full
        pass), and the cursor moved up to `batch.top_cursor` (never down). A crash at
        any instant leaves all of it committed or none of it.

        A key listed twice in one batch is written once, with its later values.
        Returns the counts (fetched, inserted, updated, unchanged, rejected) and the cursor.
        Raises: `LeaseLost` when the target's fence no longer holds; the backend's database
        errors (the batch is then rolled back entirely)."""
        ...

    def missed(self, limit: int) -> list[str]:
        """Up to `limit` keys of live rows the full pass begun by `begin_full` has not seen
        and that are not delete candidates yet (see `finish_full`'s `twice`).

        Raises: the backend's database errors."""
        ...

    def finish_full(
        self, mapping_version: int, reconcile: bool, twice: bool = False, gone: Sequence[str] = ()
    ) -> int:
        """End the full pass begun by `begin_full`, in one commit: when `reconcile`, soft-delete
        (set `deleted_at`) every live row whose key the pass did not see; then record
        the pass as complete (`last_full_at` now, `mapping_version`, `needs_full` cleared).

        With `twice` (a listing that may skip a live row), an unseen row is only soft-deleted
        when the previous complete full pass missed it too (it is in `delete_candidates`)
        or its key is in `gone` (its source said so); the other unseen rows become the
        entity's delete candidates, replacing the previous ones.

        The engine decides `reconcile` (`core.sync.writer`): False when the pass may be
        incomplete (the candidates are then left as they were). Returns how many rows were
        soft-deleted.
        Raises: `LeaseLost` (fence), the backend's database errors (then nothing was deleted
        or recorded)."""
        ...

    def begin_verify(self) -> None:
        """Start comparing the replica with a full listing of the source (no writes to the
        replica; the listed keys and digests may be kept in temporary storage).

        Raises: the backend's database errors."""
        ...

    def verify(self, batch: Batch) -> None:
        """Add one decoded page of the listing to the comparison.

        Raises: the backend's database errors."""
        ...

    def finish_verify(self, examples: int = 5) -> Drift:
        """Against the entity's cursor: the listed keys missing from the live rows or whose
        digest differs (drift below the cursor, pending at or after it), and the live rows
        not listed (pending deletion): counts and up to `examples` keys of each.
        `source_rows`, `invalid_in_source` and `pending_age_s` are left for the caller,
        which saw the listing.

        Raises: the backend's database errors."""
        ...

    def close(self) -> None:
        """Release the connection. A write that did not commit is rolled back."""
        ...


class Replica(Protocol):
    """The replica database, which opens one `ReplicaTarget` per entity and run.

    It manages its own schema (generated from the entity list by `core.replica.schema`)
    and creates it, if missing, when the first target is opened."""

    def target(self, spec: EntitySpec, fence: Fence | None = None) -> ReplicaTarget:
        """A target for `spec`'s tables, to be used from the calling thread only; with a
        `fence`, its commits are fenced by the runner's lease (see `Fence`).

        Raises: `SchemaTooNew` if the replica's schema is newer than this syncdeck's;
        the backend's database errors."""
        ...

    def evolve(self, specs: list[EntitySpec]) -> list[str]:
        """Bring configured entities' existing tables in line with their mappings
        (`core.replica.evolve`): add the columns a mapping added; return one line per
        column removed, renamed or retyped, and then change nothing at all.

        Raises: the backend's database errors."""
        ...

    def rebuild(self, spec: EntitySpec) -> None:
        """Drop `spec`'s tables and its bookkeeping, so that they are made anew and its next
        run is a full one (its quarantined records stay).

        Raises: the backend's database errors."""
        ...
