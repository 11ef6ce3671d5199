"""The core never imports Qt: the CLI, tests and other front ends drive it without a GUI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "photofind" / "core"
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "photofind.gui")


def test_no_core_module_imports_qt():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []


def test_importing_the_core_loads_no_qt():
    modules = [".".join(("photofind", "core", *p.relative_to(CORE).with_suffix("").parts))
               for p in sorted(CORE.rglob("*.py")) if p.stem != "__init__"]
    assert len(modules) > 30  # every module of every wing, not just the top folder
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "import photofind.cli\n"
        + "print([m for m in sys.modules if m.startswith(('PySide6', 'shiboken', 'photofind.gui'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_wings_keep_their_contracts():
    """import-linter's contracts in pyproject.toml: the core imports no Qt and no face;
    store imports no other wing; search, model and media import nothing of the write path."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True,
                         cwd=CORE.parent.parent)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the photofind modules it imports (at any depth: lazy imports count)."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            graph[name] |= {t for t in map(resolve, targets) if t and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph` (its strongly connected parts of two or more)."""
    order, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in order:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], order[other])
        if low[node] == order[node]:
            part = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                part.append(other)
                if other == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))
    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def test_no_module_of_photofind_imports_itself_in_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles(import_graph(CORE.parent)) == []


def test_no_module_is_over_450_lines():
    long = {p.relative_to(CORE.parent).as_posix(): n for p in CORE.parent.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 450}
    assert long == {}
