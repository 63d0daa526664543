"""cProfile of the console bench's event loop thread over a stretch of time (--profile of
bench/console.py): where the loop's time goes, by own and by cumulative time."""

from __future__ import annotations

import cProfile
import io
import pstats


class Profiler:
    """cProfile of the event loop thread over a stretch of time (--profile)."""

    def __init__(self, enabled: bool) -> None:
        self.profile = cProfile.Profile() if enabled else None

    def __enter__(self) -> Profiler:
        if self.profile is not None:
            self.profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.profile is not None:
            self.profile.disable()

    def report(self, title: str, lines: int = 25) -> None:
        if self.profile is None:
            return
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(self.profile, stream=text).sort_stats(order).print_stats(lines)
            body = text.getvalue()
            body = body[body.find("   ncalls") :]
            print(f"\n    cProfile, event loop thread, {title}, by {order}:\n{body}", flush=True)
