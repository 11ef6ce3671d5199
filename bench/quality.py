"""Search quality of the shipped demo model on held-out scenes, through the real indexer.

    python bench/quality.py [--count 3000] [--no-write]

Writes `--count` scenes of the *test* split (never seen in training) into a temporary
library, indexes them with `photofind`'s own Writer and the demo model, then asks the
real Searcher:

- text queries "COLOUR SHAPE" for every colour × shape (relevant: the scene has a shape
  of that colour and kind), and "COLOUR SHAPE on BACKGROUND" for every combination with
  at least 10 relevant scenes (relevant: also that background);
- image queries: `similar` with fresh *validation* scenes of one shape (relevant: a
  scene holding a shape of the same colour and kind).

It reports precision@10 and mean average precision (over the whole ranking), and
writes them to docs/benchmarks.md. It does so once for each index backend
(`--backends`, default ONNX Runtime int8, photofind's CPU default, and torch fp32, the
reference), to show the faster path loses no retrieval quality.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.datadir import DataDir  # noqa: E402
from photofind.core.embedder import ModelSpec  # noqa: E402
from photofind.core.library import Searcher, Writer  # noqa: E402
from photofind.demo import (  # noqa: E402  # noqa: E402
    COLOURS,
    SHAPES,
    jpeg_bytes,
    make_scene,
    parse_stem,
    render,
    scene_matches,
    write_library,
)


def average_precision(relevance: list[bool], total_relevant: int) -> float:
    hits, score = 0, 0.0
    for rank, rel in enumerate(relevance, 1):
        if rel:
            hits += 1
            score += hits / rank
    return score / total_relevant if total_relevant else 0.0


def evaluate(searcher: Searcher, scenes: dict[str, object], queries, search) -> dict:
    p10, aps = [], []
    n = len(scenes)
    for query, judge in queries:
        results = search(searcher, query, n)
        relevance = [judge(scenes[r.path]) for r in results]
        total = sum(judge(s) for s in scenes.values())
        p10.append(sum(relevance[:10]) / 10)
        aps.append(average_precision(relevance, total))
    return {"queries": len(p10), "p10": float(np.mean(p10)), "map": float(np.mean(aps)),
            "worst_p10": float(np.min(p10))}


def measure(args, tmp: Path, library: Path, paths: list[Path], backend: str,
            precision: str) -> tuple[dict, float, int, float]:
    """Index the test scenes with one backend and ask every query: (results, index s,
    embedded, mean text query ms)."""
    t0 = time.perf_counter()
    data = DataDir(tmp / f"data-{backend}-{precision}")
    with Writer(data, "bench") as writer:
        roots = writer.add_roots([str(library)])
        writer.load_model(ModelSpec.demo(), device="cpu", backend=backend, precision=precision)
        report = writer.index(roots)
    index_s = time.perf_counter() - t0
    scenes = {str(p): parse_stem(p.stem) for p in paths}

    searcher = Searcher(data, device="cpu")
    single = [(f"{c} {s}", lambda sc, c=c, s=s: scene_matches(sc, c, s))
              for c in COLOURS for s in SHAPES]
    with_bg = []
    for c in COLOURS:
        for s in SHAPES:
            for bg in COLOURS:
                judge = (lambda sc, c=c, s=s, bg=bg: scene_matches(sc, c, s, bg))  # noqa: E731
                if sum(judge(sc) for sc in scenes.values()) >= 10:
                    with_bg.append((f"{c} {s} on {bg}", judge))
    text = lambda se, q, n: se.search_text(q, n)  # noqa: E731
    results = {
        "text: colour + shape": evaluate(searcher, scenes, single, text),
        "text: colour + shape on background": evaluate(searcher, scenes, with_bg, text),
    }
    queries = []
    i = 0
    while len(queries) < args.image_queries:
        scene = make_scene(i, "val")
        i += 1
        if len(scene.shapes) != 1:
            continue
        c, s, _ = scene.shapes[0]
        path = tmp / f"query-{i}.jpg"
        path.write_bytes(jpeg_bytes(render(scene)))
        queries.append((str(path), lambda sc, c=c, s=s: scene_matches(sc, c, s)))
    image = lambda se, q, n: se.search_image(q, n)  # noqa: E731
    results["image → image (similar)"] = evaluate(searcher, scenes, queries, image)
    t0 = time.perf_counter()
    for q in ("red circle", "blue square on yellow", "green star"):
        searcher.search_text(q, 10)
    query_ms = (time.perf_counter() - t0) / 3 * 1000
    searcher.close()
    return results, index_s, report.embedded, query_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--image-queries", type=int, default=64)
    parser.add_argument("--backends", default="onnx:int8,torch:fp32",
                        help="comma-separated BACKEND:PRECISION to index with "
                             "(default: photofind's CPU default and the fp32 reference)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    rows, notes = [], []
    p10: dict[str, list[tuple[str, float]]] = {}  # query kind → (backend, P@10)
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "test-scenes"
        paths = write_library(library, args.count, split="test")
        for item in args.backends.split(","):
            backend, precision = item.split(":")
            results, index_s, embedded, query_ms = measure(
                args, Path(tmp), library, paths, backend, precision)
            rows += [[f"{backend} {precision}", name, r["queries"], f"{r['p10']:.3f}",
                      f"{r['worst_p10']:.2f}", f"{r['map']:.3f}"] for name, r in results.items()]
            for name, r in results.items():
                p10.setdefault(name, []).append((f"{backend} {precision}", r["p10"]))
            notes.append(f"{backend} {precision}: indexed in {index_s:.1f} s ({embedded} "
                         f"embedded), mean text query {query_ms:.1f} ms")

    body = (
        f"{args.count} held-out *test* scenes written and indexed with the demo model through "
        "`Writer.index`, once per backend; relevance judged from each file's name. Image "
        "queries are fresh *validation* scenes with one shape.\n\n"
        + table(["index backend", "queries", "n", "precision@10", "worst P@10", "mAP"], rows)
        + "\n\nTargets: P@10 ≥ 0.9 (colour + shape), ≥ 0.7 (with background). "
        + "; ".join(notes) + " (CPU)."
    )
    print(body)
    if not args.no_write:
        chart = Chart("Demo model: precision@10 by query kind and index backend",
                      "precision@10 (higher is better)", list(p10.items()),
                      targets=[("target, colour + shape: 0.9", 0.9),
                               ("with background: 0.7", 0.7)], decimals=3)
        update_section("Demo model quality (bench/quality.py)",
                       body + "\n\n" + bars("quality", chart))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
