"""`syncdeck verify`: compare the replica with the source, lag told apart from drift.

Exit codes:
- 0 in sync (pending rows allowed: the next syncs bring them);
- 1 drift (rows below the replica's cursor missing or different) or a service never
  synced (no cursor yet: nothing of its replica can be trusted);
- 2 usage or configuration (`UsageError`, no store: raised to `console.cli.main`);
- 3 the source or the replica could not be read: one line naming why, no traceback.

Nothing is written to the replica or the store.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

import msgspec

from console.cli.parser import EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, UsageError
from console.cli.render import print_json
from console.format import duration
from core.config import Settings
from core.errors import SyncError
from core.replica.base import Drift
from core.runtime import require_store


async def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from core.runtime import entity_names, verify_replica

    known = entity_names(settings, real_only=True)
    if not known:
        raise UsageError("verify needs a real source (source.kind demo or http, or [sources])")
    names = [args.service] if args.service else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown service {unknown[0]!r}; known: {', '.join(known)}")
    require_store(settings)
    try:
        reports = await verify_replica(settings, names)
    except SyncError as exc:  # the source: unreachable, refusing, interrupted
        print(f"syncdeck: verify: cannot read the source: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (sqlite3.Error, OSError) as exc:
        print(f"syncdeck: verify: cannot read the replica: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print_json(
            [
                msgspec.structs.asdict(r) | {"clean": r.clean, "never_synced": never_synced(r)}
                for r in reports
            ]
        )
    else:
        for report in reports:
            print(render_drift(report))
    return EXIT_OK if all(r.clean and not never_synced(r) for r in reports) else EXIT_FAILED


def never_synced(r: Drift) -> bool:
    """No run has moved the replica's cursor: nothing of it can be trusted yet."""
    return r.cursor is None


def render_drift(r: Drift) -> str:
    verdict = "never synced" if never_synced(r) else "in sync" if r.clean else "DRIFT"
    age = "" if r.pending_age_s is None else f" (oldest changed {duration(r.pending_age_s)} ago)"
    lines = [
        f"{r.entity:<10} {verdict:<8} source {r.source_rows} rows, missing {r.missing}, "
        f"different {r.different}; pending {r.pending}{age}, pending deletion "
        f"{r.pending_deletion}; invalid in source {r.invalid_in_source}"
    ]
    for kind, keys in (r.examples or {}).items():
        if keys:
            lines.append(f"{'':<10} {kind.replace('_', ' ')}: {', '.join(keys)}")
    return "\n".join(lines)
