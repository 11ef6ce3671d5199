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
