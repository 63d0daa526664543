"""Small helpers the benchmark scripts share (they run as scripts: this file sits beside
them on sys.path)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def fs_type(path: Path) -> str:
    """The filesystem type of the mount holding `path` (Linux), for the report header."""
    best, kind = "", "?"
    with contextlib.suppress(OSError):
        real = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and real.startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind
