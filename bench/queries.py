"""Query latency, recall, bytes per photo and search-session memory at 10k-1M photos.

    python bench/queries.py [--sizes 10000,100000,1000000] [--queries 200] [--no-write]

For each size a data directory is built through photofind's own code: catalog rows
(realistic paths, float16 vectors) inserted into the real `Catalog`, then
`VectorIndex.rebuild` (the product's usearch settings) and its save. Vectors are
synthesised like CLIP image embeddings, not uniform noise (see `synth`): a shared mean
direction plus Zipf-sized subjects; *lowrank* (each subject varies along 16 directions:
mean pairwise cosine ~0.26, nearest neighbour ~0.9, as CLIP's) and *isotropic* (gaussian
in all 512 dimensions: a worst case for HNSW). The library's model is ViT-B-32-256
with random weights; its text tower is exported to ONNX as `photofind index` does.

- warm text query (a `Searcher` kept open): p50/p95 of text encoding (ONNX text tower +
  tokenizer), vector search (usearch, k = 56 as the Searcher asks) and catalog lookup
  (rows for those ids), and the whole `search_text`;
- recall@10 of usearch against exact search (float32 dot products) for queries near
  the data (a perturbed photo vector, as a text query lands near its photos);
- cold start: `photofind search "…"` as a child process, launch to exit (median of 5);
- bytes per photo on disk (catalog.db after VACUUM, and the index file), and the peak
  resident memory of a search process at that size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as photofind/__init__.py: before numpy

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import random_model  # noqa: E402
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.model.specs import ModelSpec  # noqa: E402
from photofind.core.store.catalog import Catalog, encode_vector  # noqa: E402
from photofind.core.store.datadir import DataDir  # noqa: E402
from photofind.core.store.vectorindex import VectorIndex  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/pfbench/libraries")
DIM = 512
WORDS = ("a dog on the beach", "kids on a red sled", "birthday cake with candles",
         "mountain lake at sunset", "my cat sleeping on the sofa", "receipt", "snowy street",
         "wedding dance", "whiteboard with diagrams", "a bicycle leaning on a wall")


def synth(n: int, seed: int = 0, clusters: int = 2000, kind: str = "isotropic") -> np.ndarray:
    """Unit vectors: a shared mean direction + one of `clusters` subjects (Zipf-sized) +
    spread within the subject. "isotropic": gaussian spread in all 512 dimensions (a worst
    case for HNSW: inside a big subject all neighbours are nearly equidistant); "lowrank":
    each subject varies along its own 16 directions plus a little isotropic noise, closer
    to CLIP embeddings, whose intrinsic dimension is low."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=DIM).astype(np.float32)
    mean /= np.linalg.norm(mean)
    centers = rng.normal(size=(clusters, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    sizes = rng.zipf(1.6, size=clusters).astype(np.float64)  # some subjects are common
    which = rng.choice(clusters, size=n, p=sizes / sizes.sum())
    bases = (rng.normal(0, 0.5 / np.sqrt(16 * DIM), size=(clusters, 16, DIM)).astype(np.float32)
             if kind == "lowrank" else None)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 50_000):
        idx = which[start:start + 50_000]
        v = 0.5 * mean + 0.8 * centers[idx]
        if bases is None:
            v = v + rng.normal(0, 0.022, size=(len(idx), DIM))
        else:
            z = rng.normal(size=(len(idx), 1, 16)).astype(np.float32)
            v = v + (z @ bases[idx])[:, 0] + rng.normal(0, 0.006, size=(len(idx), DIM))
        out[start:start + len(idx)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


ROOT = "/home/someone/Pictures"


def insert_rows(catalog: Catalog, vectors: np.ndarray, model: str, taken) -> None:
    """One catalog row per vector, as the indexer would write it for a camera's photos
    (`taken(i)`: photo i's date), inside the caller's transaction."""
    n, dim = vectors.shape
    rows = ((f"{ROOT}/{2010 + i % 15}/{1 + i % 12:02d}/event-{i % 37}/IMG_{i:07d}.jpg", ROOT,
             3_000_000 + i, 1_600_000_000_000_000_000 + i * 1_000_000, f"{i:032x}", 4000,
             3000, taken(i), "JPEG", model, dim, encode_vector(vectors[i]), i + 1, time.time())
            for i in range(n))
    catalog.add_root(ROOT)
    catalog.conn.executemany(
        "INSERT INTO photos(path, root, size, mtime_ns, hash, width, height, taken, "
        "format, model, dim, vector, seq, indexed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows)
    catalog.set_meta("seq", str(n))


def build(n: int, model_spec: ModelSpec, text_export: Path, kind: str
          ) -> tuple[DataDir, np.ndarray]:
    folder = WORK / (f"lib-{n}" if kind == "isotropic" else f"lib-{kind}-{n}")
    data = DataDir(folder)
    vectors = synth(n, kind=kind)
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        data.ensure()
        catalog = Catalog.open_for_writing(data.catalog, data.backups)
        model = model_spec.model_id()
        with catalog.db.atomic():
            insert_rows(catalog, vectors, model, lambda i: "2019-07-01T12:00:00")
            catalog.set_meta("model_spec", model_spec.to_json())
        t0 = time.perf_counter()
        VectorIndex.rebuild(folder, catalog, model, DIM)
        print(f"  index built in {time.perf_counter() - t0:.0f} s", flush=True)
        catalog.conn.execute("VACUUM")
        catalog.close()
        shutil.copytree(text_export, data.models / "onnx", dirs_exist_ok=True)
        (folder / "done").write_text("ok")
    from photofind.core.search.engine import prepare_background

    prepare_background(data, model_spec)  # as the writer does when it loads the model
    catalog = Catalog.open_for_writing(data.catalog, data.backups)
    try:  # a library saved by an older photofind: the writer's next open verifies the file
        # and records what readers trust it by (vectorindex.identity), as a user's would
        if "stat" not in json.loads(catalog.get_meta("index_state")):
            VectorIndex.open_for_writing(folder, catalog, model_spec.model_id(), DIM, print)
    finally:
        catalog.close()
    return data, vectors


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def warm(data: DataDir, vectors: np.ndarray, queries: int) -> dict:
    from photofind.core.search.searcher import Searcher

    s = Searcher(data)
    rng = np.random.default_rng(1)
    enc, vec, cat, total = [], [], [], []
    texts = [f"{WORDS[i % len(WORDS)]} {i}" for i in range(queries)]
    for text in texts[:5]:
        s.search_text(text, 20)  # warm-up
    for text in texts:
        t0 = time.perf_counter()
        v = s.embed_text(text)
        t1 = time.perf_counter()
        ids, _ = s.vectors.search(v, 56)
        t2 = time.perf_counter()
        s.catalog.photos(int(i) for i in ids)
        t3 = time.perf_counter()
        s.search_text(text, 20)
        t4 = time.perf_counter()
        enc.append(t1 - t0), vec.append(t2 - t1), cat.append(t3 - t2), total.append(t4 - t3)
    # recall@10 against exact search, for queries near the data
    hits = 0
    probes = rng.choice(len(vectors), size=min(queries, 200), replace=False)
    for p in probes:
        q = vectors[p] + rng.normal(0, 0.03, DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        exact = set(np.argpartition(-(vectors @ q), 10)[:10] + 1)  # ids are rows + 1
        found = set(int(i) for i in s.vectors.search(q, 10)[0])
        hits += len(exact & found)
    s.close()
    return {"enc": enc, "vec": vec, "cat": cat, "total": total,
            "recall": hits / (10 * len(probes))}


def cold(data: DataDir, runs: int = 5) -> tuple[float, float]:
    times, rss = [], []
    code = ("import resource,subprocess,sys,time\nt=time.perf_counter()\n"
            "p=subprocess.run(sys.argv[1:],capture_output=True)\n"
            "w=time.perf_counter()-t\nassert p.returncode==0, p.stderr\n"
            "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    for i in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code, sys.executable, "-m", "photofind", "--data-dir",
             str(data.root), "search", WORDS[i % len(WORDS)], "--limit", "20"],
            capture_output=True, text=True, cwd=ROOT, check=True)
        wall, kb = out.stdout.split()
        times.append(float(wall))
        rss.append(int(kb) / 1024)
    return statistics.median(times), statistics.median(rss)


def own_memory(data: DataDir) -> float:
    """MB of a `photofind search` process's own (anonymous) memory as it exits: its peak
    RSS also counts the index file's pages, mapped from the shared file cache."""
    code = ("import atexit,sys\n"
            "def report():\n"
            "    status = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
            "    print('RssAnon', status['RssAnon'].split()[0], file=sys.stderr)\n"
            "atexit.register(report)\n"
            "sys.argv = ['photofind', '--data-dir', sys.argv[1], 'search', 'a dog', '--limit', '20']\n"
            "from photofind.cli import main\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-c", code, str(data.root)], capture_output=True,
                         text=True, cwd=ROOT, check=True)
    line = next(x for x in out.stderr.splitlines() if x.startswith("RssAnon"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kind", default="lowrank,isotropic",
                        help="vector distributions to build (see synth)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    spec = ModelSpec.parse(random_model("ViT-B-32-256"))
    text_export = WORK / "text-export"
    if not text_export.exists():
        from photofind.core.model import textencoder
        from photofind.core.model.embedder import Embedder

        tmp = WORK / "text-export-models"
        embedder = Embedder(spec, "cpu", tmp, backend="torch")
        assert textencoder.export(embedder, tmp)
        shutil.copytree(tmp / "onnx", text_export)
    rows, mem_rows = [], []
    latency, colds, sizes = [], [], []  # the charts' figures
    for kind, n in ((k, int(s)) for k in args.kind.split(",") for s in args.sizes.split(",")):
        print(f"{n} photos, {kind}:", flush=True)
        data, vectors = build(n, spec, text_export, kind)
        w = warm(data, vectors, args.queries)
        cold_s, cold_rss = cold(data)
        index_file = json.loads(Catalog.open_for_reading(data.catalog).get_meta("index_state"))
        idx_bytes = (data.root / index_file["file"]).stat().st_size
        cat_bytes = data.catalog.stat().st_size
        rows.append([f"{n:,}", kind, f"{pct(w['enc'], 50):.1f} / {pct(w['enc'], 95):.1f}",
                     f"{pct(w['vec'], 50):.2f} / {pct(w['vec'], 95):.2f}",
                     f"{pct(w['cat'], 50):.2f} / {pct(w['cat'], 95):.2f}",
                     f"{pct(w['total'], 50):.1f} / {pct(w['total'], 95):.1f}",
                     f"{w['recall']:.3f}", f"{cold_s:.2f} s"])
        latency.append((f"{n:,} {kind}", [("p50", pct(w["total"], 50)), ("p95", pct(w["total"], 95))]))
        colds.append((f"{n:,} {kind}", [("cold search", cold_s)]))
        if kind != args.kind.split(",")[0]:
            continue
        mem_rows.append([f"{n:,}", f"{cat_bytes / n:.0f} B", f"{idx_bytes / n:.0f} B",
                         f"{(cat_bytes + idx_bytes) / n / 1024:.2f} KB", f"{cold_rss:.0f} MB",
                         f"{own_memory(data):.0f} MB"])
        sizes.append((f"{n:,} photos", [("catalog", cat_bytes / n / 1024),
                                        ("index", idx_bytes / n / 1024),
                                        ("total", (cat_bytes + idx_bytes) / n / 1024)]))
        print(rows[-1], mem_rows[-1], flush=True)
        del vectors
    print(f"bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    body = (
        "Synthetic libraries built through photofind's own catalog and vector index (two clustered "
        "distributions, see `synth`: *lowrank* subjects like CLIP embeddings, *isotropic* a worst "
        "case for HNSW), model ViT-B-32-256 (random weights), "
        f"text queries embedded by the exported ONNX text tower. Warm: one `Searcher`, "
        f"{args.queries} different queries, milliseconds p50 / p95. Recall@10: usearch against "
        "exact float32 search for queries near the data. Cold: `photofind search \"…\"` as a "
        "new process, launch to exit, median of 5. Search: exact up to 100k photos, HNSW above "
        "(breadth 1024, 4096 above 500k). "
        f"Load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n"
        + table(["photos", "vectors", "text encoding ms", "vector search ms", "catalog lookup ms",
                 "whole query ms", "recall@10", "cold search"], rows)
        + "\n\nDisk and memory (catalog after VACUUM; peak RSS of a `photofind search` "
          "process, which counts the pages of the memory-mapped index file it touched: they are "
          "the system's file cache, shared, not the process's own; its own, anonymous memory "
          "as it exits is the last column):\n\n"
        + table(["photos", "catalog per photo", "index per photo", "total per photo",
                 "search process peak RSS", "its own memory at exit"], mem_rows)
    )
    print(body)
    if not args.no_write:
        charts = [
            bars("queries-warm", Chart(
                "Warm text query, whole (text encoding + vector search + catalog lookup)",
                "milliseconds (lower is better)", latency,
                targets=[("target p95 at 100k: 50 ms", 50.0), ("at 1M: 60 ms", 60.0)],
                note=f"{args.queries} queries per library, one Searcher")),
            bars("queries-cold", Chart(
                "Cold `photofind search`: launch to printed result", "seconds (lower is better)",
                colds, targets=[("target: 1.0 s", 1.0)], note="median of 5 new processes")),
            bars("queries-bytes", Chart(
                "Disk per photo: catalog and vector index", "KB per photo (lower is better)",
                sizes, targets=[("target: 1.5 KB", 1.5)])),
        ]
        update_section("Queries, disk and memory (bench/queries.py)",
                       body + "\n\n" + "\n\n".join(charts))


if __name__ == "__main__":
    main()
