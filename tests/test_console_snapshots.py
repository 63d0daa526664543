"""Pictures of every console scene (tests/support/scenes.py) at 80x24, 120x40 and, in the
compact layout, 60x20; and of the notice a terminal below the minimum size gets.

The scenes run on a frozen store clock with fixed host, pid, durations and
counts, and their apps are not live: nothing is drawn while a scene sets itself
up, then one frame shows its whole state. So the pictures are the same on every
run and every machine (with TZ=UTC for the clock text).

Regenerate after an intended change of the console's look with

    .venv/bin/pytest tests/test_console_snapshots.py --snapshot-update

and look at the SVGs under tests/__snapshots__/test_console_snapshots/.

These tests are plain `def`s: snap_compare runs the app in its own event loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.scenes import build_scenes

SCENES = (
    "idle",
    "running",
    "queued",
    "circuit-open",
    "paused",
    "no-runner",
    "retry-storm",
    "history-detail",
    "quarantined",
    "help",
    "history",
    "read-only",
)
SIZES = {"80x24": (80, 24), "120x40": (120, 40), "60x20": (60, 20)}
WAIT = 10.0


def test_every_scene_has_a_picture(tmp_path: Path) -> None:
    assert tuple(scene.name for scene in build_scenes(tmp_path)) == SCENES


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("name", SCENES)
def test_scene(snap_compare, tmp_path: Path, utc: None, name: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    scene = next(s for s in build_scenes(tmp_path) if s.name == name)
    assert snap_compare(
        scene.app, press=scene.press, terminal_size=size, run_before=scene.run_before
    )


def test_below_the_minimum_size(snap_compare, tmp_path: Path, utc: None) -> None:  # type: ignore[no-untyped-def]
    scene = next(s for s in build_scenes(tmp_path) if s.name == "idle")
    assert snap_compare(scene.app, terminal_size=(44, 12), run_before=scene.run_before)
