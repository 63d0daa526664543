"""No import circle in `core/` or `console/`, between modules or between packages:
dependencies point down only. The core's root holds only the vocabulary and the pure
rules, and no module is longer than 400 lines.

The graph is read from the source with `ast`, not by importing: every `import`
and `from ... import` counts, at module level and inside functions (a lazy
import is an edge too; it only moves the circle to run time). Imports under
`if TYPE_CHECKING:` are exempt, since they never run. An import names the
module it loads: `from core import queue_order` is an edge to `core.queue_order`,
`from core.models import Event` one to `core.models`; the parent packages
Python initialises on the way are not edges, or every package whose
`__init__` re-exports its modules would be a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from conftest import REPO

PACKAGES = ("core", "console")

CORE_ROOT = {"__init__", "models", "errors", "events", "queue_order", "breaker", "health"}
"""The vocabulary and the pure rules: everything else lives in a package."""
MAX_LINES = 400

Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import under `node`, in functions too, except in `if TYPE_CHECKING:` bodies."""
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.orelse:
            yield from _imports(child)
        return
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    for inner in ast.iter_child_nodes(node):
        yield from _imports(inner)


def _known(name: str, known: dict[str, Path]) -> str | None:
    """The innermost module of ours that `name` is in (None: not ours)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> Graph:
    known = modules()
    graph: Graph = {}
    for name, path in known.items():
        targets: set[str] = set()
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(t for a in node.names if (t := _known(a.name, known)))
                continue
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in known else _known(source, known)
                if target:
                    targets.add(target)
        targets.discard(name)
        graph[name] = targets
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found)


def describe(graph: Graph, found: list[list[str]]) -> list[str]:
    """Each circle's edges, readable in an assertion message."""
    return [
        f"{a} -> {b}"
        for component in found
        for a in component
        for b in sorted(graph[a])
        if b in component
    ]


def only(graph: Graph, package: str) -> Graph:
    return {
        a: {b for b in targets if b.split(".")[0] == package}
        for a, targets in graph.items()
        if a.split(".")[0] == package
    }


def test_the_walk_sees_lazy_imports_and_skips_type_checking() -> None:
    """Control: the checks below can only pass for the right reason."""
    graph = import_graph()
    assert "console.tui.launch" in graph["console.cli"]  # inside main()
    assert "console.tui.app" in graph["console.tui.launch"]  # inside _run()
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse(
        "if TYPE_CHECKING:\n    import x\nelse:\n    import y\ndef f():\n    import z\n"
    )
    assert [a.name for node in _imports(tree) for a in node.names] == ["y", "z"]


def test_console_has_no_import_circle() -> None:
    graph = import_graph()
    found = circles(graph)
    console_circles = [c for c in found if any(m.split(".")[0] == "console" for m in c)]
    assert console_circles == [], describe(graph, console_circles)


def test_core_has_no_import_circle() -> None:
    graph = only(import_graph(), "core")
    found = circles(graph)
    assert found == [], describe(graph, found)


def packages(graph: Graph) -> Graph:
    """The graph between the top-level rooms (`core.store`, `console.cli`, a root module):
    each module counts as the room it is in, and a package's face (`core`, `console`), which
    only hands names on, is left out."""

    def room(name: str) -> str:
        return ".".join(name.split(".")[:2])

    rooms: Graph = {}
    for a, targets in graph.items():
        if "." not in a:
            continue
        found = rooms.setdefault(room(a), set())
        found.update(room(b) for b in targets if "." in b and room(b) != room(a))
    return rooms


def test_no_import_circle_between_packages() -> None:
    graph = packages(import_graph())
    assert circles(packages({"p.a.x": {"p.b.y"}, "p.b.y": {"p.a.z"}, "p.a.z": set()})) == [
        ["p.a", "p.b"]
    ]  # control: a circle through two packages is seen even with none between modules
    found = circles(graph)
    assert found == [], describe(graph, found)


def test_the_core_root_holds_only_the_vocabulary_and_the_pure_rules() -> None:
    root = {p.stem for p in (REPO / "core").glob("*.py")}
    assert root <= CORE_ROOT, sorted(root - CORE_ROOT)
    assert len(root) <= 7


def test_no_module_is_longer_than_400_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for path in modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_core_never_imports_console() -> None:
    graph = import_graph()
    assert {
        a: sorted(t)
        for a, targets in graph.items()
        if a.split(".")[0] == "core"
        if (t := {b for b in targets if b.split(".")[0] == "console"})
    } == {}


def test_console_reaches_the_store_only_through_the_orchestrator() -> None:
    """The console and the CLI are clients of the orchestrator's public API, never of
    `core.store` (its errors come from `core.errors`)."""
    graph = import_graph()
    reached = {
        (a, b)
        for a, targets in graph.items()
        if a.split(".")[0] == "console"
        for b in targets
        if b == "core.store" or b.startswith("core.store.")
    }
    assert sorted(reached) == []


def test_console_takes_the_schedule_only_from_the_orchestrator() -> None:
    """`Orchestrator.schedule()` resolves the plans as the snapshot does; a front end that
    computed its own from its own settings could disagree with the runner."""
    graph = import_graph()
    assert (
        sorted(
            (a, b)
            for a, targets in graph.items()
            if a.split(".")[0] == "console"
            for b in targets
            if b == "core.schedule" or b.startswith("core.schedule.")
        )
        == []
    )
