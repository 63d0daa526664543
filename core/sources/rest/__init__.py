"""The declarative REST source (`RestSource` in `core.sources.rest.source`; its mapping in
`core.sources.rest.mapping`). Importing the package imports nothing heavy; it only keeps
httpx from loading its own command line (click, rich, pygments: tens of milliseconds, and a
UI library in the headless core), which it does whenever click is installed, before any of
its modules imports httpx.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
