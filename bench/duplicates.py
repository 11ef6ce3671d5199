"""Duplicates: quality on a real Pillow library, and the whole-library pass at 100k-1M.

    python bench/duplicates.py [--scenes 60] [--sizes 100000,1000000] [--no-write]

Quality: `photofind.demo.variants` writes `--scenes` demo scenes, each with an exact
copy, a JPEG re-encode at quality 60, a 50% resize, a PNG conversion, an EXIF-rotated
copy (pixels stored turned), a 3% crop and an EXIF-stripped copy, plus two decoys: a
photo with the same caption (same subject and layout, another picture, no date) and a
burst shot (the same scene 5 s later, its shapes moved). `photofind index` (the demo
model) and `photofind duplicates --json` run as child processes; pair precision and
recall count every pair of files put in one group against the truth. The fingerprint
differences per kind of pair are printed too: they are what chose the thresholds.

Speed: the *lowrank* libraries of bench/queries.py (512-d synthetic CLIP-like vectors, catalog + saved usearch index, built there) are copied, migrated, given random
fingerprints, and 4% of photos get a near copy (the fingerprint of their nearest
neighbour plus noise) and 1% an exact copy (same hash); then `Finder.find` runs in a
child process: seconds, progress, peak memory. Stacking: 200 searches' top 56 results
stacked (`stacking.stack`), milliseconds per query.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/pfbench/duplicates")
SOURCE = Path("/tmp/pfbench/libraries")  # bench/queries.py's libraries
PY = sys.executable


def quality(scenes: int) -> tuple[str, dict]:
    from photofind.core.duplicates import fingerprint as fp
    from photofind.core.media.decode import decode_for_model
    from photofind.demo.variants import write_duplicate_library

    work = Path(tempfile.mkdtemp(prefix="pfdup-"))
    items = write_duplicate_library(work / "library", scenes)
    run = [PY, "-m", "photofind", "--data-dir", str(work / "data")]
    subprocess.run([*run, "index", str(work / "library"), "--model", "demo", "--json"],
                   check=True, capture_output=True)
    t0 = time.perf_counter()
    out = subprocess.run([*run, "duplicates", "--json"], check=True, capture_output=True,
                         text=True).stdout
    wall = time.perf_counter() - t0
    found = json.loads(out)
    group = {str(i.path): i.group for i in items}
    kind = {str(i.path): i.kind for i in items}
    predicted = {tuple(sorted(p)) for g in found["groups"]
                 for p in itertools.combinations([m["path"] for m in g["photos"]], 2)}
    true = {tuple(sorted(p)) for p in itertools.combinations(group, 2)
            if group[p[0]] == group[p[1]]}
    hit = predicted & true
    decoys = sum(1 for g in found["groups"] for m in g["photos"]
                 if kind[m["path"]] in ("same-caption", "burst"))
    missed = Counter(k for a, b in true - hit for k in (kind[a], kind[b]) if k != "original")
    # fingerprint differences per kind of pair (as the indexer decodes: the model's size)
    cells = fp.cells([fp.compute(decode_for_model(Path(p).read_bytes(), 64).image)
                      for p in group])
    paths = list(group)
    rows, pairs = {}, []
    for a, b in itertools.combinations(range(len(paths)), 2):
        ga, gb = group[paths[a]], group[paths[b]]
        if ga[:3] != gb[:3]:
            continue
        ka, kb = kind[paths[a]], kind[paths[b]]
        label = ("3% crop with a copy" if "crop3" in (ka, kb) else "other copies") \
            if ga == gb else ("same caption (decoy)" if "same-caption" in (ka, kb)
                              else "burst shot (decoy)")
        pairs.append((label, a, b))
    mean, worst = fp.differences(cells[[a for _, a, _ in pairs]], cells[[b for _, _, b in pairs]])
    for (label, _, _), m, w in zip(pairs, mean, worst, strict=True):
        rows.setdefault(label, []).append((m, w))
    sep = [[label, len(v), f"{min(x for x, _ in v):.1f} – {max(x for x, _ in v):.1f}",
            f"{min(y for _, y in v):.0f} – {max(y for _, y in v):.0f}",
            sum(1 for x, y in v if x <= fp.MEAN_MAX and y <= fp.CELL_MAX)]
           for label, v in rows.items()]
    figures = {"precision": len(hit) / max(len(predicted), 1), "recall": len(hit) / len(true),
               "pairs": len(true), "predicted": len(predicted), "decoys": decoys,
               "files": len(items), "seconds": found["seconds"], "wall": wall,
               "missed": dict(missed)}
    shutil.rmtree(work, ignore_errors=True)
    body = (
        f"{scenes} scenes × (original + 7 variants) + 2 decoys each = {len(items)} files, "
        "indexed with the demo model; `photofind duplicates --json`:\n\n"
        + table(["pairs (truth)", "pairs found", "pair precision", "pair recall",
                 "decoys grouped", "pass (in the command)", "command, launch to exit"],
                [[len(true), len(predicted), f"{figures['precision']:.3f}",
                  f"{figures['recall']:.3f}", decoys, f"{found['seconds']:.2f} s",
                  f"{wall:.2f} s"]])
        + f"\n\nTargets: precision ≥ 0.95, recall ≥ 0.9, no decoy grouped. Missed pairs by "
        f"variant: {dict(missed) or 'none'}.\n\nFingerprint differences (12×12 YCbCr cells, "
        "best centred zoom; mean and largest cell difference, 0-255, chroma ×2) for pairs "
        "within a scene's family, and how many pass the same-picture test "
        f"(mean ≤ {fp.MEAN_MAX:g}, largest ≤ {fp.CELL_MAX:g}):\n\n"
        + table(["pair", "count", "mean difference", "largest cell", "pass"], sep)
        + "\n\nBurst shots that pass the pixel test are still not duplicates: their EXIF "
        "dates differ (a group holds one date taken); they are reported as `--kind burst`.")
    return body, figures


def speed_library(n: int, dup_rate: float = 0.04, exact_rate: float = 0.01) -> Path:
    """A copy of bench/queries.py's lowrank library of `n` photos with fingerprints and
    planted copies."""
    from photofind.core.duplicates import fingerprint as fp
    from photofind.core.store.catalog import Catalog
    from photofind.core.store.vectorindex import VectorIndex, read_state

    folder = WORK / f"lib-{n}"
    if (folder / "done").exists():
        return folder
    source = SOURCE / f"lib-lowrank-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    if (source / "done").exists():
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("models"))
    else:  # built here as bench/queries.py builds it (its vectors, its rows)
        build_base(folder, n)
    catalog = Catalog.open_for_writing(folder / "catalog.db", folder / "backups")
    state = read_state(catalog)
    rng = np.random.default_rng(0)
    prints = rng.integers(0, 256, (n, fp.SIZE), dtype=np.uint8)
    prints[:, 0] = fp.VERSION
    index = VectorIndex.open_for_reading(folder, catalog, state.model, state.dim).index
    ids = rng.choice(np.arange(1, n + 1), int(n * dup_rate), replace=False)
    vectors = np.stack([catalog.vector(int(i)) for i in ids])
    near = np.asarray(index.search(vectors, count=2).keys)[:, 1].astype(np.int64)
    # pairs that share no photo with another planted pair (a chain would join groups
    # whose dates differ, which the pass rightly refuses)
    seen, keep = set(), []
    for k, (i, j) in enumerate(zip(ids.tolist(), near.tolist(), strict=True)):
        if i not in seen and j not in seen and i != j:
            seen |= {i, j}
            keep.append(k)
    ids, near = ids[keep], near[keep]
    for i, j in zip(ids.tolist(), near.tolist(), strict=True):
        noise = rng.integers(-3, 4, fp.SIZE - 1)
        prints[j - 1, 1:] = np.clip(prints[i - 1, 1:].astype(int) + noise, 0, 255)
    with catalog.db.atomic():  # a re-encode keeps its original's date taken
        catalog.conn.executemany(
            "UPDATE photos SET taken = (SELECT taken FROM photos WHERE id = ?) WHERE id = ?",
            ((int(i), int(j)) for i, j in zip(ids, near, strict=True)))
        catalog.conn.executemany("UPDATE photos SET fingerprint = ? WHERE id = ?",
                                 ((prints[k].tobytes(), k + 1) for k in range(n)))
        free = np.setdiff1d(np.arange(1, n + 1), np.fromiter(seen, np.int64))
        exact = rng.choice(free, int(n * exact_rate) * 2, replace=False)
        catalog.conn.executemany(
            "UPDATE photos SET hash = (SELECT hash FROM photos WHERE id = ?) WHERE id = ?",
            ((int(a), int(b)) for a, b in exact.reshape(-1, 2)))
    catalog.close()
    np.save(folder / "planted.npy", np.concatenate([np.stack([ids, near], axis=1),
                                                    exact.reshape(-1, 2)]).astype(np.int64))
    (folder / "done").write_text(json.dumps({"near": len(ids), "exact": len(exact) // 2}))
    return folder


def build_base(folder: Path, n: int) -> None:
    """bench/queries.py's *lowrank* library of `n` photos (same vectors, rows and dates),
    without its text tower: the catalog, then the usearch index saved by photofind."""
    from queries import insert_rows, synth

    from photofind.core.store.catalog import Catalog
    from photofind.core.store.vectorindex import VectorIndex

    folder.mkdir(parents=True)
    catalog = Catalog.open_for_writing(folder / "catalog.db", folder / "backups")
    model = "bench-lowrank"
    vectors = synth(n, kind="lowrank")
    with catalog.db.atomic():
        insert_rows(catalog, vectors, model,
                    lambda i: f"{2010 + i % 15}-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00")
    del vectors
    t0 = time.perf_counter()
    VectorIndex.rebuild(folder, catalog, model, catalog.conn.execute(
        "SELECT dim FROM photos LIMIT 1").fetchone()[0])
    print(f"  index of {n:,} built in {time.perf_counter() - t0:.0f} s", flush=True)
    catalog.close()


def one_pass(folder: str) -> None:
    """In a child process: the whole-library pass; prints its figures as JSON."""
    from photofind.core.duplicates.finder import Finder
    from photofind.core.store.catalog import Catalog
    from photofind.core.store.vectorindex import VectorIndex, read_state

    catalog = Catalog.open_for_reading(Path(folder) / "catalog.db")
    state = read_state(catalog)
    t0 = time.perf_counter()
    index = VectorIndex.open_for_reading(Path(folder), catalog, state.model, state.dim).index
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            print(f"  {done:,}/{total:,} photos compared, {last[0] - t0:.0f} s", file=sys.stderr,
                  flush=True)

    found = Finder(catalog.conn, index, state.model).find(("exact", "near"), progress=progress)
    seconds = time.perf_counter() - t0
    kinds = Counter(g.kind for g in found.groups)
    group_of = {m.id: n for n, g in enumerate(found.groups) for m in g.photos}
    planted = np.load(Path(folder) / "planted.npy")
    together = sum(1 for a, b in planted.tolist()
                   if a in group_of and group_of[a] == group_of.get(b))
    print(json.dumps({"seconds": seconds, "exact": kinds["exact"], "near": kinds["near"],
                      "planted": len(planted), "found": together,
                      "compared": found.compared,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def stacking(folder: Path, queries: int = 200) -> tuple[float, float]:
    from photofind.core.duplicates.stacking import stack
    from photofind.core.store.catalog import Catalog
    from photofind.core.store.vectorindex import VectorIndex, read_state

    catalog = Catalog.open_for_reading(folder / "catalog.db")
    state = read_state(catalog)
    vi = VectorIndex.open_for_reading(folder, catalog, state.model, state.dim)
    rng = np.random.default_rng(1)
    times = []
    for i in rng.integers(1, len(vi) + 1, queries).tolist():
        q = catalog.vector(int(i)) + rng.normal(0, 0.02, state.dim).astype(np.float32)
        ids, scores = vi.search(q / np.linalg.norm(q), 56)
        vectors = np.asarray(vi.index.get(ids, dtype=np.float32))  # the engine has them
        t0 = time.perf_counter()
        stack(catalog.conn, [int(x) for x in ids], scores.tolist(), vectors)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=60)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--pass", dest="one_pass", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_pass:
        return one_pass(args.one_pass)
    sections = []
    if args.scenes:
        body, figures = quality(args.scenes)
        print(body, flush=True)
        sections.append("### Quality\n\n" + body)
    rows = []
    for n in (int(s) for s in args.sizes.split(",") if s):
        print(f"{n:,} photos:", flush=True)
        folder = speed_library(n)
        out = subprocess.run([PY, __file__, "--pass", str(folder)], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        p50, p95 = stacking(folder)
        target = "60 s" if n <= 100_000 else "15 min"
        rows.append([f"{n:,}", f"{figures['seconds']:.1f} s", target,
                     f"{figures['found']:,} of {figures['planted']:,}",
                     f"{figures['near']:,} / {figures['exact']:,}",
                     f"{figures['compared']:,}", f"{figures['rss_mb']:.0f} MB",
                     f"{p50:.2f} / {p95:.2f} ms"])
        print(rows[-1], flush=True)
    if rows:
        body = (
            "The whole-library pass (`Finder.find`, exact + near, in its own process) over "
            "bench/queries.py's *lowrank* libraries (synthetic CLIP-like 512-d vectors, the "
            "saved usearch index), with random fingerprints, 4% of photos given a near copy "
            "(their nearest neighbour's fingerprint plus noise) and 1% an exact copy. "
            "Stacking: a search's top 56 results folded by `stacking.stack` with their vectors, as the search engine does (200 queries). "
            f"Load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n"
            + table(["photos", "whole pass", "target", "planted pairs found", "near / exact groups",
                     "pairs compared", "peak memory", "stacking p50 / p95"], rows)
            + "\n\nTarget for stacking: ≤ 5 ms per query at 1M.")
        print(body)
        sections.append("### Speed\n\n" + body)
    if not args.no_write and sections:
        update_section("Duplicates (bench/duplicates.py)", "\n\n".join(sections))


if __name__ == "__main__":
    main()
