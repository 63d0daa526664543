"""REST source benchmark (issue #20): a full sync of 100,000 records from json-server
through `link_header` pages of 1,000, beside a plain client that pages through the same
listing with httpx and does nothing else; the incremental after 0.1% of the records
changed; both processes' peak RSS.

Run from the repository root (node, and json-server 0.17.4 in tests/jsonserver: `make
tools` installs it):

    .venv/bin/python bench/restsource.py                   # 100,000 records
    .venv/bin/python bench/restsource.py --quick           # 10,000 records
    .venv/bin/python bench/restsource.py --records N

In a fresh temporary directory (removed at the end):

0. Setup, in no figure: N customers are generated with a seeded RNG (`bench/restshop.py`:
   nested contact, decimal credit, 0-2 lines in an array, fixed-width UTC updated_at) and
   written as json-server's db.json; json-server 0.17.4 is started on it
   (`bench/jsonserver.py`, without --watch) and warmed up with a few pages of the listing
   (V8 compiles its hot paths on the first requests). Two data directories get their
   syncdeck.toml (`[sources.shop] kind = "rest"`, `[entities.customers]` with its
   `customer_lines` child, `[sync] batch_size = 1000`, `[entities] builtin = false`) and
   their replica file prepared as the daemon has it before a first run (`bench/datadir.py`).

1. Plain client, in a process of its own (`bench/restsync.py`): an httpx.Client GETs
   `customers?_sort=id&_order=asc&_page=1&_limit=1000` and follows `Link: rel="next"` until
   there is none, each body parsed with json.loads and its records counted, nothing else.
   Figure: records / wall time.

2. Full sync, in a process of its own (`bench/restsync.py`), on syncdeck's real path: the
   settings loaded from syncdeck.toml, the services built by `core.runtime.load_services`
   as the daemon builds them, `resolve_mode(auto)` must pick full, and `run()` is timed:
   the RestSource (created per run, as a daemon's run creates it: this first run imports
   it and httpx inside the timing) GETs the same pages with the same parameters, parses
   them exactly (numbers with a fraction as Decimal), maps the rows and their lines, and
   the engine writes each page with its lines and its cursor in one SQLite transaction
   while the next page is fetched. Figure: records / wall time of `run()`.

   Both run twice, interleaved (plain, full, plain, full: each full sync into an empty
   replica of its own), and each side's faster run is its figure, so that a burst of load
   from elsewhere does not decide the verdict; every run is printed. json-server filters
   and sorts the whole collection on every request, so most of either time is the
   server's: node's CPU time over each run (from /proc) is printed beside it. Target: the
   full sync's time <= 1.5x the plain client's (the server is the bottleneck; syncdeck must
   not add much to it), judged at 100,000 records or more; on fewer, the server answers a
   page so quickly that the figure is syncdeck's own CPU time against the plain client's,
   and it is shown for reference.

3. Incremental: in the second full sync's process, 0.1% of the records (a seeded sample)
   get a new name and an updated_at an hour after the latest through json-server's API
   (100 PATCHes at 100,000 records, untimed; each makes json-server write db.json again,
   and the script waits until the file is still), `resolve_mode(auto)` must pick
   incremental, `run()` is timed: `updated_at_gte` = the stored cursor, inclusive, so the
   changed records and the one at the old cursor come back (json-server still filters
   every record). No fixed target in the issue: it is shown as a share of the full sync
   and of the plain client's listing.

4. Peak RSS (VmHWM) of the sync processes, and of the plain client's, for information.

Afterwards the replica of the second full sync and the incremental is read with sqlite3
(`bench/restcheck.py`) and compared with the generated records, the change applied: N live
customers, every column of every customer and every line as generated, the changed ones
with the new updated_at and name; and each full sync must have inserted N. So a fast but
wrong sync cannot pass. The exit status is 0 when every target is met, 1 when one is
missed or a part failed (json-server missing included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import cpu_seconds, fs_type  # noqa: E402
from datadir import prepare_replica, replica_path, settings_of  # noqa: E402
from jsonserver import JsonServer, missing_reason, running_json_server  # noqa: E402
from report import TableRow, print_table, verdict  # noqa: E402
from restcheck import check  # noqa: E402
from restshop import (  # noqa: E402
    CHANGED_SHARE,
    ENTITY,
    PAGE,
    changed_ids,
    customers,
    db_text,
    entity_spec,
    expected_lines,
    expected_rows,
    write_config,
)

TARGET_RATIO = 1.5
"""The full sync's wall time against the plain client's, at most."""
TARGET_RECORDS = 100_000
"""The ratio's target holds at this size (see the docstring)."""
WARM_UP_PAGES = 5
DEFAULT_RECORDS = 100_000
QUICK_RECORDS = 10_000


def child(kind: str, server: JsonServer, data_dir: Path, records: int) -> dict[str, Any]:
    """One measuring process: this script again, with `--child`; its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--url", server.url]
    cmd += ["--server-pid", str(server.pid), "--server-dir", str(server.directory)]
    cmd += ["--dir", str(data_dir), "--records", str(records)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} process failed:\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def warm_up(server: JsonServer) -> list[float]:
    """The listing's first pages, as both sides ask for them; each one's seconds."""
    times = []
    for page in range(1, WARM_UP_PAGES + 1):
        t0 = time.perf_counter()
        url = f"{server.url}{ENTITY}?_sort=id&_order=asc&_page={page}&_limit={PAGE}"
        with urllib.request.urlopen(url, timeout=60) as response:
            json.loads(response.read())
        times.append(time.perf_counter() - t0)
    return times


def plain_run(server: JsonServer, base: Path, records: int, which: str) -> dict[str, Any]:
    plain = child("plain", server, base / "plain", records)
    assert plain["records"] == records, (plain["records"], records)
    print(
        f"  plain client, {which} (httpx.Client + json.loads, {plain['pages']} pages): "
        f"{records / plain['wall_s']:,.0f} records/s ({plain['wall_s']:.2f} s wall, "
        f"{plain['cpu_s']:.2f} s CPU; json-server {plain['server_cpu_s']:.2f} s CPU); "
        f"peak RSS {plain['rss_peak_mb']:.0f} MB",
        flush=True,
    )
    return plain


def full_run(server: JsonServer, sync_dir: Path, records: int, kind: str) -> dict[str, Any]:
    sync = child(kind, server, sync_dir, records)
    fc = sync["full_counts"]
    assert fc["fetched"] == records, (fc, records)
    which = "second" if kind == "sync" else "first"
    print(
        f"  full sync, {which} (EntitySyncService.run, batch {sync['batch_size']}): "
        f"{records / sync['full_s']:,.0f} records/s ({sync['full_s']:.2f} s wall, "
        f"{sync['full_cpu_s']:.2f} s CPU in all threads; json-server "
        f"{sync['full_server_cpu_s']:.2f} s CPU; fetched {fc['fetched']:,}, inserted "
        f"{fc['inserted']:,}, rejected {fc['rejected']}); peak RSS "
        f"{sync['rss_after_full_mb']:.0f} MB",
        flush=True,
    )
    return sync


def measure(base: Path, records: int) -> list[TableRow]:
    t0 = time.perf_counter()
    generated = customers(records)
    text = db_text(generated)
    print(
        f"  setup: {records:,} records generated ({len(text) / 1e6:.1f} MB of JSON) in "
        f"{time.perf_counter() - t0:.1f} s (excluded)",
        flush=True,
    )
    t0 = time.perf_counter()
    probe = f"{ENTITY}?_page=1&_limit=1"
    with running_json_server(base / "server", text, probe) as server:
        warm = warm_up(server)
        print(
            f"  json-server 0.17.4 up in {time.perf_counter() - t0:.1f} s (excluded), pid "
            f"{server.pid}; warm-up pages: {', '.join(f'{s * 1000:.0f}' for s in warm)} ms",
            flush=True,
        )
        del text
        for name in ("full", "sync"):
            write_config(server.url, base / name)
            settings = settings_of(base / name)
            prepare_replica(settings, entity_spec(settings))
        return figures(server, base, records, generated)


def figures(server: JsonServer, base: Path, records: int, generated: list[Any]) -> list[TableRow]:
    """Plain, full, plain, full (the last one's process then changes 0.1% and syncs the
    incremental): each side's faster run is its figure."""
    plains = [plain_run(server, base, records, "first")]
    fulls = [full_run(server, base / "full", records, "full")]
    plains.append(plain_run(server, base, records, "second"))
    sync = full_run(server, base / "sync", records, "sync")
    fulls.append(sync)
    plain = min(plains, key=lambda p: float(p["wall_s"]))
    full = min(fulls, key=lambda f: float(f["full_s"]))
    plain_s, full_s, inc_s = plain["wall_s"], full["full_s"], sync["incremental_s"]
    ratio = full_s / plain_s
    pairs = [f["full_s"] / p["wall_s"] for f, p in zip(fulls, plains, strict=True)]
    print(
        f"  full sync / plain client: {ratio:.2f}x the time (the faster runs: "
        f"{full_s:.2f} s / {plain_s:.2f} s; run by run "
        f"{', '.join(f'{pair:.2f}x' for pair in pairs)}); "
        f"by CPU time {full['full_cpu_s'] / plain['cpu_s']:.1f}x",
        flush=True,
    )
    ic = sync["incremental_counts"]
    share = inc_s / full_s
    print(
        f"  incremental after {sync['changed']:,} records changed ({sync['change_s']:.1f} s of "
        f"PATCHes, excluded; {sync['incremental_reason']}): {inc_s * 1000:.0f} ms = "
        f"{share:.2%} of the full sync, {inc_s / plain_s:.2%} of the plain client's listing "
        f"({sync['incremental_cpu_s'] * 1000:.0f} ms CPU; json-server "
        f"{sync['incremental_server_cpu_s'] * 1000:.0f} ms CPU); fetched {ic['fetched']:,}, "
        f"updated {ic['updated']:,}, unchanged {ic['unchanged']:,}",
        flush=True,
    )
    rss = max(float(f["rss_peak_mb"]) for f in fulls)
    plain_rss = max(float(p["rss_peak_mb"]) for p in plains)
    print(
        f"  sync process peak RSS (VmHWM): {sync['rss_start_mb']:.0f} MB after imports, "
        f"{sync['rss_built_mb']:.0f} MB with the service built, {sync['rss_after_full_mb']:.0f} "
        f"MB after the full sync, {sync['rss_peak_mb']:.0f} MB after the incremental; plain "
        f"client's {plain_rss:.0f} MB",
        flush=True,
    )
    changed = changed_ids(records)
    lines = expected_lines(generated)
    found = check(replica_path(base / "sync"), expected_rows(generated, changed), lines, changed)
    correct = found.ok(records, len(changed), len(lines))
    correct = correct and all(f["full_counts"]["inserted"] == records for f in fulls)
    correct = correct and ic["updated"] == len(changed)
    print(
        f"  check: replica {found.replica_rows:,} live customers ({records:,} served), "
        f"{found.differing:,} differ from the records served; {found.changed_at_new_stamp:,} "
        f"of the {len(changed):,} changed hold the new updated_at ({found.at_new_stamp:,} "
        f"rows in all); {found.lines:,} lines ({len(lines):,} served), "
        f"{found.lines_differing:,} differ",
        flush=True,
    )
    judged, target = records >= TARGET_RECORDS, f"<= {TARGET_RATIO}x"
    return [
        (
            f"full sync, {records:,} records (pages of {PAGE:,})",
            f"{records / full_s:,.0f} records/s ({full_s:.1f} s, {full['full_cpu_s']:.1f} s CPU)",
            "",
            "",
        ),
        (
            "plain client (httpx + json.loads), same listing",
            f"{records / plain_s:,.0f} records/s ({plain_s:.1f} s, {plain['cpu_s']:.1f} s CPU)",
            "baseline",
            "",
        ),
        (
            "full sync time / plain client time",
            f"{ratio:.2f}x",
            target if judged else f"reference ({target} at {TARGET_RECORDS:,})",
            verdict(ratio <= TARGET_RATIO) if judged else "",
        ),
        (
            f"incremental, {CHANGED_SHARE:.1%} changed",
            f"{inc_s * 1000:.0f} ms = {share:.2%} of full, {inc_s / plain_s:.2%} of plain",
            "reference",
            "",
        ),
        (
            "peak RSS, sync process (plain client's)",
            f"{rss:.0f} MB ({plain_rss:.0f} MB)",
            "reference",
            "",
        ),
        (
            "replica equals the records served, changes included",
            "yes" if correct else "NO",
            "yes",
            verdict(correct),
        ),
    ]


def run_child(args: argparse.Namespace) -> int:
    from restsync import plain_child, sync_child

    server = JsonServer(args.url, args.server_pid, args.server_dir)
    server_cpu0 = cpu_seconds(server.pid)
    if args.child == "plain":
        result = plain_child(args.url)
        result["server_cpu_s"] = cpu_seconds(server.pid) - server_cpu0
    else:
        result = asyncio.run(
            sync_child(server, args.dir, args.records, change=args.child == "sync")
        )
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, default=DEFAULT_RECORDS, help="records (default 100,000)"
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RECORDS:,} records")
    parser.add_argument("--child", choices=("plain", "full", "sync"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("SYNCDECK_")]:
        del os.environ[name]  # the settings are syncdeck.toml's alone, here and in the children
    if args.child is not None:
        return run_child(args)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # stop the server
    records = QUICK_RECORDS if args.quick and "--records" not in sys.argv else args.records
    if records < 1000:
        parser.error("--records must be at least 1000")

    load = os.getloadavg()
    base = Path(tempfile.mkdtemp(prefix="syncdeck-bench-rest-"))
    started = time.monotonic()
    import httpx

    print(
        f"syncdeck REST source benchmark: {records:,} records; {os.cpu_count()} CPUs, load "
        f"average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, httpx "
        f"{httpx.__version__}, node {node_version()}; temp dir {base} ({fs_type(base)})",
        flush=True,
    )
    table: list[TableRow]
    reason = missing_reason()
    try:
        if reason is not None:
            print(f"\n{reason}", flush=True)
            table = [("every figure", reason[:70], "runs", "ERROR")]
        else:
            table = measure(base, records)
    except Exception as exc:
        print(f"  failed: {type(exc).__name__}: {exc}", flush=True)
        table = [("every figure", f"{type(exc).__name__}: {str(exc)[:50]}", "runs", "ERROR")]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print_table(("Metric", "Result", "Target", "Status"), table)
    missed = [row for row in table if row[3] in ("FAIL", "ERROR")]
    quick = " --quick" if records == QUICK_RECORDS else ""
    print(
        f"\n`bench/restsource.py{quick}` on {os.cpu_count()} CPUs (load {load[0]:.2f} at the "
        f"start, {os.getloadavg()[0]:.2f} at the end), json-server on the same machine; "
        f"{len(missed)} target(s) missed, in {time.monotonic() - started:.0f} s"
    )
    print(f"\noverall: {verdict(not missed)}")
    return 1 if missed else 0


def node_version() -> str:
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
