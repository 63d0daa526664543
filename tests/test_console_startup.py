"""Start-up mode (`console.gc_pause`): the collector paused and a short thread switch
interval until the first frame; resuming restores both as they were."""

from __future__ import annotations

import gc
import sys

from console.gc_pause import STARTUP_SWITCH_INTERVAL, pause_gc, resume_gc


def test_pause_shortens_the_switch_interval_and_resume_restores_both() -> None:
    before = sys.getswitchinterval()
    assert gc.isenabled()
    try:
        pause_gc()
        assert not gc.isenabled()
        assert sys.getswitchinterval() == min(before, STARTUP_SWITCH_INTERVAL)
        pause_gc()  # twice: still the interval to restore is the first one
        resume_gc()
        assert gc.isenabled()
        assert sys.getswitchinterval() == before
        resume_gc()  # nothing paused: nothing changes
        assert gc.isenabled()
        assert sys.getswitchinterval() == before
    finally:
        sys.setswitchinterval(before)
        gc.enable()
        gc.unfreeze()
