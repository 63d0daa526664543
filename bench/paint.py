"""Part (c) of bench/console.py: time to first full paint, `syncdeck` beside a Textual
hello-world app, each started in a 100x30 pseudo-terminal and timed until the terminal has
received a screen showing every marker, with the CPU time each had used by then (the method
in full: bench/console.py's docstring). Target: syncdeck <= 1.3x hello world."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common import cpu_seconds, ms
from report import PartReport
from terminal import SIZE, plain

REPO = Path(__file__).resolve().parent.parent
SYNCDECK = [sys.executable, "-m", "console"]
TARGET_PAINT_RATIO = 1.3

HELLO = """\
from textual.app import App
from textual.widgets import Static


class Hello(App):
    def compose(self):
        yield Static("Hello, world")


Hello().run()
"""


@dataclass
class Paint:
    wall: float
    """Seconds from the spawn to the screen showing every marker."""
    cpu: float
    """CPU seconds the program had used by then (clock-tick resolution)."""


@contextlib.contextmanager
def in_pty(
    command: list[str], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], int, float]]:
    """`command` started in a new session on a 100x30 pty: the process, the pty's master
    end and the `perf_counter()` just before the spawn. On leaving, a process still running
    is killed with its whole session, and the pty is closed."""
    master, slave = os.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    try:
        yield proc, master, started
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)


def first_paint(
    command: list[str], env: dict[str, str], markers: list[str], quit_key: bytes
) -> Paint:
    """The time from spawning `command` in a 100x30 pty to the screen showing every marker,
    and the CPU time the program had used by then."""
    received = b""
    painted: float | None = None
    cpu = 0.0
    with in_pty(command, env) as (proc, master, t0):
        deadline = t0 + 60
        while painted is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                received += os.read(master, 1 << 16)
            except OSError:
                break
            text = plain(received.decode("utf-8", "replace"))
            if all(marker in text for marker in markers):
                painted = time.perf_counter()
                with contextlib.suppress(OSError):
                    cpu = cpu_seconds(proc.pid)
        os.write(master, quit_key)
        end = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < end:  # drain, so it can exit
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(master, 1 << 16)
    if painted is None:
        tail = plain(received.decode("utf-8", "replace"))[-2000:]
        raise RuntimeError(f"{command} did not paint {markers} (exit {proc.returncode}):\n{tail}")
    return Paint(painted - t0, cpu)


def instructions_to_first_frame(program: list[str], env: dict[str, str], out: Path) -> int:
    """Instructions `bench/firstframe.py PROGRAM` executes, in a 100x30 pty, until its first
    frame is handed to the terminal (callgrind's total; the same to within 0.1 % from run to
    run with the same code and the hash seed fixed, however busy the machine)."""
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    command = [*valgrind, str(REPO / "bench" / "firstframe.py"), *program]
    with in_pty(command, {**env, "PYTHONHASHSEED": "0"}) as (proc, master, _):
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    os.read(master, 1 << 16)  # drain, so that its writes never block
    total = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if proc.returncode != 0 or total is None:
        raise RuntimeError(f"{program[0]} did not reach its first frame under callgrind")
    return int(total.group(1))


def part_c(base: Path, report: PartReport, *, paint_runs: int) -> None:
    """`paint_runs` timed starts of each program, alternating, after one untimed warm-up each."""
    data_dir = base / "paint"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCDECK_", "TEXTUAL"))}
    # Bytecode is cached as on an installed system, in a directory of its own (the warm-up
    # runs fill it), even where the environment says not to write it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        TERM="xterm-256color",
        PYTHONPYCACHEPREFIX=str(base / "pycache"),
        SYNCDECK_DATA_DIR=str(data_dir),
        SYNCDECK_SCHEDULE__ENABLED="false",
    )
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(
            "    (this environment sets PYTHONDONTWRITEBYTECODE, so the repository's own modules "
            "have no bytecode cache and are compiled at every start; these runs use a cache "
            "in the temporary directory instead, for both programs)",
            flush=True,
        )
    syncdeck = (
        SYNCDECK,
        ["runner:", "orders", "customers", "products", "prices", "q Quit"],
        b"q",
    )
    hello = ([sys.executable, "-c", HELLO], ["Hello, world"], b"\x11")
    first_paint(*_args(syncdeck, env))  # warm-up: creates the store, warms the file cache
    first_paint(*_args(hello, env))
    paints: dict[str, list[Paint]] = {"syncdeck": [], "hello": []}
    for _ in range(paint_runs):
        paints["hello"].append(first_paint(*_args(hello, env)))
        paints["syncdeck"].append(first_paint(*_args(syncdeck, env)))
    times = {name: [p.wall for p in runs] for name, runs in paints.items()}
    sd, hw = statistics.median(times["syncdeck"]), statistics.median(times["hello"])
    runs = ", ".join(f"{t * 1000:.0f}" for t in times["syncdeck"])
    hello_runs = ", ".join(f"{t * 1000:.0f}" for t in times["hello"])
    print(f"    (syncdeck runs: {runs} ms; hello world runs: {hello_runs} ms)", flush=True)
    report.add(
        "c",
        "first full paint, syncdeck / hello world",
        f"{sd / hw:.2f}x ({ms(sd)} vs {ms(hw)}, medians of {paint_runs})",
        f"<= {TARGET_PAINT_RATIO:g}x",
        sd / hw <= TARGET_PAINT_RATIO,
    )
    # Each syncdeck start against the hello world start just before it: on a machine whose
    # speed drifts during the run, the pairs show how far one run's verdict can be trusted.
    pairs = sorted(s / h for s, h in zip(times["syncdeck"], times["hello"], strict=True))
    quartiles = statistics.quantiles(pairs, n=4)
    report.add(
        "c",
        "first paint, each start / the hello world start before it",
        f"median {statistics.median(pairs):.2f}x, middle half {quartiles[0]:.2f}-"
        f"{quartiles[2]:.2f}x, all {pairs[0]:.2f}-{pairs[-1]:.2f}x",
    )
    sd_cpu, hw_cpu = (statistics.mean(p.cpu for p in paints[n]) for n in ("syncdeck", "hello"))
    report.add(
        "c",
        "CPU time to first full paint, syncdeck / hello world",
        f"{sd_cpu / hw_cpu:.2f}x ({ms(sd_cpu)} vs {ms(hw_cpu)}, means of {paint_runs})",
    )
    # The same comparison counted, not timed: machine noise moves the times above by
    # several percent from run to run, not this.
    if shutil.which("valgrind") is None:
        print("    (valgrind is not installed: the instruction counts are skipped)", flush=True)
        return
    sd_ir = instructions_to_first_frame(["console"], env, base / "callgrind.syncdeck")
    hw_ir = instructions_to_first_frame(["hello", HELLO], env, base / "callgrind.hello")
    report.add(
        "c",
        "instructions to the first frame, syncdeck / hello world (callgrind)",
        f"{sd_ir / hw_ir:.3f}x ({sd_ir / 1e6:,.0f} M vs {hw_ir / 1e6:,.0f} M)",
    )


def _args(
    spec: tuple[list[str], list[str], bytes], env: dict[str, str]
) -> tuple[list[str], dict[str, str], list[str], bytes]:
    command, markers, quit_key = spec
    return command, env, markers, quit_key
