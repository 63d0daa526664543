"""The PostgreSQL backend: the store on a server that processes on several hosts share.

Imported only by the runtime that selects it (`[store] url`), so that `import
core` never loads psycopg. `store` is the `Store` itself; `connection` the pool,
its threads, session timeouts and the write lock; `changes` LISTEN/NOTIFY and
its polling fallback; `tx` the rules' primitives as SQL; `reads` the view,
history and event log; `rows` the mapping between rows and models; `schema`
the migrations.
"""

from core.store.postgres.connection import Timeouts
from core.store.postgres.store import PostgresStore

__all__ = ["PostgresStore", "Timeouts"]
