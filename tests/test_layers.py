"""The package's walls, read from the source with ``ast`` (nothing is imported): no import cycle
between hmcli modules, and the layering rules of the README's architecture section."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hmcli"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The hmcli module ``name`` refers to (a name inside a module counts as that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, top_level_only: bool) -> set[str]:
    """The hmcli modules ``module`` imports: at module level, or anywhere in it (functions too)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level includes `if TYPE_CHECKING:` / try blocks, not function bodies
        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(_resolve(a.name) for a in node.names if a.name.split(".")[0] == "hmcli")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "hmcli":
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else _resolve(target))
    found.discard(None)
    found.discard(module)
    return found


@functools.lru_cache(maxsize=None)
def _graph(top_level_only: bool) -> dict[str, set[str]]:
    return {m: _imports(m, top_level_only) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


#: Everything the 2D -> 3D lifter is made of (and what it stands on): none of it may know the
#: heads built on top of it (mesh, action) nor the commands.
LIFTER = ("hmcli.api", "hmcli.lift", "hmcli.types", "hmcli.runtime", "hmcli.nn", "hmcli.skeleton", "hmcli.io",
          "hmcli.detect", "hmcli.data", "hmcli.train", "hmcli.render")
#: (who, may not import, why)
RULES = [
    (("hmcli.nn", "hmcli.skeleton"), ("hmcli.io", "hmcli.detect", "hmcli.cli", "hmcli.train", "hmcli.data"),
     "models and skeletons never touch files, detectors, screens or training"),
    (("hmcli.lift", "hmcli.api", "hmcli.io", "hmcli.detect", "hmcli.render"), ("hmcli.train",),
     "inference does not depend on training code"),
    (LIFTER, ("hmcli.mesh", "hmcli.action", "hmcli.bench", "hmcli.info"),
     "the lifter does not know the heads built on it"),
    (("hmcli.action",), ("hmcli.mesh",), "the heads stand side by side: action does not use mesh"),
    (("hmcli.mesh",), ("hmcli.action",), "the heads stand side by side: mesh does not use action"),
]


def test_every_module_parses_and_is_found():
    assert {"hmcli.api", "hmcli.lift", "hmcli.nn.call", "hmcli.io.checkpoint", "hmcli.cli.main"} <= set(MODULES)


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "all-imports"])
def test_no_import_cycle(top_level_only):
    assert _cycles(_graph(top_level_only)) == []


def test_nothing_outside_cli_imports_cli():
    graph = _graph(top_level_only=False)
    bad = sorted(f"{m} -> {d}" for m, deps in graph.items() if not _in(m, "hmcli.cli")
                 for d in deps if _in(d, "hmcli.cli"))
    assert bad == []


@pytest.mark.parametrize("who, forbidden, why", RULES, ids=[r[2] for r in RULES])
def test_layering(who, forbidden, why):
    graph = _graph(top_level_only=False)
    bad = sorted(f"{m} -> {d}" for m, deps in graph.items() if _in(m, *who) for d in deps if _in(d, *forbidden))
    assert bad == [], why


def test_cycle_finder_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]

