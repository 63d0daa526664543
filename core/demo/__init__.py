"""The embedded demo ERP: a deterministic, living ERP in its own SQLite file.

It is generated from a seed (same seed, same data), persists in the data
directory between runs, and changes over time like a live ERP. Its fault knobs
let operators and tests see every failure path without a real ERP. The HTTP
server (`core.demo.server`) is not re-exported here: only `demo-erp serve`
needs it, and the sync engine's source should not pay for its imports.
"""

from core.demo.erp import DemoERP, open_demo_erp
from core.demo.generation import DEMO_FILENAME
from core.demo.source import DemoSource

__all__ = ["DEMO_FILENAME", "DemoERP", "DemoSource", "open_demo_erp"]
