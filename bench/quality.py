"""Search quality of the shipped demo model on held-out scenes, through the real indexer.

    python bench/quality.py [--small 300] [--seeds 3] [--count 3000] [--no-write]

Measures the demo model the way the demo is used: libraries of `--small` scenes (the
size `photofind demo` writes), `--seeds` of them (test scenes 0–299, 300–599, ...: never
seen in training), each written to a temporary folder, indexed with photofind's own
Writer and the demo model, and asked by the real Searcher; and, beside them, one library
of `--count` test scenes (the easier question: 10 answers out of ~130 matches).

Query kinds (every query with at least one right answer in the library):

- "COLOUR SHAPE" for every colour × shape (relevant: a shape of that colour and kind);
- "COLOUR SHAPE on BACKGROUND", and the same as a sentence ("a red circle on a blue
  background") (relevant: also that background);
- "SIZE COLOUR SHAPE" ("small red circle"; relevant: a shape of that size too);
- "COLOUR SHAPE and COLOUR SHAPE" (relevant: both shapes in the photo);
- image → image: `similar` with fresh *validation* scenes of one shape (relevant: a scene
  holding a shape of the same colour and kind).

Per query: precision at k = min(10, number relevant) (R-precision when fewer than 10 are
right: what a person sees at the top of the grid), precision@10, and average precision
over the whole ranking. Per kind: their means over all queries of all libraries, and the
worst query (a query's precision averaged over the libraries it has answers in). Index
backends: `--backends` (default ONNX Runtime int8, photofind's CPU default, and torch
fp32, the reference). Also times indexing each small library once the model is prepared
(exported). Writes docs/benchmarks.md unless --no-write.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.ingest.writer import Writer  # noqa: E402
from photofind.core.model.specs import ModelSpec  # noqa: E402
from photofind.core.search.engine import Engine  # noqa: E402
from photofind.core.search.query import Query  # noqa: E402
from photofind.core.search.searcher import Searcher  # noqa: E402
from photofind.core.store.datadir import DataDir  # noqa: E402
from photofind.demo import (  # noqa: E402
    COLOURS,
    SHAPES,
    SIZES,
    jpeg_bytes,
    make_scene,
    render,
    scene_matches,
    write_library,
)

COLOUR_SHAPE = "COLOUR SHAPE"
ON_BACKGROUND = "COLOUR SHAPE on BACKGROUND"
SENTENCE = "a COLOUR SHAPE on a BACKGROUND background"
SIZED = "SIZE COLOUR SHAPE"
TWO = "COLOUR SHAPE and COLOUR SHAPE"
IMAGE = "image → image (similar)"
KINDS = (COLOUR_SHAPE, ON_BACKGROUND, SENTENCE, SIZED, TWO, IMAGE)
#: Targets on the small libraries (issue 19): (mean P@k, worst query).
TARGETS = {COLOUR_SHAPE: (0.92, 0.7), ON_BACKGROUND: (0.85, None), IMAGE: (0.85, None)}
#: Queries that mean nothing to the demo model (tests/test_demo_e2e.py asks the same).
NONSENSE = ("asdfgh", "qwerty uiop", "zxcvbnm", "lorem ipsum", "xyzzy plugh", "hjkl",
            "mmmmmm", "blorf", "wxq", "ptang zoop")


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def text_queries(scenes: list) -> dict[str, list[tuple[str, object]]]:
    """Every text query of every kind with at least one right answer among `scenes`."""
    def has(c, s, z=None, bg=None):
        return lambda sc: scene_matches(sc, c, s, bg) and (
            z is None or any(shape == (c, s, z) for shape in sc.shapes))

    def both(c1, s1, c2, s2):
        return lambda sc: scene_matches(sc, c1, s1) and scene_matches(sc, c2, s2)

    kinds: dict[str, list] = {k: [] for k in KINDS if k != IMAGE}
    pairs = [(a, b) for i, a in enumerate((c, s) for c in COLOURS for s in SHAPES)
             for j, b in enumerate((c, s) for c in COLOURS for s in SHAPES) if i < j]
    for c in COLOURS:
        for s in SHAPES:
            kinds[COLOUR_SHAPE].append((f"{c} {s}", has(c, s)))
            for z in SIZES:
                kinds[SIZED].append((f"{z} {c} {s}", has(c, s, z)))
            for bg in COLOURS:
                if bg != c:
                    kinds[ON_BACKGROUND].append((f"{c} {s} on {bg}", has(c, s, bg=bg)))
                    kinds[SENTENCE].append((f"{_a(c)} {c} {s} on {_a(bg)} {bg} background",
                                            has(c, s, bg=bg)))
    for (c1, s1), (c2, s2) in pairs:
        kinds[TWO].append((f"{c1} {s1} and {c2} {s2}", both(c1, s1, c2, s2)))
    return {k: [(q, judge) for q, judge in qs if any(judge(sc) for sc in scenes)]
            for k, qs in kinds.items()}


def image_queries(folder: Path, count: int) -> list[tuple[str, object]]:
    """`count` fresh validation scenes of one shape, written as JPEG files."""
    folder.mkdir(parents=True, exist_ok=True)
    queries, i = [], 0
    while len(queries) < count:
        scene = make_scene(i, "val")
        i += 1
        if len(scene.shapes) != 1:
            continue
        c, s, _ = scene.shapes[0]
        path = folder / f"query-{i}.jpg"
        path.write_bytes(jpeg_bytes(render(scene)))
        queries.append((str(path), lambda sc, c=c, s=s: scene_matches(sc, c, s)))
    return queries


def score(relevance: list[bool], total: int) -> dict:
    """P@k (k = min(10, total)), P@10 and average precision of one ranking."""
    k = min(10, total)
    hits, ap = 0, 0.0
    for rank, rel in enumerate(relevance, 1):
        if rel:
            hits += 1
            ap += hits / rank
    return {"pk": sum(relevance[:k]) / k, "p10": sum(relevance[:10]) / 10,
            "ap": ap / total, "relevant": total}


def ask(searcher: Searcher, scenes: dict[str, object], queries, search) -> list[dict]:
    out = []
    for query, judge in queries:
        results = search(searcher, query, len(scenes))
        total = sum(judge(s) for s in scenes.values())
        out.append({"query": query, **score([judge(scenes[r.path]) for r in results], total)})
    return out


def good_matches(searcher: Searcher, scenes: dict[str, object], text_qs, images) -> dict:
    """The good-match cut-off (photofind/core/search/relevance.py): for each "COLOUR
    SHAPE" query and each image query, the precision and recall of the photos marked good
    (precision 1 when none is); for nonsense, whether no photo is."""
    engine, n = Engine(searcher), len(scenes)

    def judge(query: Query, is_right) -> tuple[float, float]:
        good = {h.photo.path for h in engine.run(query).hits if h.good}
        right = {p for p, sc in scenes.items() if is_right(sc)}
        return (len(good & right) / len(good) if good else 1.0), len(good & right) / len(right)

    text = [judge(Query(text=q, limit=n), j) for q, j in text_qs]
    image = [judge(Query(examples=(q,), limit=n), j) for q, j in images]
    empty = [not any(h.good for h in engine.run(Query(text=q, limit=n)).hits) for q in NONSENSE]
    return {"text": text, "image": image, "nonsense": empty}


def index_library(tmp: Path, name: str, library: Path, backend: str, precision: str,
                  prepared: Path | None) -> tuple[DataDir, float, int]:
    """Index `library` in a fresh data directory; the model's exported files are copied
    from `prepared` when given. Returns (data dir, seconds indexing, photos embedded);
    the seconds leave out loading (and exporting) the model."""
    data = DataDir(tmp / f"data-{name}-{backend}-{precision}")
    if prepared is not None:
        shutil.copytree(prepared, data.models)
    with Writer(data, "bench") as writer:
        roots = writer.add_roots([str(library)])
        writer.load_model(ModelSpec.demo(), device="cpu", backend=backend, precision=precision)
        t0 = time.perf_counter()
        report = writer.index(roots)
        seconds = time.perf_counter() - t0
    return data, seconds, report.embedded


def measure_library(tmp: Path, name: str, library: Path, paths: list[Path], scenes: list,
                    images, backend: str, precision: str,
                    prepared: Path | None) -> tuple[dict, float, DataDir]:
    """Every query of every kind on one library: {kind: [per-query scores]}."""
    data, seconds, embedded = index_library(tmp, name, library, backend, precision, prepared)
    assert embedded == len(scenes), f"{embedded} of {len(scenes)} photos embedded"
    by_path = {str(p): sc for p, sc in zip(paths, scenes, strict=True)}
    searcher = Searcher(data, device="cpu")
    try:
        text = lambda se, q, n: se.search_text(q, n)  # noqa: E731
        results = {kind: ask(searcher, by_path, qs, text)
                   for kind, qs in text_queries(scenes).items()}
        results[IMAGE] = ask(searcher, by_path, images, lambda se, q, n: se.search_image(q, n))
        results["good"] = good_matches(searcher, by_path, text_queries(scenes)[COLOUR_SHAPE],
                                       images)
    finally:
        searcher.close()
    return results, seconds, data


def summarise(per_library: list[dict]) -> dict[str, dict]:
    """Means over every query of every library, per kind, and the worst query."""
    out = {}
    for kind in KINDS:
        rows = [r for lib in per_library for r in lib[kind]]
        by_query = defaultdict(list)
        for r in rows:
            by_query[r["query"]].append(r["pk"])
        worst_query, worst = min(((q, float(np.mean(v))) for q, v in by_query.items()),
                                 key=lambda qv: qv[1])
        out[kind] = {"queries": len(by_query), "asked": len(rows),
                     "pk": float(np.mean([r["pk"] for r in rows])),
                     "p10": float(np.mean([r["p10"] for r in rows])),
                     "map": float(np.mean([r["ap"] for r in rows])),
                     "relevant": float(np.mean([r["relevant"] for r in rows])),
                     "worst": worst, "worst_query": worst_query}
    return out


def run_backend(args, tmp: Path, small_libs, big_lib, images, backend: str, precision: str):
    prepared = None
    per_library, seconds = [], []
    for i, (library, paths, scenes) in enumerate(small_libs):
        results, s, data = measure_library(tmp, f"small{i}", library, paths, scenes, images,
                                           backend, precision, prepared)
        prepared = prepared or data.models
        per_library.append(results)
        seconds.append(s)
    small = summarise(per_library)
    small["good"] = {key: [v for lib in per_library for v in lib["good"][key]]
                     for key in ("text", "image", "nonsense")}
    big = None
    if big_lib is not None:
        results, _s, _data = measure_library(tmp, "big", *big_lib, images, backend, precision,
                                             prepared)
        big = summarise([results])
    return small, big, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=300, help="scenes in each small library")
    parser.add_argument("--seeds", type=int, default=3, help="how many small libraries")
    parser.add_argument("--count", type=int, default=3000,
                        help="scenes in the large library (0: none)")
    parser.add_argument("--image-queries", type=int, default=64)
    parser.add_argument("--backends", default="onnx:int8,torch:fp32",
                        help="comma-separated BACKEND:PRECISION to index with "
                             "(default: photofind's CPU default and the fp32 reference)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    runs = {}
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        small_libs = []
        for i in range(args.seeds):
            folder = tmp / f"small-{i}"
            paths = write_library(folder, args.small, seed=i * args.small, split="test")
            small_libs.append((folder, paths, [make_scene(i * args.small + j, "test")
                                               for j in range(args.small)]))
        big_lib = None
        if args.count:
            paths = write_library(tmp / "big", args.count, split="test")
            big_lib = (tmp / "big", paths, [make_scene(j, "test") for j in range(args.count)])
        images = image_queries(tmp / "queries", args.image_queries)
        for item in args.backends.split(","):
            backend, precision = item.split(":")
            runs[f"{backend} {precision}"] = run_backend(args, tmp, small_libs, big_lib,
                                                         images, backend, precision)
    body = report(args, runs)
    print(body)
    if not args.no_write:
        name, (small, big, _s) = next(iter(runs.items()))
        series = [(kind, [(f"{args.small} scenes × {args.seeds}", small[kind]["pk"])]
                   + ([(f"{args.count} scenes", big[kind]["pk"])] if big else []))
                  for kind in KINDS]
        chart = Chart(f"Demo model ({name}): precision at k = min(10, relevant), by query kind",
                      "precision at k (higher is better)", series,
                      targets=[("target, colour shape: 0.92", 0.92),
                               ("on background, image → image: 0.85", 0.85)], decimals=3)
        update_section("Demo model quality (bench/quality.py)",
                       body + "\n\n" + bars("quality", chart))
    return 0


def report(args, runs: dict) -> str:
    name, (small, big, seconds) = next(iter(runs.items()))
    rows = []
    for kind in KINDS:
        s = small[kind]
        target = TARGETS.get(kind)
        row = [kind, f"{s['queries']} ({s['relevant']:.1f})", f"**{s['pk']:.3f}**",
               f"{s['worst']:.2f} ({s['worst_query'] if kind != IMAGE else 'a photo'})",
               f"{s['map']:.3f}",
               ("≥ " + str(target[0]) + (f", worst ≥ {target[1]}" if target[1] else ""))
               if target else ""]
        if big:
            b = big[kind]
            row += [f"{b['pk']:.3f}", f"{b['p10']:.3f}", f"{b['map']:.3f}"]
        rows.append(row)
    headers = ["query kind", "queries (mean relevant)", "P@k", "worst query", "mAP", "target"]
    if big:
        headers += [f"{args.count}: P@k", f"{args.count}: P@10", f"{args.count}: mAP"]
    lines = [
        f"The demo model on {args.seeds} libraries of {args.small} held-out *test* scenes "
        f"(the size `photofind demo` writes; test scenes 0–{args.small - 1}, "
        f"{args.small}–{2 * args.small - 1}, ...)" + (
            f", and, in the last columns, on one library of {args.count} test scenes"
            if big else "") + f", indexed with `{name}` through `Writer.index` and asked "
        "through `Searcher`. Relevance comes from each scene's content (its file name "
        "spells it). **P@k**: precision at k = min(10, number of right answers), what a "
        "person sees at the top of the grid; *worst query*: the lowest P@k of one query, "
        "averaged over the libraries; mAP over the whole ranking. Every query with at least "
        "one right answer in a library is asked there. Image queries: "
        f"{args.image_queries} fresh *validation* scenes with one shape.",
        "",
        table(headers, rows),
        "",
        f"Indexing a {args.small}-scene library once the model is prepared (exported): "
        f"{statistics.median(seconds):.2f} s (median of {len(seconds)}; target ≤ 5 s).",
        "",
        good_report(small["good"], args),
    ]
    for other, (osmall, obig, oseconds) in list(runs.items())[1:]:
        diff = max(abs(osmall[k]["pk"] - small[k]["pk"]) for k in KINDS)
        if big and obig:
            diff = max(diff, max(abs(obig[k]["pk"] - big[k]["pk"]) for k in KINDS))
        lines.append(f"Indexed with `{other}` instead, every P@k above is within {diff:.3f} "
                     f"(indexing {statistics.median(oseconds):.2f} s).")
    return "\n".join(lines)


def good_report(good: dict, args) -> str:
    def mean(pairs, i):
        return float(np.mean([p[i] for p in pairs]))
    return (
        f"Good matches (the cut-off of `photofind search`, on the same {args.seeds} libraries): "
        f"for the 32 \"COLOUR SHAPE\" queries the photos marked good are right "
        f"{mean(good['text'], 0):.3f} of the time and hold {mean(good['text'], 1):.3f} of the "
        f"right photos (mean precision and recall; targets ≥ 0.85 and ≥ 0.5); for image "
        f"queries {mean(good['image'], 0):.3f} and {mean(good['image'], 1):.3f}; "
        f"{int(np.sum(good['nonsense']))} of {len(good['nonsense'])} nonsense queries (\"asdfgh\", "
        "\"qwerty uiop\" ..., asked in each library) have no good match (target ≥ 0.9 of them).")


if __name__ == "__main__":
    raise SystemExit(main())
