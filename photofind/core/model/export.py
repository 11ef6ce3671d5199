"""Exporting a model's towers to ONNX, run as
`python -m photofind.core.model.export SPEC DIR PRECISION`.

A child process of its own because torch's TorchScript exporter hangs (in libstdc++'s
locale code) in a process that imported usearch before torch, as every photofind process
that indexes does. Here torch is imported first. Writes the image tower (fp32, and int8
with its fidelity verdict) and, where the model's tokenizer allows, the text tower.

The exporter writes into the data directory under its parent's writer lock, so it dies
with its parent (`kill -9` included): the kernel ends it (Linux's PR_SET_PDEATHSIG), and
a thread that watches the parent's pid does so elsewhere. Every file it writes appears
under its final name only once complete (onnxrt._atomic); the `.part` files of an
exporter that died are removed by the next one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from pathlib import Path

from photofind.core.model.exportrun import PARENT_ENV


def follow_parent() -> bool:
    """Die with the process that started this one; False when it is gone already."""
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    if sys.platform.startswith("linux"):
        try:  # PR_SET_PDEATHSIG = 1: SIGKILL when the parent dies
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the line above
        return False

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, name="photofind-follow-parent", daemon=True).start()
    return True


def remove_dead_parts(folder: Path) -> None:
    """Half-written files (`NAME.PID.part`) of exporters that died: never used (only a
    complete file is renamed into place), removed so they take no space."""
    for part in folder.glob("**/*.part"):
        try:
            pid = int(part.name.rsplit(".", 2)[-2])
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except (ValueError, IndexError, OSError):
            continue


def main(argv: list[str]) -> int:
    if not follow_parent():
        return 1
    import torch  # noqa: F401  # before anything that may load usearch

    from photofind.core.model.embedder import export_here
    from photofind.core.model.specs import ModelSpec

    spec_json, cache_dir, precision = argv
    remove_dead_parts(Path(cache_dir) / "onnx")
    export_here(ModelSpec.from_json(spec_json), Path(cache_dir), precision)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
