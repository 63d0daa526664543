"""Pictures of every console scene (console.scenes) at 80x24 and 120x40.

The scenes run on a frozen store clock with fixed host, pid, durations and
counts. Two things the scenes do not pin down are pinned here, by running each
scene's own `run_before` inside `steady()`:

- Frames drawn while a scene sets itself up. The tables size their columns
  to the widest text they have ever shown and never narrow them, so a frame
  that happens to catch a passing state (a "customers"/"schedule" request
  queued for a few milliseconds, a service "running" or "queued") leaves its
  columns wider than the final state needs, and whether such a frame happens
  depends on timing. While a scene sets up nothing is drawn (only the event
  log's kept lines are mirrored, as scenes wait on them); one final frame
  draws the scene's whole state.
- The final frame itself. `app.redraw()` returns at once when a frame is
  already being drawn, so a scene's closing redraw may not be the last one:
  a frame still due can land while the picture is taken. `steady()` waits
  until no frame is due, then draws the one frame.

At 80x24 the pictures show the event log short of its end: the newest event
is hidden. That is the console's doing: the log scrolls to its end when lines
are written, then the services table gets a horizontal scrollbar (its rows no
longer fit in 80 columns), which takes a line from the log, and the log does
not follow its end when it shrinks (test_event_log_keeps_the_newest_line_
visible_when_the_layout_changes in test_console_keys.py, xfail).

Regenerate after an intended change of the console's look with

    .venv/bin/pytest tests/test_console_snapshots.py --snapshot-update

and look at the SVGs under tests/__snapshots__/test_console_snapshots/.

These tests are plain `def`s: snap_compare runs the app in its own event loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.app import SyncdeckApp
from console.scenes import Scene, build_scenes
from console.widgets.event_log import QUIET, EventLog, describe

SCENES = ("idle", "running", "queued", "circuit-open", "help", "history", "read-only")
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
WAIT = 10.0


@pytest.fixture
def utc() -> Iterator[None]:
    """Clock text (HH:MM:SS in local time) the same on every machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


async def _until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def _no_frame_due(app: SyncdeckApp) -> bool:
    """No frame scheduled, none being drawn, and none started but not yet running."""
    return (
        app._refresh_handle is None
        and not app._refreshing
        and all(w.is_finished for w in app.workers if w.group == "redraw")
    )


def steady(scene: Scene) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The scene's own setup, with frames pinned as the module docstring explains."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SyncdeckApp)
        log = app.query_one(EventLog)

        await _until(pilot, lambda: _no_frame_due(app), "the first frames to be drawn")
        drawn = list(log.lines_kept)

        async def mirror_only() -> None:
            """Instead of a frame: the log's kept lines as the next frame would make them."""
            pending = [describe(e) for e in app._pending_events if e.kind not in QUIET]
            log.lines_kept.clear()
            log.lines_kept.extend(drawn + pending)

        app.redraw = mirror_only  # type: ignore[method-assign]
        try:
            await scene.run_before(pilot)
        finally:
            del app.redraw
        log.lines_kept.clear()
        log.lines_kept.extend(drawn)
        await _until(pilot, lambda: _no_frame_due(app), "no frame due")
        await app.redraw()  # the one frame of the scene's state
        await pilot.pause()

    return run_before


def test_every_scene_has_a_picture(tmp_path: Path) -> None:
    assert tuple(scene.name for scene in build_scenes(tmp_path)) == SCENES


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("name", SCENES)
def test_scene(snap_compare, tmp_path: Path, utc: None, name: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    scene = next(s for s in build_scenes(tmp_path) if s.name == name)
    assert snap_compare(scene.app, press=scene.press, terminal_size=size, run_before=steady(scene))
