"""Every press of `+` counts, from any number of consoles at once: a relative change is
applied in the store's own transaction, never computed from a stale snapshot."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO

from core import Settings, build_orchestrator

PRESSES = 25

PRESSER = textwrap.dedent(
    """
    import asyncio, sys
    from core import Settings, build_orchestrator

    async def main() -> None:
        settings = Settings.from_values(data_dir=sys.argv[1], source={"kind": "simulated"})
        async with build_orchestrator(settings, runner=False) as orch:
            print("ready", flush=True)
            sys.stdin.readline()  # both processes press at the same moment
            for _ in range(int(sys.argv[3])):
                await orch.set_priority(int(sys.argv[2]), delta=+1)

    asyncio.run(main())
    """
)


async def test_presses_from_two_processes_all_count(data_dir: Path) -> None:
    settings = Settings.from_values(
        data_dir=data_dir, source={"kind": "simulated"}, schedule={"enabled": False}
    )
    async with build_orchestrator(settings, runner=False) as orch:
        request = await orch.request("prices", mode="full", priority=5)
        pressers = [
            subprocess.Popen(
                [sys.executable, "-c", PRESSER, str(data_dir), str(request.id), str(PRESSES)],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for presser in pressers:
            assert presser.stdout is not None and presser.stdout.readline() == "ready\n"
        for presser in pressers:
            assert presser.stdin is not None
            presser.stdin.write("go\n")
            presser.stdin.flush()
        for presser in pressers:
            assert await asyncio.to_thread(presser.wait, 120) == 0
        assert (await orch.get_request(request.id)).priority == 5 + 2 * PRESSES
        await orch.set_priority(request.id, delta=+1000)  # kept in range
        assert (await orch.get_request(request.id)).priority == 100
