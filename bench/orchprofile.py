"""How long and how often each measure of the orchestrator bench runs, in full and with
--quick (bench/postgres.py runs some of the same measures with the same profiles)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Profile:
    throughput_s: float
    throughput_warmup_s: float
    aps_batch_jobs: int
    aps_chain_s: float
    inproc_samples: int
    xproc_samples: int
    cli_samples: int
    idle_s: float


FULL = Profile(5.0, 1.0, 10_000, 2.0, 400, 120, 5, 10.0)
QUICK = Profile(2.0, 0.5, 5_000, 1.0, 100, 40, 2, 10.0)
