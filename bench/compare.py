"""This code against an earlier commit, side by side in one run.

A refactor must not cost speed, and on a shared machine two benchmark runs an
hour apart differ by more than most regressions: this script checks out REF
into a temporary git worktree and runs the same benchmark parts from both
trees, alternating (base, head, base, head, ...), each tree's own scripts
against its own code (PYTHONPATH points at the tree). It prints each figure's
runs and medians and the change, and fails when a figure regressed by more
than the allowed margin (default 5 %).

    python bench/compare.py --base af42e84 [--rounds 3] [--parts durable,sync,paint]

Figures (all "higher is better" after inversion):
- durable: `bench/orchestrator.py --quick`, durable no-op runs/s;
- sync: `bench/sync.py --quick`, full sync / plain upsert by CPU time (the steadier one);
- paint: `bench/console.py --quick --part c`, hello world / syncdeck first paint.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    name: str
    script: list[str]
    pattern: str
    convert: Callable[[re.Match[str]], float]
    unit: str


FIGURES = {
    "durable": Figure(
        "durable no-op runs/s",
        ["bench/orchestrator.py", "--quick"],
        r"Durable no-op runs/s[^:]*: ([\d,]+)/s",
        lambda m: float(m.group(1).replace(",", "")),
        "/s",
    ),
    "sync": Figure(
        "full sync / plain upsert (CPU)",
        ["bench/sync.py", "--quick"],
        r"ratio full sync / plain upsert: [\d.]+ by wall time, ([\d.]+) by CPU",
        lambda m: float(m.group(1)),
        "x",
    ),
    "paint": Figure(
        "hello world / syncdeck first paint",
        ["bench/console.py", "--quick", "--part", "c"],
        r"first full paint, syncdeck / hello world\s*\|\s*([\d.]+)x",
        lambda m: 1 / float(m.group(1)),
        "x",
    ),
}


def measure(tree: Path, figure: Figure) -> float | None:
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, *figure.script],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = re.search(figure.pattern, done.stdout)
    if found is None:
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        print(f"    {tree.name}: no figure found; last lines: {tail}", flush=True)
        return None
    return figure.convert(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", default=",".join(FIGURES))
    parser.add_argument("--margin", type=float, default=0.05, help="allowed regression")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in FIGURES]
    if unknown:
        print(f"unknown part {unknown[0]!r}; known: {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="syncdeck-compare-") as temp:
        base = Path(temp) / "base"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(base), args.base],
            check=True,
        )
        try:
            return compare(base, parts, args.rounds, args.margin)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False
            )


def compare(base: Path, parts: list[str], rounds: int, margin: float) -> int:
    failed = 0
    print(f"base {base.name} = worktree of the given commit; head = {REPO}", flush=True)
    for part in parts:
        figure = FIGURES[part]
        runs: dict[str, list[float]] = {"base": [], "head": []}
        for _ in range(rounds):
            for label, tree in (("base", base), ("head", REPO)):
                value = measure(tree, figure)
                if value is not None:
                    runs[label].append(value)
                    print(f"  {part} {label}: {value:,.3f}", flush=True)
        if not runs["base"] or not runs["head"]:
            print(f"{figure.name}: no figures from one side", flush=True)
            failed += 1
            continue
        b, h = statistics.median(runs["base"]), statistics.median(runs["head"])
        change = h / b - 1
        ok = change >= -margin
        failed += not ok
        print(
            f"{figure.name}: base {b:,.3f}, head {h:,.3f} ({change:+.1%}) "
            f"{'ok' if ok else 'REGRESSED'}",
            flush=True,
        )
    print(f"\n{len(parts) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
