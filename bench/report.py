"""Writing benchmark figures into docs/benchmarks.md, one section per benchmark."""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = ("# Benchmarks\n\nEach section is written by the script it names; rerun the "
          "script to refresh it. Figures are from the machine named in the section.\n")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def update_section(title: str, body: str, path: Path = BENCHMARKS) -> None:
    """Replace (or append) the section `## {title}` of docs/benchmarks.md."""
    text = path.read_text() if path.exists() else HEADER
    section = f"## {title}\n\n_{date.today().isoformat()}, {machine()}_\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
