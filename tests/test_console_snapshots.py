"""Pictures of every console scene (console.scenes) at 80x24 and 120x40.

The scenes run on a frozen store clock with fixed host, pid, durations and
counts. Two things the scenes do not pin down are pinned here, by running each
scene's own `run_before` inside `steady()`:

- Frames drawn while a scene sets itself up. The tables size their columns
  to the widest text they have ever shown and never narrow them, so a frame
  that happens to catch a passing state (a "customers"/"schedule" request
  queued for a few milliseconds, a service "running" or "queued") leaves its
  columns wider than the final state needs, and whether such a frame happens
  depends on timing. While a scene sets up, only the event log is kept
  current (scenes wait on it); the tables and panes are drawn by the scene's
  final frame alone.
- The final frame itself. `app.redraw()` returns at once when a frame is
  already being drawn, so a scene's closing redraw may not be the last one:
  a frame still due can land while the picture is taken, with the event log
  not yet scrolled to its end. `steady()` waits until no frame is due, draws
  one, and waits for the log to reach its end.

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
from console.widgets.event_log import EventLog

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
    return app._refresh_handle is None and not app._refreshing


def steady(scene: Scene) -> Callable[[Pilot[None]], Awaitable[None]]:
    """The scene's own setup, with frames pinned as the module docstring explains."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SyncdeckApp)
        log = app.query_one(EventLog)

        def log_only() -> None:
            events, app._pending_events = app._pending_events, []
            log.add(events)

        await _until(pilot, lambda: _no_frame_due(app), "the first frames to be drawn")
        app.request_redraw = log_only  # type: ignore[method-assign]
        try:
            await scene.run_before(pilot)  # ends with its own redraw: the one frame of its state
        finally:
            del app.request_redraw
        await _until(pilot, lambda: _no_frame_due(app), "no frame due")
        await app.redraw()
        await pilot.pause()
        await _until(pilot, lambda: log.scroll_y >= log.max_scroll_y, "the log to reach its end")

    return run_before


def test_every_scene_has_a_picture(tmp_path: Path) -> None:
    assert tuple(scene.name for scene in build_scenes(tmp_path)) == SCENES


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("name", SCENES)
def test_scene(snap_compare, tmp_path: Path, utc: None, name: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    scene = next(s for s in build_scenes(tmp_path) if s.name == name)
    assert snap_compare(scene.app, press=scene.press, terminal_size=size, run_before=steady(scene))
