"""Every error the core raises to its callers, in one low module.

Errors sit below everything else so that a rules module, a source or a store
can raise and catch them without importing the layer that defines the rest of
a concept (a source needs `TransientError`, not the service protocol). Callers
branch on these classes, never on messages:

- `StoreError` and its children: the store refused or could not do something
  (`StoreUnwritable`: for now; `StoreBroken`: for good, stop using it);
- `SyncError` and its children: a run failed (`TransientError`: worth a retry);
- `SyncCancelled`: a run noticed that it was cancelled.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of the errors a store reports to its callers."""


class StoreUnwritable(StoreError):
    """The store refuses writes for now (disk full, I/O error, read-only file): it may pass,
    so a runner keeps trying to record with backoff and starts nothing meanwhile."""


class StoreBroken(StoreError):
    """The store cannot be trusted any more: this process must stop using it."""


class StoreCorrupt(StoreBroken):
    """The database is damaged or is not a syncdeck store; it is left exactly as it is."""

    @classmethod
    def of(cls, path: object, reason: object) -> StoreCorrupt:
        """The one message for it, whichever of the file's users (store, replica) met it."""
        return cls(
            f"{path} is damaged or is not a syncdeck store ({reason}); syncdeck left it "
            "unchanged: move it aside or restore a backup, then start again"
        )


class StoreReplaced(StoreBroken):
    """The database file was deleted or replaced under a running process. Carrying on
    against the old file while another process opens the new one would make two runners."""


class SchemaTooNew(StoreError):
    """The database was written by a newer syncdeck than this one."""


class NotFound(StoreError):
    """No request, run or service with that name or id."""


class UnknownService(NotFound):
    """The named service is not registered."""


class InvalidTransition(StoreError):
    """The request is not in a state that allows this (for example already ended)."""


class LeaseLost(StoreError):
    """The caller's fencing epoch is no longer the lease's: another runner took over."""


class SyncError(Exception):
    """A run failed; not worth retrying unless it is a TransientError."""


class TransientError(SyncError):
    """The source or network failed in a way that may pass: the run is retried with backoff."""


class SyncCancelled(Exception):
    """Raised by `RunContext.check_cancelled()` when an operator cancelled the run."""


class SourceError(SyncError):
    """The source refused the request for good (bad token, unknown entity): not retried."""


class SourceUnavailable(TransientError):
    """The source failed in a way that may pass (timeout, connection, 5xx): retried."""


class SourceInterrupted(SyncError):
    """A blocking read was stopped because the run was cancelled or timed out."""


class IncompleteListing(SyncError):
    """A full pass returned too few records to trust it for deletions."""
