"""Image-tower backends: torch fp32 vs ONNX Runtime fp32 / int8, speed and fidelity.

    python bench/backends.py [--arch ViT-B-32-256] [--runs 5] [--no-write]

Runs the image tower alone (batches of 32 preprocessed real photos from the bench corpus,
no decoding) through photofind's `Embedder` with each backend, alternating backends run by
run, at torch/ORT threads = the core count. Fidelity: cosine similarity of each photo's
vector with torch fp32's (min and mean over the corpus photos).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import folder, generate  # noqa: E402
from models import random_model  # noqa: E402
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.media.decode import open_image  # noqa: E402
from photofind.core.model.embedder import Embedder  # noqa: E402
from photofind.core.model.specs import ModelSpec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    corpus = generate(folder(0, 200), 200, 0)
    files = sorted(p for p in corpus.rglob("*") if p.is_file())[: args.photos]
    rows, speeds = [], []
    cache = Path(tempfile.mkdtemp(prefix="pfbench-models-"))
    for arch in args.arch or ["ViT-B-32-256", "ViT-S-32"]:
        spec = ModelSpec.parse(random_model(arch))
        embedders = {
            "torch fp32": Embedder(spec, "cpu", cache, backend="torch"),
            "onnxruntime fp32": Embedder(spec, "cpu", cache, backend="onnx", precision="fp32"),
            "onnxruntime int8": Embedder(spec, "cpu", cache, backend="onnx", precision="int8"),
        }
        ref = embedders["torch fp32"]
        tensors = [ref.preprocess(open_image(f, ref.image_size)[0].image) for f in files]
        batches = [tensors[i:i + 32] for i in range(0, len(tensors), 32)]
        vectors = {name: np.concatenate([e.embed_images(b) for b in batches])
                   for name, e in embedders.items()}
        times: dict[str, list[float]] = {name: [] for name in embedders}
        for _ in range(args.runs):
            for name, e in embedders.items():
                t0 = time.perf_counter()
                for b in batches:
                    e.embed_images(b)
                times[name].append(len(tensors) / (time.perf_counter() - t0))
        base = statistics.median(times["torch fp32"])
        for name in embedders:
            cos = (vectors[name] * vectors["torch fp32"]).sum(axis=1)
            speed = statistics.median(times[name])
            rows.append([arch, name, f"{speed:.1f}", f"{speed / base:.2f}×",
                         f"{cos.min():.4f}", f"{cos.mean():.4f}"])
            print(rows[-1], flush=True)
        speeds.append((arch, [(name, statistics.median(times[name])) for name in embedders]))
    body = (
        f"The image tower alone (photofind's `Embedder`, `--device cpu`, batches of 32 "
        f"preprocessed photos of the bench corpus, no decoding), random weights of the named "
        f"architecture. Images/s: median of {args.runs} passes over {len(files)} photos, "
        "backends alternated; cosine: each photo's vector against torch fp32's.\n\n"
        + table(["architecture", "backend", "images/s", "vs torch fp32", "min cosine",
                 "mean cosine"], rows)
    )
    print(body)
    if not args.no_write:
        chart = Chart("The image tower alone, batches of 32, on the CPU", "images/s (higher is better)",
                      speeds, note=f"median of {args.runs} passes over {len(files)} photos")
        update_section("Image-tower backends (bench/backends.py)",
                       body + "\n\n" + bars("backends", chart))


if __name__ == "__main__":
    main()
