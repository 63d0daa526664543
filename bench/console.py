"""Console benchmark: responsiveness and cost of the operations console under load,
and its start-up, each beside its target.

Run from the repository root:

    .venv/bin/python bench/console.py             # full run (about three minutes)
    .venv/bin/python bench/console.py --quick     # shorter windows, fewer samples
    .venv/bin/python bench/console.py --profile   # also: cProfile of the event loop thread
    .venv/bin/python bench/console.py --part c    # only part (c); repeatable

Parts (a) and (b) run the real `SyncdeckApp` over a real `Orchestrator` on a real SQLite
store (a fresh temporary directory), in this process, headless (`App.run_test`, 100x30
cells). Part (c) starts real processes in a pseudo-terminal.

Key-to-screen latency (parts a and b), defined precisely:

  - A Textual app in a real terminal turns every screen update into a terminal byte
    string on the event loop (`App._display`: `CompositorUpdate.render_segments`) and
    hands it to a writer thread. Headless, Textual skips that string; this benchmark
    puts it back (`PaintProbe`): every update is rendered to the byte string a
    256-colour terminal (TERM=xterm-256color) would receive. A *paint* is one such
    update, complete once its string is built.
  - t0: the instant the key event is handed to the app the way the terminal driver
    hands it over (`driver.send_message(events.Key("p", "p"))`, as Textual's input
    thread does for a key read from the terminal).
  - t1: the end of the first paint after t0 whose byte string, with escape sequences
    removed, contains the header's new dispatch state: "dispatch PAUSED" after a press
    that pauses, "dispatch on" after one that resumes. `p` toggles dispatching through
    the real orchestrator (a store transaction), the console redraws from
    `orchestrator.snapshot()` (rate-limited to ten redraws a second) and Textual paints;
    all of that is inside t1 - t0.
  - Each press waits for the previous one's paint, then for a random 100-250 ms (during
    part b's sync, which takes about 5 s: 50-150 ms, so that 30 presses fit), so presses
    land at random phases of the redraw timer. p95 (nearest rank) over all
    presses (at least 30; --quick: at least 15). Target: p95 <= 50 ms (issue 12).
  - Printed under it, where the time goes (median/p95 of each stage, over the presses
    whose paint came from a redraw that started after the core call): key -> the core
    call returned (`orchestrator.pause()`/`resume()`, timed by a wrapper) -> the start
    of the first console redraw after it (the redraw rate limit) -> that redraw done ->
    the paint.

(a) Progress storm. One service ("storm") whose run calls `ctx.report` 2,000 times a
    second, from a worker thread (the path `RunContext` documents for bulk work: each
    report reaches the loop through `call_soon_threadsafe`), through the real
    orchestrator (`_on_progress`: a RUN_PROGRESS event on the bus for every report, a
    stored event every second) into the console's subscription. After a 1 s warm-up, a
    10 s window (--quick: 4 s; longer if the presses need it) measures, with key presses
    going on throughout:
      - key-to-screen p95 (above);
      - redraws per second: `app.main.frames` (console redraws from a snapshot) over the
        window; Textual paints per second are printed beside it, and under it the gaps
        between the starts of successive redraws (the limit is ten in any one second, not
        100 ms between two: a key's frame may follow an event's at once). Target <= 10 /s;
      - CPU: `time.process_time()` (this whole process, every thread: the console, the
        orchestrator, the store's thread and the emitting thread) / wall time, as a share
        of one core, with a per-thread split from /proc/self/task. Target <= 50 %;
      - dropped events: events the console's subscription discarded because it fell
        behind (informational; should be 0).
    The storm then goes on at the same rate until 100,000 reports (--quick: 20,000)
    have been made and consumed; RSS (current, /proc/self/statm) just before the first
    report and after the last one (once the console has drawn it) gives the growth.
    Target <= 20 MB.

(b) A real sync in the console's process: the demo ERP is generated with 1,000,000
    products (--quick: 500,000; no other entities, no background changes; generation
    is timed and excluded), then a full products sync (the real `EntitySyncService`,
    demo ERP -> SQLite replica) is requested in a console built like `syncdeck`'s
    (`build_orchestrator`, the configured services). Key presses run from the moment the
    run starts until it ends; key-to-screen p95 as above. Target <= 50 ms. Rows/s,
    redraws/s and CPU over the sync are printed for reference.

(c) Time to first full paint, `syncdeck` beside a Textual hello-world app, measured the
    same way for both: the program is started (fork/exec, interpreter start-up and
    imports included) in a pseudo-terminal of 100x30 cells (TERM=xterm-256color), and
    the time runs from just before the spawn to the moment the terminal has received a
    screen showing every marker: for syncdeck (the real command, `python -m console`,
    no subcommand, a data directory initialised by an untimed first run, schedule off)
    the header ("runner:"), all four service rows and the footer ("q Quit"); for hello
    world, "Hello, world". Each program is then told to quit (q / ctrl+q). Runs
    alternate between the two; one untimed warm-up run each; median of 15 (--quick: 5).
    Beside it, the CPU time each program had used when its screen was complete (user +
    system, every thread, from /proc/PID/stat in clock ticks of 10 ms, so averaged over
    the runs): on a shared machine the wall time carries the others' load, the CPU time
    much less of it. And each syncdeck start against the hello world start just before
    it (median, middle half and range of those ratios, for reference): where the
    machine's speed drifts during a run, their spread says how far the verdict holds.
    Bytecode is cached as on an installed system (PYTHONPYCACHEPREFIX in the temporary
    directory, filled by the warm-up runs; PYTHONDONTWRITEBYTECODE removed for the
    children). Target: syncdeck <= 1.3x hello world (issue 12).
    Last, for reference, the same comparison counted rather than timed: the instructions
    each program executes until its first frame is handed to the terminal (valgrind's
    callgrind, `bench/firstframe.py`, hash seed fixed; skipped without valgrind). The
    count is the same to within 0.1 % from run to run, however busy the machine, so
    it shows a change of a percent that the times cannot.

The load average is printed at the start and after each part: the figures are only as
quiet as the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The terminal a real console would draw to: Textual picks its colour system from these.
os.environ["TERM"] = "xterm-256color"
os.environ.pop("COLORTERM", None)
os.environ.pop("NO_COLOR", None)

REPO = Path(__file__).resolve().parent.parent
# First, even when PYTHONPATH names it too: this script's folder (sys.path[0]) holds a
# console.py that would hide the console package.
if sys.path[:1] != [str(REPO)]:
    sys.path.insert(0, str(REPO))

# The parts, each in a module of its own beside this script (found through sys.path, which
# still holds this script's folder after the repository).
import textual  # noqa: E402
from consolesync import part_b  # noqa: E402
from paint import part_c  # noqa: E402
from report import PartReport, print_table  # noqa: E402
from storm import STORM_RATE, part_a  # noqa: E402


@dataclass
class Profile:
    window_s: float
    min_presses: int
    storm_events: int
    products: int
    paint_runs: int


FULL = Profile(10.0, 30, 100_000, 1_000_000, 15)
QUICK = Profile(4.0, 15, 20_000, 500_000, 5)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer samples")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print cProfile of the event loop thread (a 5 s extra stretch in a; "
        "the whole sync in b, whose figures are then measured under the profiler)",
    )
    parser.add_argument(
        "--part",
        choices=("a", "b", "c"),
        action="append",
        help="run only this part (repeatable); default: all three",
    )
    args = parser.parse_args()
    prof = QUICK if args.quick else FULL
    report = PartReport()
    context = (
        f"syncdeck console bench{' (--quick)' if args.quick else ''}: Python "
        f"{platform.python_version()}, Textual {textual.__version__}, {platform.machine()}, "
        f"{load()} at the start"
    )
    print(context, flush=True)
    base = Path(tempfile.mkdtemp(prefix="syncdeck-console-bench-"))
    try:
        parts: list[tuple[str, str, Callable[[], Any]]] = [
            (
                "a",
                f"(a) progress storm: {STORM_RATE:,.0f} events/s, {prof.window_s:g} s window, "
                f"then up to {prof.storm_events:,} events",
                lambda: asyncio.run(
                    part_a(
                        base,
                        report,
                        window_s=prof.window_s,
                        min_presses=prof.min_presses,
                        events=prof.storm_events,
                        profile=args.profile,
                    )
                ),
            ),
            (
                "b",
                f"(b) a real full sync of {prof.products:,} products in the console's process",
                lambda: asyncio.run(
                    part_b(
                        base,
                        report,
                        products=prof.products,
                        min_presses=prof.min_presses,
                        profile=args.profile,
                    )
                ),
            ),
            (
                "c",
                "(c) time to first full paint, in a 100x30 pseudo-terminal",
                lambda: part_c(base, report, paint_runs=prof.paint_runs),
            ),
        ]
        for part, title, run in parts:
            if args.part and part not in args.part:
                continue
            print(f"\n{title}", flush=True)
            started = time.monotonic()
            run()
            print(f"    ({time.monotonic() - started:.0f} s; {load()})", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print_table(
        ("part", "measure", "result", "target", "verdict"),
        [(r.part, r.metric, r.value, r.target, r.verdict) for r in report.rows],
        context.replace(" at the start", " at the start of the run"),
    )
    judged = [r for r in report.rows if r.ok is not None]
    failed = [r for r in judged if not r.ok]
    print(
        f"\n{'FAIL' if failed else 'PASS'}: {len(judged) - len(failed)} of {len(judged)} "
        "targets met" + (f"; missed: {', '.join(r.metric for r in failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
