"""Exporting a model's towers to ONNX, run as `python -m photofind.core.export SPEC DIR PRECISION`.

A child process of its own because torch's TorchScript exporter hangs (in libstdc++'s
locale code) in a process that imported usearch before torch, as every photofind process
that indexes does. Here torch is imported first. Writes the image tower (fp32, and int8
with its fidelity verdict) and, where the model's tokenizer allows, the text tower.
"""

from __future__ import annotations

import sys
from pathlib import Path


def export_here(spec, cache_dir: Path, precision: str) -> None:
    from photofind.core import textquery
    from photofind.core.embedder import Embedder, export_image_tower_here

    embedder = Embedder(spec, "cpu", cache_dir, backend="torch")
    export_image_tower_here(embedder, cache_dir, precision)
    textquery.export_here(embedder, cache_dir)


def main(argv: list[str]) -> int:
    import torch  # noqa: F401  # before anything that may load usearch

    from photofind.core.embedder import ModelSpec

    spec_json, cache_dir, precision = argv
    export_here(ModelSpec.from_json(spec_json), Path(cache_dir), precision)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
