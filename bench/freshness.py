"""Freshness: how soon a photo copied into a watched folder shows up in search results.

Runs `photofind watch` as a separate process on a fresh library, then, `--runs` times:
copies a new photo into the library (timing starts when the copy's close() returns)
and polls a Searcher in this process — another process than the watcher, like a person
running `photofind similar` — until that photo is the top hit for its own vector. Writes
the median and worst into docs/benchmarks.md, section "Freshness (bench/freshness.py)".

    .venv/bin/python bench/freshness.py                 # 20 runs, random-weight ViT-B-32
    .venv/bin/python bench/freshness.py --model tiny    # a tiny random model (faster setup)
    .venv/bin/python bench/freshness.py --model local-dir:/path/to/model --runs 50

Random weights cost exactly what trained ones do (the same architecture and maths), and
no weights can be downloaded on the benchmark machines.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.ingest.writer import Writer  # noqa: E402
from photofind.core.media.decode import open_image  # noqa: E402
from photofind.core.model.specs import ModelSpec  # noqa: E402
from photofind.core.search.searcher import Searcher  # noqa: E402
from photofind.core.store.datadir import DataDir  # noqa: E402

TITLE = "Freshness (bench/freshness.py)"
TINY = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def random_model(folder: Path, name: str) -> str:
    """An open_clip model with random weights as a local-dir: folder."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = TINY if name == "tiny" else open_clip.get_model_config(name)
    model = open_clip.CLIP(**config)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    return f"local-dir:{folder}"


def photo(seed: int, size: tuple[int, int]) -> bytes:
    """A photo-like JPEG: smooth gradients, a few blobs, sensor noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        a, b, phase = rng.uniform(-3, 3, 3)
        img[..., c] = 127 + 100 * np.sin(a * x / w * 3.14 + b * y / h * 3.14 + phase)
    for _ in range(5):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.03, 0.2) * w
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 4, img.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="ViT-B-32",
                        help="'tiny', an open_clip architecture name (random weights), or a "
                             "model SPEC such as local-dir:/folder (default: ViT-B-32)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--library", type=int, default=200, help="photos already indexed")
    parser.add_argument("--size", default="3000x2000", help="new photos' size (default 6 MP)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    work = Path(tempfile.mkdtemp(prefix="photofind-freshness-"))
    try:
        if args.model.startswith(("local-dir:", "hf-hub:")) or args.model == "demo":
            spec, label = args.model, args.model
        else:
            spec = random_model(work / "model", args.model)
            label = f"{args.model} (random weights)"
        data, root, staging = work / "data", work / "Pictures", work / "Downloads"
        for i in range(args.library):
            target = root / f"{i // 50:02d}" / f"IMG_{i:04d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(photo(i, (640, 480)))
        staging.mkdir()
        news = []
        for i in range(args.runs):
            path = staging / f"new-{i:03d}.jpg"
            path.write_bytes(photo(100_000 + i, size))
            news.append(path)
        print(f"indexing a library of {args.library} photos with {label}…", file=sys.stderr)
        with Writer(DataDir(data), "index") as writer:
            writer.add_roots([str(root)])
            writer.load_model(ModelSpec.parse(spec), device="cpu")
            writer.index()

        log = open(work / "watch.log", "w")
        watch = subprocess.Popen(
            [sys.executable, "-m", "photofind", "--data-dir", str(data), "watch",
             "--device", "cpu"], stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while "watching" not in (work / "watch.log").read_text():
                if watch.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("photofind watch did not start:\n"
                                     + (work / "watch.log").read_text())
                time.sleep(0.1)
            searcher = Searcher(DataDir(data), device="cpu")
            vectors = []
            for path in news:  # the query vectors, computed before any timing
                decoded, _hash, _size = open_image(path, searcher.embedder.image_size)
                tensor = searcher.embedder.preprocess(decoded.image)
                vectors.append(searcher.embedder.embed_images([tensor])[0])
            latencies = []
            for i, (path, vector) in enumerate(zip(news, vectors, strict=True)):
                target = root / "phone" / path.name
                target.parent.mkdir(exist_ok=True)
                shutil.copyfile(path, target)
                copied = time.monotonic()
                while True:
                    hits = searcher.search_vector(vector, 1)
                    if hits and hits[0].path == str(target):
                        break
                    if time.monotonic() - copied > 30:
                        raise SystemExit(f"{target} did not appear within 30 s")
                    time.sleep(0.01)
                latencies.append(time.monotonic() - copied)
                print(f"run {i + 1:2d}: {latencies[-1]:.2f} s", file=sys.stderr)
                time.sleep(0.5)
            searcher.close()
        finally:
            watch.send_signal(2)
            try:
                watch.wait(10)
            except subprocess.TimeoutExpired:
                watch.kill()
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median, worst, best = statistics.median(latencies), max(latencies), min(latencies)
    megapixels = size[0] * size[1] / 1e6
    body = (
        "From the end of a copy into a watched folder until a search in another process "
        "finds the photo, with `photofind watch` running (`--device cpu`). The watcher waits "
        "for 0.5 s without events on a path (the file has settled), then decodes, embeds and "
        "commits it; the searcher catches up with committed rows on every query.\n\n"
        + table(["runs", "median", "worst", "best", "model", "new photo", "library"],
                [[len(latencies), f"{median:.2f} s", f"{worst:.2f} s", f"{best:.2f} s",
                  label, f"{megapixels:.0f} MP JPEG", f"{args.library} photos"]])
    )
    print(body)
    if not args.no_write:
        chart = Chart("New photo copied into a watched folder → found by a search",
                      "seconds (lower is better)",
                      [(f"run {i + 1}", [("copy → found", v)]) for i, v in enumerate(latencies)],
                      targets=[("median", median), ("target: 5 s", 5.0)],
                      note=f"{len(latencies)} runs, photofind watch --device cpu, {label}")
        update_section(TITLE, body + "\n\n" + bars("freshness", chart))
    return 0 if worst < 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
