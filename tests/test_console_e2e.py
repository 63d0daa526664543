"""The real console in a real terminal: `syncdeck` (no subcommand) inside tmux.

Each test starts the real command (`python -m console`, the console) in a
detached tmux session of 100x30 cells on a private tmux server (its own socket in
the test's temporary directory, no user configuration), types into it with
`tmux send-keys` and reads the screen with `tmux capture-pane -p`, polling with a
deadline. The source is the embedded demo ERP with small sizes, no background
changes and the schedule disabled, so the only sync is the one the test asks for.
The pane's shell writes the exit status to a file, and the pane is kept after the
process exits (`remain-on-exit`), so its last screen can be shown in a failure;
the tmux server is always killed at the end.

Skipped, with the reason, when tmux is not installed (`apt-get install tmux`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK
from support.procs import cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        shutil.which("tmux") is None,
        reason="tmux is not installed (apt-get install tmux): the console e2e tests need it",
    ),
]

WIDTH, HEIGHT = 100, 30
ORDERS = 2000
STARTUP_S = 30.0
"""Generous: other test processes may share the machine's two cores."""
SYNC_S = 60.0


class Console:
    """`syncdeck` in a detached tmux session on a private tmux server."""

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        name: str,
        size: tuple[int, int],
        args: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.args = args
        self.width, self.height = size
        self.socket = str(workdir / f"tmux-{name}.sock")
        self.exit_file = workdir / f"{name}.exit"
        self.env = env

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
            check=check,
        )

    def start(self) -> None:
        # The environment is also spelled out on the command line, so the pane gets it
        # whatever environment the tmux server itself was started with.
        assignments = [
            f"{key}={value}" for key, value in self.env.items() if key.startswith("SYNCDECK_")
        ]
        assignments += [f"{key}={self.env[key]}" for key in ("TERM", "NO_COLOR") if key in self.env]
        # The shell records the exit status: tmux 3.3a does not always reap the pane's
        # process (it stays a zombie and #{pane_dead_status} stays empty).
        command = (
            f"{shlex.join(['env', *assignments, *SYNCDECK, *self.args])}; "
            f"echo $? > {shlex.quote(str(self.exit_file))}"
        )
        self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "-c",
            str(REPO),
            command,
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
        )

    def screen(self, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", self.name]
        if escapes:
            args.insert(1, "-e")
        return self.tmux(*args, check=False).stdout  # "" once the server is gone

    def press(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def ended(self) -> int | None:
        """The command's exit status, once it has exited."""
        text = self.exit_file.read_text() if self.exit_file.exists() else ""
        return int(text) if text.strip() else None

    def wait_for(self, what: str, condition: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            status = self.ended()
            if status is not None:
                pytest.fail(f"syncdeck exited (status {status}) before {what}:\n{text}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:g}s; the screen:\n{text}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (status := self.ended()) is None:
            if time.monotonic() > deadline:
                pytest.fail(f"syncdeck still running {timeout:g}s after q:\n{self.screen()}")
            time.sleep(0.1)
        return status

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


@pytest.fixture
def console_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_DEMO__SIZES__ORDERS": str(ORDERS),
        "SYNCDECK_DEMO__SIZES__CUSTOMERS": "100",
        "SYNCDECK_DEMO__SIZES__PRODUCTS": "100",
        "SYNCDECK_DEMO__SIZES__PRICES": "100",
        "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "TERM": "xterm-256color",
    }


@pytest.fixture
def start_console(console_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Console]]:
    started: list[Console] = []

    def start(
        name: str,
        size: tuple[int, int] = (WIDTH, HEIGHT),
        args: tuple[str, ...] = (),
        **extra_env: str,
    ) -> Console:
        console = Console({**console_env, **extra_env}, tmp_path, name, size, args)
        started.append(console)
        console.start()
        return console

    try:
        yield start
    finally:
        for console in started:
            console.kill()


def row(screen: str, name: str) -> str | None:
    """The services pane's line for `name` (the first table line that starts with it; the
    focused pane's border is heavy)."""
    for line in screen.splitlines():
        if re.match(rf"^[│┃] {re.escape(name)}\s", line):
            return line
    return None


def services_listed(screen: str) -> bool:
    return "Services" in screen and all(
        row(screen, name) for name in ("orders", "customers", "products", "prices")
    )


def test_full_sync_from_the_console_runs_and_shows_in_history(
    start_console: Callable[..., Console], data_dir: Path
) -> None:
    console = start_console("sync")
    first = console.wait_for("services pane listing all four services", services_listed, STARTUP_S)
    # Services are sorted by priority: orders is the first row, where the cursor starts.
    lines = first.splitlines()
    header = next(i for i, line in enumerate(lines) if line[1:].startswith(" service "))
    assert lines[header + 1][1:].startswith(" orders "), first
    console.wait_for("'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S)
    assert hues(console.screen(escapes=True)), "the colored console shows no colors at all"

    console.press("f")
    done = console.wait_for(
        "orders succeeded in the services pane",
        lambda s: "succeeded" in (row(s, "orders") or ""),
        SYNC_S,
    )
    orders = row(done, "orders") or ""
    assert "2.0k/2.0k" in orders, orders  # fetched / changed rows (`short_count`)

    console.press("h")
    history = console.wait_for(
        "a full succeeded run in the history screen",
        lambda s: (
            "History of orders" in s
            and any(re.search(r"\bfull\s+succeeded\b", line) for line in s.splitlines())
        ),
        STARTUP_S,
    )
    run_line = next(line for line in history.splitlines() if re.search(r"\bfull\s+succeeded", line))
    assert str(ORDERS) in run_line, run_line

    console.press("Escape")
    console.wait_for(
        "the main screen again", lambda s: services_listed(s) and "History of" not in s, STARTUP_S
    )
    console.press("q")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()

    with sqlite3.connect(f"file:{data_dir / 'syncdeck.db'}?mode=ro", uri=True) as db:
        runs = db.execute(
            "SELECT service, mode, outcome, fetched, inserted FROM runs ORDER BY id"
        ).fetchall()
    assert runs == [("orders", "full", "succeeded", ORDERS, ORDERS)], runs


SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREY_BASIC = {30, 37, 40, 47, 90, 97, 100, 107}
GREY_CUBE = {16, 59, 102, 145, 188, 231}  # the 6x6x6 cube's r = g = b entries


def hues(screen: str) -> set[str]:
    """Every color in the screen's SGR sequences that is not a grey."""
    found: set[str] = set()
    for match in SGR.finditer(screen):
        params = [int(p) if p else 0 for p in match.group(1).split(";")]
        i = 0
        while i < len(params):
            p = params[i]
            if p in (38, 48) and params[i + 1 : i + 2] == [5]:
                n = params[i + 2] if i + 2 < len(params) else 0
                if not (n in (0, 7, 8, 15) or n >= 232 or n in GREY_CUBE):
                    found.add(f"{p};5;{n}")
                i += 3
            elif p in (38, 48) and params[i + 1 : i + 2] == [2]:
                r, g, b = [*params[i + 2 : i + 5], 0, 0, 0][:3]
                if not r == g == b:
                    found.add(f"{p};2;{r};{g};{b}")
                i += 5
            else:
                if (30 <= p <= 47 or 90 <= p <= 107) and p not in GREY_BASIC | {39, 49}:
                    found.add(str(p))
                i += 1
    return found


def test_no_color_renders_the_services_pane_in_greys(
    start_console: Callable[..., Console],
) -> None:
    console = start_console("nocolor", NO_COLOR="1")
    screen = console.wait_for("services pane listing all four services", services_listed, STARTUP_S)
    assert "orders" in (row(screen, "orders") or ""), screen
    escaped = console.screen(escapes=True)
    assert SGR.search(escaped), "no SGR sequences captured at all"
    assert not hues(escaped), f"colors other than greys with NO_COLOR=1: {sorted(hues(escaped))}"
    console.press("q")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()


HEADER_FIELD = re.compile(
    r"^(READ-ONLY|runner: .+|since .+|dispatch (on|PAUSED)|sched (on|off|PAUSED|stopped)"
    r"|healthy|degraded|unhealthy|store .+|\d\d:\d\d:\d\d)$"
)


def header_fields(screen: str) -> list[str]:
    return [field.strip() for field in screen.splitlines()[0].strip().split(" · ")]


def test_at_80x24_the_header_never_runs_together_and_paused_dispatch_is_said(
    start_console: Callable[..., Console],
) -> None:
    console = start_console("narrow", size=(80, 24))
    screen = console.wait_for("services pane listing all four services", services_listed, STARTUP_S)
    screen = console.wait_for(
        "'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S
    )
    fields = header_fields(screen)
    assert all(HEADER_FIELD.match(f) or f.endswith("…") for f in fields), fields
    assert "dispatch on" in fields, fields

    console.press("p")
    paused = console.wait_for(  # the header and the footer's label, each in its own frame
        "dispatch PAUSED in the header and p Resume in the footer",
        lambda s: "dispatch PAUSED" in header_fields(s) and "p Resume" in s,
        STARTUP_S,
    )
    fields = header_fields(paused)
    assert all(HEADER_FIELD.match(f) or f.endswith("…") for f in fields), fields

    console.press("f")
    said = console.wait_for(
        "the Active pane saying dispatch is paused",
        lambda s: "Nothing runs: dispatch is paused" in s,
        STARTUP_S,
    )
    assert all(len(line) <= 80 for line in said.splitlines()), said
    console.press("q")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()


def _corrupt(data: Path) -> str:
    (data / "syncdeck.db").write_bytes(bytes(range(256)) * 800)  # no SQLite header
    return f"{data / 'syncdeck.db'} is damaged or is not a syncdeck store"


def _newer_schema(data: Path) -> str:
    conn = sqlite3.connect(data / "syncdeck.db")
    conn.execute("CREATE TABLE future (x)")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    return f"{data / 'syncdeck.db'} has schema version 99"


def _bad_config(data: Path) -> str:
    (data / "syncdeck.toml").write_text("[orchestrator\ntries = 1\n")
    return f"config file {data / 'syncdeck.toml'}: not valid TOML"


def _read_only_fs(data: Path) -> str:
    """A store on a filesystem mounted read-only (root only: as another user the test
    skips): the WAL's shared-memory file cannot be made, so not even a read opens."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    conn = sqlite3.connect(data / "syncdeck.db")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    for args in (["--bind", str(data), str(data)], ["-o", "remount,ro,bind", str(data)]):
        mounted = subprocess.run(["mount", *args], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"mount {' '.join(args)} was refused here: {mounted.stderr.strip()}")
    return f"store unwritable: the filesystem holding {data} is read-only"


START_FAULTS = {
    "corrupt db": _corrupt,
    "newer schema": _newer_schema,
    "bad config": _bad_config,
    "read-only filesystem": _read_only_fs,
}


@pytest.mark.parametrize("fault", START_FAULTS)
@pytest.mark.parametrize("read_only", [False, True], ids=["console", "read-only console"])
def test_a_console_that_cannot_start_says_why_in_one_line_and_exits_2(
    start_console: Callable[..., Console],
    console_env: dict[str, str],
    read_only: bool,
    fault: str,
) -> None:
    data = Path(console_env["SYNCDECK_DATA_DIR"])
    try:
        said = START_FAULTS[fault](data)
        before = {p.name: p.read_bytes() for p in data.iterdir()}
        console = start_console("faulty", (80, 24), ("--read-only",) if read_only else ())
        assert console.wait_exit(STARTUP_S) == 2, console.screen()
        # The whole pane, scrollback included, wrapped lines joined: what was printed.
        printed = console.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", console.name).stdout
        lines = [x for x in printed.splitlines() if x.strip() and not x.startswith("Pane is")]
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"syncdeck: {said}"), lines
        assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # nothing touched
    finally:
        if str(data) in Path("/proc/mounts").read_text():
            subprocess.run(["umount", "-l", str(data)], check=False)


def cli_json(env: dict[str, str], *args: str) -> object:
    """A read-only `syncdeck` command's JSON, from its own process."""
    done = subprocess.run(
        [*SYNCDECK, *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


@pytest.mark.parametrize("how", ["ssh drop (tmux kill-server)", "SIGTERM"])
def test_a_console_killed_mid_sync_records_it_interrupted_and_requeues_it_at_once(
    start_console: Callable[..., Console], console_env: dict[str, str], how: str
) -> None:
    """Issue 9, item 4: the terminal goes away (SIGHUP) or SIGTERM comes mid-sync. Only the
    console runs syncs here; the CLI commands that check the store only read it."""
    slow = {"SYNCDECK_DEMO__SIZES__ORDERS": "20000", "SYNCDECK_DEMO__FAULTS__LATENCY_S": "0.3"}
    console = start_console("hup", size=(80, 24), **slow)
    console.wait_for("'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S)
    console.press("f")
    console.wait_for("the orders sync running", lambda s: "full listing" in s, SYNC_S)
    status = cli_json(console_env, "status")
    assert isinstance(status, dict) and status["active"]["service"] == "orders", status
    pid, request_id = int(status["runner"]["pid"]), int(status["active"]["id"])

    signalled = time.time()
    if how == "SIGTERM":
        os.kill(pid, signal.SIGTERM)
    else:
        console.kill()  # tmux hangs up the pane: its processes get SIGHUP
    deadline = time.monotonic() + STARTUP_S
    while not process_gone(pid):
        assert time.monotonic() < deadline, f"the console (pid {pid}) is still running"
        time.sleep(0.05)

    runs = cli_json(console_env, "history")
    assert isinstance(runs, list) and len(runs) == 1, runs
    run = runs[0]
    assert run["outcome"] == "interrupted", run
    finished = datetime.fromisoformat(run["finished_at"]).timestamp()
    assert finished - signalled <= 1.0, f"recorded {finished - signalled:.2f}s after the signal"
    status = cli_json(console_env, "status")
    assert isinstance(status, dict)
    assert status["active"] is None and status["runner"] is None, status
    queued = [(e["id"], e["service"], e["state"]) for e in status["queue"]]
    assert queued == [(request_id, "orders", "queued")], status["queue"]


def test_five_fast_priority_presses_in_a_real_terminal_all_count(
    start_console: Callable[..., Console], console_env: dict[str, str]
) -> None:
    """Five `+` sent at once through tmux, faster than a frame is drawn: the queued
    request's priority rises by five (each press was once an absolute value computed from
    the last frame, so most presses were lost)."""
    console = start_console("presses", size=(100, 30))
    console.wait_for("services pane listing all four services", services_listed, STARTUP_S)
    console.wait_for("'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S)
    pause = subprocess.run([*SYNCDECK, "pause"], env=console_env, capture_output=True, timeout=60)
    assert pause.returncode == 0, pause.stderr
    queued = subprocess.run(
        [*SYNCDECK, "sync", "prices", "--priority", "5"],
        env=console_env,
        capture_output=True,
        timeout=60,
    )
    assert queued.returncode == 0, queued.stderr
    console.wait_for(
        "the request in the queue pane",
        lambda s: ("prices" in s and "full" in s) or "auto" in s,
        STARTUP_S,
    )
    console.press("Tab")
    console.press("+", "+", "+", "+", "+")

    def priority() -> int:
        status = cli_json(console_env, "status")
        assert isinstance(status, dict)
        return int(status["queue"][0]["priority"])

    deadline = time.monotonic() + STARTUP_S
    while priority() != 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert priority() == 10, console.screen()
    console.press("q")
    console.wait_exit(STARTUP_S)


QUEUE_LINE = re.compile(r"^[│┃] (\d+)\s+#(\d+)\s+(\w+)\s+(\w+)\s")


def queue_rows(screen: str) -> list[tuple[int, str, str]]:
    """The queue pane's entries: (request id, service, mode as shown), top to bottom."""
    rows = []
    for line in screen.splitlines():
        match = QUEUE_LINE.match(line)
        if match:
            rows.append((int(match.group(2)), match.group(3), match.group(4)))
    return rows


def queued_status(env: dict[str, str]) -> list[tuple[str, str]]:
    """(service, mode) of each queued request, as `syncdeck status` reads the store."""
    status = cli_json(env, "status")
    assert isinstance(status, dict)
    return [(e["service"], e["mode"]) for e in status["queue"]]


def test_keys_act_on_the_focused_panes_selection_in_a_real_terminal(
    start_console: Callable[..., Console], console_env: dict[str, str]
) -> None:
    """Issue 21, item 7. The services cursor stays on orders (the first row) while the queue
    has focus: h, f and Enter act on the queue entry (customers), + and - are in the
    queue's footer, and c on a service's row cancels that service's queued request. Before,
    h and f acted on orders, the hidden services selection, and c on a queued service said
    "No sync is running."."""
    console = start_console("focus", size=(100, 30))
    console.wait_for("services pane listing all four services", services_listed, STARTUP_S)
    console.wait_for("'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S)
    for args in (
        ("pause",),
        ("sync", "customers", "--mode", "incremental"),
        ("sync", "prices", "--mode", "auto"),
    ):
        done = cli(console_env, *args)
        assert done.returncode == 0, done.stderr
    screen = console.wait_for(
        "customers then prices in the queue pane",
        lambda s: [r[1] for r in queue_rows(s)] == ["customers", "prices"],
        STARTUP_S,
    )
    customers_id = queue_rows(screen)[0][0]
    assert "+ " not in screen.splitlines()[-1], screen.splitlines()[-1]  # not in Services

    console.press("Tab")
    footer = console.wait_for(
        "+ and - in the queue's footer", lambda s: "+ Raise" in s.splitlines()[-1], STARTUP_S
    ).splitlines()[-1]
    assert "- Lower" in footer and "h History" in footer, footer

    console.press("h")
    history = console.wait_for("a history screen", lambda s: "History of " in s, STARTUP_S)
    assert "History of customers" in history, history
    console.press("Escape")
    console.wait_for("the main screen again", lambda s: "History of" not in s, STARTUP_S)

    console.press("f")
    deadline = time.monotonic() + STARTUP_S
    while queued_status(console_env)[0] != ("customers", "full"):
        assert time.monotonic() < deadline, (queued_status(console_env), console.screen())
        time.sleep(0.2)
    assert queued_status(console_env) == [("customers", "full"), ("prices", "auto")]

    console.press("Enter")
    detail = console.wait_for(
        "the queue entry's detail", lambda s: "queued request #" in s, STARTUP_S
    )
    assert f"queued request #{customers_id}: customers" in detail, detail
    for field in ("sources", "merges", "priority", "history", "ready at", "why"):
        assert f"█  {field} " in detail, (field, detail)  # a row of the detail box
    console.press("Escape")
    console.wait_for("the main screen again", lambda s: "queued request #" not in s, STARTUP_S)

    console.press("BTab", "j", "j", "j", "c")  # Services, the prices row, cancel
    deadline = time.monotonic() + STARTUP_S
    while queued_status(console_env) != [("customers", "full")]:
        assert time.monotonic() < deadline, (queued_status(console_env), console.screen())
        time.sleep(0.2)
    assert "No sync is running" not in console.screen()
    console.press("q")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()


def test_every_way_out_asks_the_same_question_during_a_sync_in_a_real_terminal(
    start_console: Callable[..., Console], console_env: dict[str, str]
) -> None:
    """Issue 21, item 8. ctrl+q, ctrl+c and q, typed into a real terminal while this console
    runs an orders sync, each ask before quitting, in the same words; n keeps it running, y
    quits and the sync is recorded as interrupted. Before, ctrl+q quit at once, ctrl+c
    showed `Press [b]ctrl+q[/b]`, and q asked about "a orders sync"."""
    # Ten pages of two seconds each: the sync outlasts the three questions on a busy machine.
    slow = {"SYNCDECK_DEMO__SIZES__ORDERS": "20000", "SYNCDECK_DEMO__FAULTS__LATENCY_S": "2"}
    console = start_console("quit", size=(100, 30), **slow)
    console.wait_for("'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S)
    console.press("f")
    console.wait_for("the orders sync running", lambda s: "full listing" in s, SYNC_S)

    def asked(screen: str) -> bool:
        return "This console is running an orders sync" in screen and "Quit?" in screen

    questions = []
    for key in ("C-q", "C-c", "q"):
        console.press(key)
        questions.append(console.wait_for(f"{key}'s question", asked, STARTUP_S))
        if key != "q":
            console.press("n")
            console.wait_for(f"{key}'s question to close", lambda s: not asked(s), STARTUP_S)
            assert console.ended() is None, f"{key} then n quit the console"
    assert all("[b]" not in q for q in questions), questions
    console.press("y")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()
    runs = cli_json(console_env, "history")
    assert isinstance(runs, list) and [r["outcome"] for r in runs] == ["interrupted"], runs


RED = {"31", "91", "38;5;1", "38;5;9", "38;5;160", "38;5;196"}


def test_under_term_screen_the_focused_border_is_not_red(
    start_console: Callable[..., Console],
) -> None:
    """Issue 21, item 14. TERM=screen has 16 colours: the focused pane's border, drawn in the
    accent's orange, became bright red there, which reads as an alarm."""
    console = start_console("screen", size=(80, 24), TERM="screen")
    console.wait_for("services pane listing all four services", services_listed, STARTUP_S)

    def focused(pane: str) -> Callable[[str], bool]:
        return lambda screen: any(f" {pane} " in x and "┏" in x for x in screen.splitlines())

    for pane in ("Services", "Queue"):
        console.wait_for(f"{pane} focused (a heavy border)", focused(pane), STARTUP_S)
        escaped = console.screen(escapes=True).splitlines()
        border = next(line for line in escaped if f" {pane} " in line and "┏" in line)
        assert SGR.search(border), border
        assert not hues(border) & RED, (pane, sorted(hues(border)))
        console.press("Tab")
    console.press("q")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()
