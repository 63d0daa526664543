"""The headless core and CLI never import Textual or Rich, nor the HTTP API's web framework,
server and JWT library (only `syncdeck serve` loads those), and nothing imports the PostgreSQL
driver unless the store is PostgreSQL (checked in fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK

UI_PACKAGES = ("textual", "rich")
POSTGRES_PACKAGES = ("psycopg", "psycopg_pool")
"""Loaded only by `core.store.postgres`, which only the runtime imports, when it selects it."""
WEB_PACKAGES = ("fastapi", "starlette", "uvicorn", "jwt")
FORBIDDEN = UI_PACKAGES + WEB_PACKAGES
"""What neither `import core` nor a headless command other than `serve` may load."""

WALK_CORE = """
import importlib, json, pkgutil, sys

UI = {ui!r}

def ui_modules():
    return {{n for n in sys.modules if n.split(".")[0] in UI}}

def load(name):
    before = ui_modules()
    importlib.import_module(name)
    names.append(name)
    culprits[name] = sorted(ui_modules() - before)

import core
culprits = {{"core": sorted(ui_modules())}}
names = ["core"]
walked = []
for info in pkgutil.walk_packages(core.__path__, "core."):
    walked.append(info.name)
    load(info.name)
# modules pkgutil does not walk (in namespace packages: a directory without __init__.py)
for name in {files!r}:
    if name not in names:
        load(name)
print(json.dumps({{"imported": names, "walked": walked, "culprits": culprits,
                  "ui": sorted(ui_modules())}}))
"""

AT_EXIT = """
import atexit, json, os, runpy, sys

def report():
    loaded = sorted(n for n in sys.modules if n.split(".")[0] in {ui!r})
    with open(os.environ["IMPORT_REPORT"], "w") as f:
        driver = sorted(n for n in sys.modules if n.split(".")[0] in {pg!r})
        json.dump({{"ui": loaded, "cli": "console.cli" in sys.modules, "pg": driver}}, f)

atexit.register(report)
sys.argv = ["syncdeck", *{args!r}]
runpy.run_module("console", run_name="__main__", alter_sys=True)
"""


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def imported_by_importtime(stderr: str) -> list[str]:
    """Module names from `python -X importtime` output."""
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.append(name)
    return names


def test_ui_packages_are_installed() -> None:
    """The checks below can only fail if Textual, Rich and the web packages are there."""
    result = python(
        "import importlib.util, sys; "
        f"sys.exit(0 if all(importlib.util.find_spec(n) for n in {FORBIDDEN!r}) else 1)"
    )
    assert result.returncode == 0, result.stderr


def core_module_names() -> list[str]:
    """Every module file under core/, as a dotted name."""
    return sorted(
        path.relative_to(REPO)
        .with_suffix("")
        .as_posix()
        .replace("/", ".")
        .removesuffix(".__init__")
        for path in (REPO / "core").rglob("*.py")
    )


def test_core_and_every_module_under_it_import_no_ui() -> None:
    files = core_module_names()
    result = python(WALK_CORE.format(ui=FORBIDDEN, files=files))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(files) <= set(report["imported"]), set(files) - set(report["imported"])
    assert {"core.orchestrator", "core.store.sqlite", "core.config"} <= set(report["walked"])
    offenders = {name: mods for name, mods in report["culprits"].items() if mods}
    assert offenders == {}
    assert report["ui"] == []


def test_cli_help_imports_no_ui(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *SYNCDECK[1:], "status", "--help"],
        env=cli_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: syncdeck status" in result.stdout
    names = imported_by_importtime(result.stderr)
    assert "console.cli" in names and "core.orchestrator" in names  # the parse works
    assert [n for n in names if n.split(".")[0] in FORBIDDEN] == []


@pytest.mark.parametrize(
    "args",
    [["status"], ["sync", "orders", "--json"], ["history", "--json"], ["serve", "--help"]],
    ids=lambda a: " ".join(a),
)
def test_headless_commands_import_no_ui(
    cli_env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    report_file = tmp_path / "report.json"
    env = {**cli_env, "IMPORT_REPORT": str(report_file), "SYNCDECK_SCHEDULE__ENABLED": "false"}
    # a store to read: `status` and `history` create none
    subprocess.run([*SYNCDECK, "resume"], env=env, cwd=REPO, check=True, capture_output=True)
    result = python(AT_EXIT.format(ui=FORBIDDEN, pg=POSTGRES_PACKAGES, args=args), env)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text())
    assert report["cli"] is True
    assert report["ui"] == []
    assert report["pg"] == []


def test_the_wrapper_would_see_the_web_framework(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Control: `token` does load pyjwt (and `serve` FastAPI), and the report sees it."""
    report_file = tmp_path / "report.json"
    env = {
        **cli_env,
        "IMPORT_REPORT": str(report_file),
        "SYNCDECK_API__JWT_SECRET": "x" * 32,
    }
    result = python(
        AT_EXIT.format(ui=FORBIDDEN, pg=POSTGRES_PACKAGES, args=["token", "--scope", "read"]), env
    )
    assert result.returncode == 0, result.stderr
    assert "jwt" in json.loads(report_file.read_text())["ui"]


def test_the_wrapper_would_see_a_ui_import(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Control: the at-exit report does see Rich when something imports it."""
    report_file = tmp_path / "report.json"
    env = {**cli_env, "IMPORT_REPORT": str(report_file)}
    code = "import rich.text\n" + AT_EXIT.format(
        ui=UI_PACKAGES, pg=POSTGRES_PACKAGES, args=["status", "--help"]
    )
    result = python(code, env)
    assert result.returncode == 0, result.stderr
    assert "rich.text" in json.loads(report_file.read_text())["ui"]


def test_core_imports_no_postgres_driver_until_postgres_is_chosen() -> None:
    code = (
        "import json, sys\n"
        "import core, core.config, core.store, core.runtime, core.orchestrator\n"
        "from core.runtime import open_store\n"
        "from core.config import Settings\n"
        "open_store(Settings())\n"
        f"pg = {POSTGRES_PACKAGES!r}\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in pg)))"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    # control: choosing PostgreSQL does load it
    url = "postgresql://x@127.0.0.1/x"
    result = python(code.replace("Settings()", f"Settings.from_values(store={{'url': {url!r}}})"))
    assert result.returncode == 0, result.stderr
    assert "psycopg" in json.loads(result.stdout)


CONSOLE_FIRST_FRAME = """
import asyncio, json, sys
from core.config import load_settings
from core.runtime import build_orchestrator
from console.tui.app import SyncdeckApp

SLOW = {slow!r}

async def main():
    orch = build_orchestrator(load_settings(), runner=True)
    await orch.start(defer_schedule=True)  # as `syncdeck` does
    app = SyncdeckApp(orch)
    try:
        async with app.run_test() as pilot:
            while app.main.frames < 1:
                await pilot.pause(0.01)
            loaded = [n for n in sys.modules if n in SLOW or n.split(".")[0] in SLOW]
            print(json.dumps(sorted(loaded)))
    finally:
        await orch.stop()

asyncio.run(main())
"""


FIRST_FRAME_NEEDS_NONE_OF = (
    "pydantic",
    "apscheduler",
    "tomllib",
    "secrets",
    "rich._emoji_codes",
    "console.tui.screens.confirm",
    "sqlalchemy",
    "core.notify",
    "httpx",
    "core.config.entity_checks",
    "core.sources.base",
    "console.tui.palette",
    "rich.pretty",
)
"""pydantic (about 100 ms to import and build) validates ERP records only; APScheduler
loads when the schedule starts, after the first frame; tomllib only with a configuration
file to read; `secrets` (with hmac and hashlib) is not needed to name the lease holder;
Rich's emoji table comes with its markup parser, which the tables do not use; the dialogs
load when first opened; SQLAlchemy (a SQL source's, 110-210 ms here) when a SqlSource is built;
the webhook notifications only when configured, and httpx (with them) when one is first sent.
Each is a few milliseconds of the first frame, or many more. Smaller, but each a module
less to load: the checks of `[sources]` and `[entities]` only when either is configured,
the sources' base only when a source is made, the command palette's commands when it opens;
Rich's pretty-printer (RichLog's; the event log draws its text lines itself)."""


def test_the_console_draws_its_first_frame_without_pydantic(cli_env: dict[str, str]) -> None:
    """What the first frame does not need is not loaded on the way to it (see above)."""
    env = {**cli_env, "SYNCDECK_SOURCE__KIND": "demo", "SYNCDECK_SCHEDULE__ENABLED": "false"}
    result = python(CONSOLE_FIRST_FRAME.format(slow=set(FIRST_FRAME_NEEDS_NONE_OF)), env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


COSTLY_DEFINITIONS = """
import dataclasses, json, linecache, re, sys

OURS = ("core", "console")
found = []

def caller():
    return sys._getframe(2).f_globals.get("__name__", "")

define = dataclasses.dataclass
def dataclass(cls=None, /, **options):
    if caller().split(".")[0] in OURS:
        found.append("a dataclass in " + caller())
    return define(cls, **options)
dataclasses.dataclass = dataclass

compile_ = re.compile
def compile(pattern, flags=0):
    frame = sys._getframe(1)
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    if caller().split(".")[0] in OURS and "Meta(" not in line:
        found.append("a regular expression compiled in " + caller())
    return compile_(pattern, flags)
re.compile = compile
"""


def test_the_first_frame_defines_no_dataclass_and_compiles_no_regular_expression_of_ours(
    cli_env: dict[str, str],
) -> None:
    """Defining a dataclass costs about 0.5 ms, compiling a pattern 0.1-0.3 ms: on the way to
    the first frame, value classes are msgspec Structs and patterns compile when first used.
    A configuration table's declared constraint (`Meta(pattern=...)`) is part of its schema."""
    env = {**cli_env, "SYNCDECK_SOURCE__KIND": "demo", "SYNCDECK_SCHEDULE__ENABLED": "false"}
    code = COSTLY_DEFINITIONS + CONSOLE_FIRST_FRAME.format(slow=set()) + "print(json.dumps(found))"
    result = python(code, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_configured_webhooks_load_their_package_for_the_first_frame_but_not_httpx(
    cli_env: dict[str, str],
) -> None:
    webhooks = '[{"url": "http://127.0.0.1:9/hooks/x", "format": "slack"}]'
    env = {
        **cli_env,
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_NOTIFY__WEBHOOKS": webhooks,
    }
    result = python(CONSOLE_FIRST_FRAME.format(slow={"core.notify", "httpx", "httpcore"}), env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["core.notify"]


def test_sqlalchemy_loads_when_a_sql_source_is_built_not_before() -> None:
    code = (
        "import json, sys\n"
        "import core, core.config, core.runtime, core.orchestrator\n"
        "from core.sources.sql.source import SqlSource\n"
        "from core.sources.sql.mapping import SqlEntity, SqlColumn\n"
        "from core.sources.sql import bounds, check, dialects, urls\n"
        "before = sorted(n for n in sys.modules if n.split('.')[0] == 'sqlalchemy')\n"
        "e = SqlEntity(name='e', table='t', columns=(SqlColumn('id', 'id'),), key=('id',),\n"
        "              cursor='id', cursor_kind='integer')\n"
        "SqlSource('sqlite:///nowhere.db', {'e': e}, source_name='s')\n"
        "print(json.dumps([before, 'sqlalchemy' in sys.modules]))"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[], True]
