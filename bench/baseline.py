"""Indexing and search speed of this tree against a baseline commit (before/after a change
that should not change speed, such as a refactoring).

    python bench/baseline.py --baseline REF [--count 100] [--runs 3] [--no-write]

The baseline's code is exported (`git archive REF`) into a scratch folder; each
measurement runs `python -m photofind` as a child process from one tree or the other,
trees alternated run by run so that other work on the machine hits both alike; medians.

- Indexing: bench/indexing.py's measurement (`photofind index CORPUS --json` on the
  bench/corpus.py library, random-weight ViT-B-32-256, `--device cpu`, fresh catalog,
  model already exported): images/s over the index run and end to end, CPU per photo.
- Search: `photofind search WORDS --json`, process start to exit, on one library (the same
  corpus indexed once by this tree), three queries per run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import indexing  # noqa: E402
from corpus import folder as corpus_folder  # noqa: E402
from corpus import generate  # noqa: E402
from models import random_model  # noqa: E402
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ("a dog on the beach", "red car", "mountains at sunset")


def export_tree(ref: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def warm_data_dir(root: Path, corpus: Path, model: str, scratch: Path) -> Path:
    """A data directory with the model exported by `root`'s code (one photo indexed)."""
    folder = Path(tempfile.mkdtemp(prefix="warm-", dir=scratch))
    one = folder / "one"
    one.mkdir()
    (one / "photo.jpg").write_bytes(next(corpus.rglob("*.jpg")).read_bytes())
    subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(folder / "data"),
                    "index", str(one), "--model", model, "--device", "cpu"], cwd=root,
                   check=True, capture_output=True)
    return folder / "data"


def search_seconds(root: Path, data: Path, words: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(data),
                           "search", words, "--json"], cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode or not json.loads(done.stdout)["results"]:
        raise SystemExit(f"photofind search failed in {root}: {done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    base_rev = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout.strip()
    now_rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
    corpus = generate(corpus_folder(0, args.count), args.count, 0)
    model = random_model("ViT-B-32-256")
    with tempfile.TemporaryDirectory(prefix="pfbench-baseline-") as tmp:
        scratch = Path(tmp)
        trees = {f"baseline {base_rev}": export_tree(args.baseline, scratch / "baseline"),
                 f"this tree (HEAD {now_rev} + changes)": ROOT}
        warm = {name: warm_data_dir(root, corpus, model, scratch)
                for name, root in trees.items()}
        library = scratch / "library"
        subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(library), "index",
                        str(corpus), "--model", model, "--device", "cpu"], cwd=ROOT, check=True,
                       capture_output=True)
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        searches: dict[str, list[float]] = {name: [] for name in trees}
        for r in range(args.runs):
            for name, root in trees.items():
                indexing.ROOT = root
                res = indexing.measured(corpus, model, [], {}, warm[name])
                runs[name].append(res)
                searches[name] += [search_seconds(root, library, q) for q in QUERIES]
                print(f"run {r + 1}/{args.runs} {name}: {res['n'] / res['seconds']:.2f} img/s "
                      f"(end to end {res['n'] / res['wall']:.2f}), CPU per photo "
                      f"{res['run_cpu'] / res['n'] * 1000:.0f} ms, search "
                      f"{statistics.median(searches[name][-len(QUERIES):]):.3f} s, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    for name in trees:
        rs, n = runs[name], runs[name][0]["n"]
        rows.append([
            name, f"{n / statistics.median(r['seconds'] for r in rs):.2f}",
            f"{n / statistics.median(r['wall'] for r in rs):.2f}",
            f"{statistics.median(r['run_cpu'] for r in rs) / n * 1000:.0f} ms",
            f"{statistics.median(searches[name]):.3f} s", f"{min(searches[name]):.3f} s",
            f"{statistics.median(r['load'] for r in rs):.1f}",
        ])
    body = (
        f"`python bench/baseline.py --baseline {args.baseline}`: this tree against "
        f"{base_rev}, trees alternated run by run, medians of {args.runs} runs (indexing) "
        f"and {args.runs * len(QUERIES)} searches. Indexing: `photofind index` of the "
        f"bench/corpus.py library ({args.count} photos, mostly 12 MP JPEGs), random-weight "
        "ViT-B-32-256, `--device cpu`, fresh catalog, model exported. Search: `photofind "
        "search WORDS --json` as a fresh process (start, text tower, mapped index, answer) "
        "on that library indexed once. Other work may share the machine (*load avg*, on "
        f"{os.cpu_count()} cores): compare the rows with each other, not with other "
        "sections.\n\n"
        + table(["tree", "images/s (index run)", "images/s (end to end)",
                 "CPU per photo (index run)", "search, end to end (median)",
                 "search (fastest)", "load avg"], rows)
    )
    print(body)
    if not args.no_write:
        update_section("Before and after a refactoring", body)


if __name__ == "__main__":
    main()
