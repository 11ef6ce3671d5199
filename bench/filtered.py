"""Filtered text queries, the good-match cut-off and browsing by date at up to 1M photos.

    python bench/filtered.py [--sizes 100000,1000000] [--queries 100] [--no-write]

The libraries are bench/queries.py's synthetic ones (*lowrank*, CLIP-like vectors; built
there through photofind's own catalog and index, and reused), with dates taken spread
evenly over 15 years (`taken` written once; the catalog's triggers keep `date`). For each
filter that keeps 0.1%, 1%, 10% or 100% of the library (`after:` a date chosen so), a warm
`Engine` (one `Searcher`) answers different text queries: p50/p95 of the whole query,
recall@10 against an exact filtered search (float32 dot products over the kept photos),
and the first query under a filter (nothing cached). Also: what the good-match judgement
costs a query, and the first page of browsing (newest first) with and without a filter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as photofind/__init__.py: before numpy

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import random_model  # noqa: E402
from plot import Chart, bars  # noqa: E402
from queries import WORDS, WORK, build  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.model.specs import ModelSpec  # noqa: E402
from photofind.core.search.engine import EXACT_FILTERED  # noqa: E402
from photofind.core.store.catalog import Catalog  # noqa: E402

FIRST = dt.date(2010, 1, 1)
DAYS = 15 * 365
FRACTIONS = (0.001, 0.01, 0.1, 1.0)


def day_of(ids: np.ndarray) -> np.ndarray:
    """Photo id → day number (0..DAYS-1): an even spread, unrelated to the vectors."""
    return (ids.astype(np.int64) * 7919) % DAYS


def give_dates(data) -> None:
    catalog = Catalog.open_for_writing(data.catalog, data.backups)
    try:
        if catalog.get_meta("bench_dates") == "1":
            return
        t0 = time.perf_counter()
        with catalog.db.atomic():
            catalog.conn.execute(
                "UPDATE photos SET taken = strftime('%Y-%m-%dT12:00:00', ?, "
                f"'+' || ((id * 7919) % {DAYS}) || ' days')", (FIRST.isoformat(),))
            catalog.set_meta("bench_dates", "1")
        print(f"  dates written in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        catalog.close()


def ms(values, q):
    return float(np.percentile(values, q)) * 1000


def measure(data, vectors: np.ndarray, queries: int) -> tuple[list, dict]:
    from photofind.core.search import relevance
    from photofind.core.search.engine import Engine
    from photofind.core.search.query import Query
    from photofind.core.search.searcher import Searcher

    searcher = Searcher(data)
    engine = Engine(searcher)
    n = len(vectors)
    ids = np.arange(1, n + 1)
    days = day_of(ids)
    rng = np.random.default_rng(7)
    rows = []
    texts = [f"{WORDS[i % len(WORDS)]} {i}" for i in range(queries)]
    engine.run(Query(text="warm up", limit=20))
    for fraction in FRACTIONS:
        cut = int(round(DAYS * (1 - fraction)))
        after = FIRST + dt.timedelta(days=cut)
        query = Query(after=after) if fraction < 1 else Query(after=FIRST)
        keep = days >= cut
        first = time.perf_counter()
        engine.run(query.with_options(text="the first query under this filter", limit=20))
        first = time.perf_counter() - first
        times = []
        for text in texts:
            t0 = time.perf_counter()
            engine.run(query.with_options(text=text, limit=20))
            times.append(time.perf_counter() - t0)
        # recall@10 against an exact filtered search, for queries near the data
        hits = total = 0
        kept = np.flatnonzero(keep)
        for p in rng.choice(kept, size=min(50, len(kept)), replace=False):
            q = vectors[p] + rng.normal(0, 0.03, vectors.shape[1]).astype(np.float32)
            q /= np.linalg.norm(q)
            scores = vectors[kept] @ q
            exact = set((kept[np.argsort(-scores)[:10]] + 1).tolist())
            found, _ = engine._nearest(q, engine_where(query, engine), 10)
            hits += len(exact & {int(i) for i in found})
            total += 10
        rows.append((fraction, int(keep.sum()), ms(times, 50), ms(times, 95), hits / total,
                     first * 1000))
        print(f"  keeps {fraction:.1%}: p50 {ms(times, 50):.1f} ms, p95 {ms(times, 95):.1f} ms, "
              f"recall@10 {hits / total:.3f}, first {first * 1000:.0f} ms", flush=True)
    # the good-match judgement alone, on a query's 20 results
    background = engine.background()
    cost = []
    for text in texts:
        v = searcher.embed_text(text)
        found, _ = engine._nearest(v, engine_where(Query(), engine), 20)
        t0 = time.perf_counter()
        relevance.text_good(v, engine.vectors_of(found), background)
        cost.append(time.perf_counter() - t0)
    browse = {}
    for name, query in (("browse, no filter", Query()),
                        ("browse, after a date (10%)",
                         Query(after=FIRST + dt.timedelta(days=int(DAYS * 0.9)))),
                        ("browse, oldest first", Query(sort="oldest"))):
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            engine.run(query.with_options(limit=200))
            times.append(time.perf_counter() - t0)
        browse[name] = (ms(times, 50), ms(times, 95))
    searcher.close()
    return rows, {"good": (ms(cost, 50), ms(cost, 95)), "browse": browse}


def engine_where(query, engine):
    from photofind.core.search import filters

    return filters.where(query, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    spec = ModelSpec.parse(random_model("ViT-B-32-256"))
    text_export = WORK / "text-export"
    if not text_export.exists():
        sys.exit("run bench/queries.py once first: it builds the libraries and the text export")
    table_rows, other_rows, chart = [], [], []
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"{n:,} photos:", flush=True)
        data, vectors = build(n, spec, text_export, "lowrank")
        give_dates(data)
        rows, extra = measure(data, vectors, args.queries)
        for fraction, kept, p50, p95, recall, first in rows:
            table_rows.append([f"{n:,}", f"{fraction:.1%} ({kept:,})", f"{p50:.1f} / {p95:.1f}",
                               f"{recall:.3f}", f"{first:.0f}"])
            chart.append((f"{n:,}, keeps {fraction:.1%}", [("p50", p50), ("p95", p95)]))
        other_rows.append([f"{n:,}", "good-match judgement (20 results)",
                           f"{extra['good'][0]:.2f} / {extra['good'][1]:.2f}"])
        for name, (p50, p95) in extra["browse"].items():
            other_rows.append([f"{n:,}", f"{name}: first page of 200", f"{p50:.1f} / {p95:.1f}"])
        del vectors
    body = (
        "bench/queries.py's *lowrank* libraries with dates spread over 15 years; model "
        "ViT-B-32-256 (random weights), text queries embedded by the exported ONNX text "
        f"tower; one warm `Engine`, {args.queries} different queries per filter. A filter "
        f"keeping ≤ {EXACT_FILTERED:,} photos is answered by an exact scan of their vectors (read once "
        "per filter and remembered while the library is unchanged: 'first query' is the "
        "cost of the first); a wider one by the HNSW graph, oversampled and post-filtered. "
        "Recall@10 against an exact filtered float32 search. "
        f"Load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n"
        + table(["photos", "filter keeps", "whole query ms p50 / p95", "recall@10",
                 "first query under the filter ms"], table_rows)
        + "\n\n" + table(["photos", "what", "ms p50 / p95"], other_rows)
    )
    print(body)
    if not args.no_write:
        update_section("Filtered search, good matches, browsing (bench/filtered.py)", body + "\n\n"
                       + bars("filtered", Chart(
                           "Warm filtered text query", "milliseconds (lower is better)", chart,
                           targets=[("target p95 at 1M: 60 ms", 60.0)])))


if __name__ == "__main__":
    main()
