"""Which services installed packages add, through entry points, known without loading
them: the configuration checks `[services.NAME]` against them.

A third-party package adds a service by declaring an entry point in the
`syncdeck.services` group, named as its service, whose object is a callable taking
the `Settings` and returning a `SyncService` (`core.runtime.plugins` loads them).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

ENTRY_POINT_GROUP = "syncdeck.services"


def plugin_names() -> set[str]:
    """The names of the services installed plugins declare (their entry points' names),
    without loading them."""
    if not may_declare_entry_points(ENTRY_POINT_GROUP):
        return set()
    from importlib.metadata import entry_points

    return {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}


def may_declare_entry_points(group: str) -> bool:
    """False only when no installed distribution can declare an entry point in `group`.

    Importing `importlib.metadata` costs every `syncdeck` start more than reading the
    entry_points.txt files it would read, to find, nearly always, no plugin at all.
    Whatever this cannot look into (a zip file on the path, a finder with distributions
    of its own) counts as a yes, and then `importlib.metadata` decides."""
    if any(
        hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder
        for finder in sys.meta_path
    ):
        return True
    needle = f"[{group}]".encode()
    for entry in sys.path:
        directory = entry or "."
        if os.path.isfile(directory):
            return True
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(directory, name, "entry_points.txt"), "rb") as file:
                    if needle in file.read():
                        return True
            except OSError:
                continue
    return False
