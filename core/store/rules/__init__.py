"""Every state transition of the store, decided once, for every backend.

A backend (SQLite, PostgreSQL) opens a write transaction, hands it to one of
these functions as a `core.store.tx.Tx`, and commits what the function did.
The functions read and write only through the `Tx` primitives, so no rule
knows a SQL dialect and no backend carries a copy of a rule: procrastinate's
split between its manager, which decides, and its connectors, which execute.
Two copies of "who may start a run" is how "one sync at a time" quietly stops
being true.

- `queue`: enqueue and merge, cancel, priority, and the end-or-requeue rule;
- `runs`: the lease (renew, take over, release), fencing, start and finish;
- `services`: service registration, defaults, schedule overrides, health, controls.

They are pure apart from the `Tx` they are handed: no clock (the backend passes
its `now`), no I/O of their own. A rule that raises leaves nothing behind, as
the backend rolls its transaction back. Each function's docstring names the
`core.errors` it raises, besides the backend's own `StoreError`.
"""
