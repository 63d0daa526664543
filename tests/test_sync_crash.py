"""Crash safety of the sync engine: a real process, SIGKILLed again and again mid-sync.

The demo ERP (200,000 products, `changes_per_minute = 0`) is generated once in this
process, so every kill lands during a sync and never during the generation. Then,
several times over, a separate runner process (`python -c RUNNER full`: an
`Orchestrator` holding the runner lease, built by `core.runtime.build_orchestrator`
from `SYNCDECK_*` settings like `syncdeck daemon`, that requests a full sync of
products like `syncdeck sync products --mode full --wait`) is started and killed
with SIGKILL at a random instant of its sync. The runner prints the run's progress
events (one per page) as JSON lines; the kill instant is drawn from a seeded RNG:

* listing kills: a target row count is drawn from each of LISTING_KILLS equal strata
  of (0, N), taken in order so that each pass dies further on than the last (the
  cursor then moves on, and each check covers rows committed just before a crash);
  the kill lands at a uniformly random instant inside the page that carries that
  row (the page's start is the progress line before it; its length is the median
  page time seen so far), so kills fall in fetches, validation, writes and commits;
* reconcile kills, last: a random instant up to RECONCILE_WINDOW_S after the
  "reconciling deletions" progress line (the end-of-pass transaction that
  soft-deletes rows the source no longer lists); these may land just after the pass
  ended, and are then not counted as mid-sync.

Each new runner finds the previous one's lease held by a dead pid and its run still
open, takes the lease over and runs the interrupted full request again (from the
start: a full pass always lists everything). Between kills this test changes the
source a little (`DemoERP.mutate`: inserts, updates and deletes stamped after all
initial data) while no runner is alive, so later passes have rows to update and
rows to soft-delete, not only rows to skip.

After every kill the store is opened read-only (with the demo ERP attached read-only)
and checked: `PRAGMA quick_check` passes; the cursor never moves backwards; and the
cursor never covers rows that did not commit: every source row with
`updated_at < sync_state.cursor` is in the replica, live, with every column identical
(rows at exactly the cursor may be partial: one timestamp can span two pages). A kill
before the pass finished must also leave `needs_full` set, so the next auto run is a
full one. Finally an `auto` sync runs to completion (it must pick full, because the
last full pass did not finish), the replica must equal the source (every product,
every column, the deleted ones soft-deleted, nothing extra live, the cursor at the
source's newest timestamp), and `syncdeck verify products` must exit 0.

Set SYNCDECK_CRASH_SEED to replay another kill schedule.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import REPO, SYNCDECK

from core.config import DemoSizes
from core.demo import DEMO_FILENAME, DemoERP
from core.demo.generation import BASE_EPOCH, ROWS_PER_SECOND
from core.entities import ENTITIES
from core.store import DB_FILENAME

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROWS = 200_000
OTHER_ROWS = 50
"""Customers, prices and orders: a few, so the generation is all products."""
BATCH = 2000
SEED = int(os.environ.get("SYNCDECK_CRASH_SEED", "20260101"))
LISTING_KILLS = 7
RECONCILE_KILLS = 2
MIN_KILLS_MID_SYNC = 5
MUTATIONS_BETWEEN_KILLS = 400
"""Random source changes (all four entities) applied while no runner is alive."""
RECONCILE_WINDOW_S = 0.1
"""About how long the end-of-pass transaction takes for 200,000 rows here (50-110 ms)."""
RUN_TIMEOUT_S = 60.0

SPEC = ENTITIES["products"]
COLUMNS = SPEC.columns

RUNNER = """
import asyncio, json, sys
import msgspec
from core.config import load_settings
from core.models import EventKind
from core.runtime import build_orchestrator

def emit(kind, **data):
    print(json.dumps({"kind": kind, **data}), flush=True)

async def main(mode):
    orch = build_orchestrator(load_settings(), runner=True, schedule=False)
    events = orch.events()

    async def relay():
        async for event in events:
            if event.service != "products":
                continue
            if event.kind == EventKind.RUN_PROGRESS:
                emit("progress", phase=event.data["phase"], done=event.data["done"])
            elif event.kind == EventKind.RUN_STARTED:
                emit("started", run=event.run_id, mode=event.data.get("mode"))

    relay_task = asyncio.create_task(relay())
    await orch.start()
    try:
        request = await orch.request("products", mode)
        emit("requested", request=request.id)
        result = await orch.wait(request.id)
        run = result.run
        emit(
            "done",
            outcome=result.outcome.value,
            mode=None if run is None else run.mode.value,
            counts=None if run is None else msgspec.structs.asdict(run.counts),
            error=None if run is None else run.error,
        )
    finally:
        relay_task.cancel()
        await orch.stop()

asyncio.run(main(sys.argv[1]))
"""


# -- the runner process ---------------------------------------------------------


class Runner:
    """One runner subprocess; its stdout JSON lines arrive on `lines` with receipt times."""

    def __init__(self, env: dict[str, str], mode: str, log: IO[bytes]) -> None:
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, mode],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        self.lines: queue.Queue[tuple[float, dict[str, Any]] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put((time.monotonic(), json.loads(raw)))
        self.lines.put(None)

    def next(self, deadline: float) -> tuple[float, dict[str, Any]] | None:
        """The next line, or None when the process closed its stdout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the runner printed nothing in time")
        item = self.lines.get(timeout=remaining)
        if item is not None:
            self.seen.append(item[1])
        return item

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)  # reaped: a zombie would still look alive to the next runner
        self._reader.join(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class KillPlan:
    kind: str  # "listing" or "reconcile"
    target_rows: int = 0


@dataclass
class KillRecord:
    plan: KillPlan
    done_at_kill: int
    phase_at_kill: str
    run_id: int | None
    mid_sync: bool
    cursor: str | None
    rows_checked: int


def kill_schedule(rng: random.Random) -> list[KillPlan]:
    """Listing kills, one in each stratum of the listing, in order (each pass then gets
    further than the last before it dies, so the cursor moves on and every check covers
    rows committed just before a crash); then the reconcile kills."""
    plans = [
        KillPlan("listing", int(ROWS * (i + rng.random()) / LISTING_KILLS))
        for i in range(LISTING_KILLS)
    ]
    return plans + [KillPlan("reconcile") for _ in range(RECONCILE_KILLS)]


def run_and_kill(
    env: dict[str, str], plan: KillPlan, rng: random.Random, page_times: list[float], log: IO[bytes]
) -> tuple[Runner, int, str, int | None]:
    """Start a runner, kill it as `plan` says; returns it, the rows done and phase at the kill
    (as last reported) and the run id it started."""
    runner = Runner(env, "full", log)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        kill_at: float | None = None
        last_page: float | None = None
        done, phase, run_id = 0, "", None
        while kill_at is None:
            item = runner.next(deadline)
            if item is None:
                raise AssertionError(f"runner exited before its kill: {runner.seen[-3:]}")
            at, line = item
            if line["kind"] == "started":
                run_id = line["run"]
            elif line["kind"] == "done":
                raise AssertionError(f"the sync ended before its kill: {line}")
            if line["kind"] != "progress":
                continue
            done, phase = line["done"], line["phase"]
            if phase == "full listing":
                if last_page is not None:
                    page_times.append(at - last_page)
                last_page = at
                if plan.kind == "listing" and done + BATCH > plan.target_rows:
                    page = statistics.median(page_times) if page_times else 0.03
                    kill_at = at + rng.uniform(0.0, page)
            elif phase == "reconciling deletions" and plan.kind == "reconcile":
                kill_at = at + rng.uniform(0.0, RECONCILE_WINDOW_S)
            elif phase == "reconciling deletions":
                raise AssertionError(f"the listing ended before the kill planned at {plan}")
        time.sleep(max(0.0, kill_at - time.monotonic()))
        runner.kill()
        # Whatever it printed before dying (the reader drained the pipe).
        while True:
            try:
                item = runner.lines.get_nowait()
            except queue.Empty:
                break
            if item is None:
                break
            runner.seen.append(item[1])
        return runner, done, phase, run_id
    finally:
        runner.close()


# -- reading the store back -------------------------------------------------------


@contextlib.contextmanager
def read_only(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """The store, read-only, with the demo ERP attached read-only as `src`."""
    db = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS src", (f"file:{data_dir / DEMO_FILENAME}?mode=ro",))
        yield db
    finally:
        db.close()


DIFFERENT = " OR ".join(f"r.{c} IS NOT s.{c}" for c in COLUMNS)
MISSING_OR_DIFFERENT = (
    f"FROM src.products s LEFT JOIN main.products r ON r.{SPEC.key} = s.{SPEC.key} "
    f"WHERE {{where}} AND (r.{SPEC.key} IS NULL OR r.deleted_at IS NOT NULL OR {DIFFERENT})"
)


def sync_state(db: sqlite3.Connection) -> dict[str, Any]:
    row = db.execute(
        "SELECT cursor, last_full_at, mapping_version, needs_full FROM sync_state "
        "WHERE entity = 'products'"
    ).fetchone()
    keys = ("cursor", "last_full_at", "mapping_version", "needs_full")
    return dict(zip(keys, row, strict=True)) if row else dict.fromkeys(keys)


def check_after_kill(
    data_dir: Path, runner: Runner, run_id: int | None
) -> tuple[dict[str, Any], int, bool]:
    """The crash invariants; returns the sync state, how many source rows the cursor covers,
    and whether the kill landed before the pass finished."""
    with read_only(data_dir) as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        state = sync_state(db)
        cursor = state["cursor"]
        covered = 0
        if cursor is not None:
            covered = db.execute(
                "SELECT COUNT(*) FROM src.products WHERE updated_at < ?", (cursor,)
            ).fetchone()[0]
            bad = db.execute(
                f"SELECT s.{SPEC.key}, s.updated_at "
                + MISSING_OR_DIFFERENT.format(where="s.updated_at < ?")
                + " LIMIT 5",
                (cursor,),
            ).fetchall()
            assert not bad, (
                f"cursor {cursor} covers source rows the replica lacks or differs on: {bad} "
                f"(seed {SEED})"
            )
        outcome = None
        if run_id is not None:
            row = db.execute("SELECT outcome FROM runs WHERE id = ?", (run_id,)).fetchone()
            outcome = row[0] if row else None
        finished_pass = state["last_full_at"] is not None and (
            state["last_full_at"] >= runner.started_at
        )
        mid_sync = run_id is not None and outcome is None and not finished_pass
        if mid_sync:
            assert state["needs_full"], (
                f"killed mid-pass but needs_full is not set: {state} (seed {SEED})"
            )
        return state, covered, mid_sync


# -- the test ---------------------------------------------------------------------


def test_sigkill_mid_sync_never_leaves_the_cursor_ahead(
    data_dir: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    t0 = time.monotonic()
    env = {
        **cli_env,
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_DEMO__SIZES__PRODUCTS": str(ROWS),
        "SYNCDECK_DEMO__SIZES__CUSTOMERS": str(OTHER_ROWS),
        "SYNCDECK_DEMO__SIZES__PRICES": str(OTHER_ROWS),
        "SYNCDECK_DEMO__SIZES__ORDERS": str(OTHER_ROWS),
        "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
        "SYNCDECK_SYNC__BATCH_SIZE": str(BATCH),
        "SYNCDECK_SCHEDULE__ENABLED": "false",
    }
    sizes = DemoSizes(customers=OTHER_ROWS, products=ROWS, prices=OTHER_ROWS, orders=OTHER_ROWS)
    erp = DemoERP(data_dir / DEMO_FILENAME, sizes=sizes, changes_per_minute=0)
    generated_s = time.monotonic() - t0
    after_initial = BASE_EPOCH + ROWS // ROWS_PER_SECOND + 60

    rng = random.Random(SEED)
    page_times: list[float] = []
    records: list[KillRecord] = []
    last_cursor: str | None = None
    with open(tmp_path / "runners.log", "wb") as log:
        try:
            for i, plan in enumerate(kill_schedule(rng)):
                runner, done, phase, run_id = run_and_kill(env, plan, rng, page_times, log)
                state, covered, mid_sync = check_after_kill(data_dir, runner, run_id)
                cursor = state["cursor"]
                if last_cursor is not None:
                    assert cursor is not None and cursor >= last_cursor, (
                        f"the cursor went backwards: {last_cursor} -> {cursor} (seed {SEED})"
                    )
                last_cursor = cursor
                records.append(KillRecord(plan, done, phase, run_id, mid_sync, cursor, covered))
                # The source changes while nobody syncs; stamped after everything before.
                erp.mutate(MUTATIONS_BETWEEN_KILLS, seed=i, at=after_initial + 60 * i)

            # Run to completion: auto must choose full, since the last full pass never ended.
            final = Runner(env, "auto", log)
            try:
                deadline = time.monotonic() + RUN_TIMEOUT_S
                done_line: dict[str, Any] | None = None
                while done_line is None:
                    item = final.next(deadline)
                    assert item is not None, f"the final runner died: {final.seen[-3:]}"
                    if item[1]["kind"] == "done":
                        done_line = item[1]
                assert final.proc.wait(timeout=30) == 0
            finally:
                final.close()
        finally:
            erp.close()
    log_text = (tmp_path / "runners.log").read_text(errors="replace")[-3000:]
    assert done_line["outcome"] == "succeeded", (done_line, log_text)
    assert done_line["mode"] == "full", done_line

    kills_mid_sync = sum(r.mid_sync for r in records)
    summary = "\n".join(
        f"  kill {i}: {r.plan.kind:<9} target {r.plan.target_rows:>6}  reported "
        f"{r.done_at_kill:>6} ({r.phase_at_kill}) run {r.run_id} mid-sync {r.mid_sync} "
        f"cursor {r.cursor} covers {r.rows_checked}"
        for i, r in enumerate(records)
    )
    assert kills_mid_sync >= MIN_KILLS_MID_SYNC, f"too few kills landed mid-sync:\n{summary}"

    # The replica now equals the source: every product, every column, nothing extra live.
    with read_only(data_dir) as db:
        source_rows = db.execute("SELECT COUNT(*) FROM src.products").fetchone()[0]
        live = db.execute("SELECT COUNT(*) FROM products WHERE deleted_at IS NULL").fetchone()[0]
        wrong = db.execute(
            f"SELECT s.{SPEC.key} " + MISSING_OR_DIFFERENT.format(where="1") + " LIMIT 5"
        ).fetchall()
        extra = db.execute(
            f"SELECT {SPEC.key} FROM products WHERE deleted_at IS NULL "
            f"AND {SPEC.key} NOT IN (SELECT {SPEC.key} FROM src.products) LIMIT 5"
        ).fetchall()
        soft_deleted = db.execute(
            "SELECT COUNT(*) FROM products WHERE deleted_at IS NOT NULL"
        ).fetchone()[0]
        newest = db.execute("SELECT MAX(updated_at) FROM src.products").fetchone()[0]
        state = sync_state(db)
    assert not wrong, f"replica rows missing or different after the final sync: {wrong}"
    assert not extra, f"replica rows live that the source no longer has: {extra}"
    assert live == source_rows
    assert soft_deleted > 0, "the source lost products between kills; they must be soft-deleted"
    assert state["cursor"] == newest
    assert state["needs_full"] is None

    verify = subprocess.run(
        [*SYNCDECK, "verify", "products"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - t0
    print(
        f"\n{len(records)} kills ({kills_mid_sync} mid-sync), seed {SEED}, demo ERP generated "
        f"in {generated_s:.1f}s, whole test {elapsed:.1f}s; median page "
        f"{statistics.median(page_times) * 1000:.0f} ms; final run {done_line['counts']}\n"
        f"{summary}"
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "in sync" in verify.stdout
