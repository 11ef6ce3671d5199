"""Starting an export of a model's towers from the process that needs them: a child
process (`python -m photofind.core.model.export`, see export.py) that dies with this one.

torch's TorchScript exporter hangs in a process that loaded usearch first (their C++
runtimes clash), and every photofind process that indexes has; so the export runs in a
child of its own. A bundled app has no `python -m`: there the caller's `here` runs the
export in this process instead. This module imports nothing else of the model wing, so
the embedder, the text encoder and the exporter do not import each other in a circle.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PARENT_ENV = "PHOTOFIND_EXPORT_PARENT"
EXPORTER = "photofind.core.model.export"


def run_export(spec, cache_dir: Path, precision: str,
               here: Callable[[], None] | None = None) -> None:
    """Export `spec`'s towers at `precision` into `cache_dir` (image tower, and the text
    tower where the tokenizer allows); raises RuntimeError with the exporter's last line."""
    if getattr(sys, "frozen", False):  # a bundled app has no `python -m`: export here
        if here is None:
            raise RuntimeError("this bundled app cannot start an exporter process")
        here()
        return
    # the exporter dies with this process (see export.py): it writes under our lock
    child = subprocess.Popen(
        [sys.executable, "-m", EXPORTER, spec.to_json(), str(cache_dir), precision],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, PARENT_ENV: str(os.getpid())})
    try:
        _out, err = child.communicate(timeout=1800)
    except BaseException:  # a timeout, an interrupt: no exporter is left behind
        child.kill()
        child.wait()
        raise
    if child.returncode:
        lines = err.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exporter exited with {child.returncode}")
