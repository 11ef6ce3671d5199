"""Indexing speed: `photofind index` end to end on the 12 MP corpus, split by stage.

    python bench/indexing.py [--count 200] [--runs 3] [--sweep] [--no-write]

Each run is a fresh `photofind index CORPUS --json` child process with a fresh data
directory (`--device cpu`), on the corpus of bench/corpus.py and random-weight models of
real architectures (bench/models.py). Configurations are alternated run by run (so
noise from other work on the machine hits them all alike) and medians are reported.

Per run: images/s over the indexing run (`seconds` of the JSON report: find → store,
model already loaded) and end to end (process start to exit, model load included); the
stage split from the report's `timings` (find, decode = summed worker-thread time,
embed and store = the writer thread's time), the writer's wait for decoded images;
CPU seconds (user + system, all threads) and peak resident memory (ru_maxrss).

`--sweep` also measures decode workers × torch threads (OMP_NUM_THREADS) combinations.
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
from corpus import describe, generate
from corpus import folder as corpus_folder  # noqa: E402
from models import random_model  # noqa: E402
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def measured(corpus: Path, model: str, extra: list[str], env: dict[str, str],
             warm: Path | None = None) -> dict:
    """One run in a child, with its rusage taken through a wrapper process."""
    code = (
        "import json,os,resource,subprocess,sys,time\n"
        "t=time.perf_counter(); p=subprocess.run(sys.argv[1:],capture_output=True)\n"
        "w=time.perf_counter()-t; u=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "sys.stderr.write(p.stderr.decode()[-2000:]) if p.returncode else None\n"
        "print(json.dumps({'rc':p.returncode,'out':p.stdout.decode(),'wall':w,"
        "'cpu':u.ru_utime+u.ru_stime,'maxrss_kb':u.ru_maxrss}))\n"
    )
    with tempfile.TemporaryDirectory(prefix="pfbench-data-") as data:
        if warm is not None:  # the model exported already, as on every run but a model's first
            os.chmod(data, 0o700)
            (Path(data) / "models").symlink_to(warm / "models")
        cmd = [sys.executable, "-m", "photofind", "--data-dir", data, "index", str(corpus),
               "--model", model, "--device", "cpu", "--json", *extra]
        res = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True,
                             cwd=ROOT, env={**os.environ, **env}, text=True)
    if res.returncode:
        raise SystemExit(f"benchmark wrapper failed: {res.stderr[-2000:]}")
    info = json.loads(res.stdout)
    if info["rc"]:
        raise SystemExit(f"photofind index failed: {res.stderr[-2000:]}")
    report = json.loads(info["out"])
    t = report["timings"]
    n = report["embedded"]
    busy = t["find"] + t["embed"] + t["store"]
    return {
        "n": n, "seconds": report["seconds"], "wall": info["wall"], "cpu": info["cpu"],
        "rss_mb": info["maxrss_kb"] / 1024, "find": t["find"], "decode": t["decode"],
        "embed": t["embed"], "store": t["store"], "wait": max(0.0, report["seconds"] - busy),
        "failed": len(report["failed"]), "run_cpu": t.get("cpu", float("nan")),
        "load": os.getloadavg()[0],
    }


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sweep", action="store_true",
                        help="also sweep decode workers × torch threads")
    parser.add_argument("--config", action="append", default=[],
                        help="extra configuration NAME=ARCH:ARGS (e.g. 'int8=ViT-B-32-256:"
                             "--precision int8'); default: the default and a smaller model")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    corpus = generate(corpus_folder(args.seed, args.count), args.count, args.seed)
    info = describe(corpus)
    configs: list[tuple[str, str, str, list[str], dict[str, str]]] = []
    if args.config:
        for item in args.config:
            name, _, rest = item.partition("=")
            arch, _, extra = rest.partition(":")
            configs.append((name, arch, random_model(arch), extra.split(), {}))
    else:
        for arch in ("ViT-B-32-256", "ViT-S-32"):
            configs.append((f"{arch} (default settings)", arch, random_model(arch), [], {}))
    if args.sweep:
        b32 = random_model("ViT-B-32-256")
        for workers, threads in ((2, 2), (1, 2), (2, 1), (1, 1)):
            configs.append((f"ViT-B-32-256, {workers} decode workers, {threads} torch threads",
                            "ViT-B-32-256", b32, ["--workers", str(workers)],
                            {"OMP_NUM_THREADS": str(threads)}))
    # Each configuration's one-time export (first run of a model in a data directory) in a
    # data directory kept for the measured runs, which start with the model exported.
    warm: dict[str, Path] = {}
    first: dict[str, float] = {}
    for name, _arch, model, extra, env in configs:
        folder = Path(tempfile.mkdtemp(prefix="pfbench-warm-"))
        one = folder / "one"
        one.mkdir()
        (one / "photo.jpg").write_bytes(next(corpus.rglob("*.jpg")).read_bytes())
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(folder / "data"),
                        "index", str(one), "--model", model, "--device", "cpu", *extra],
                       cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
        first[name] = time.perf_counter() - t0
        warm[name] = folder / "data"
        print(f"{name}: first run (export of the model, one photo) {first[name]:.1f} s", flush=True)
    results: dict[str, list[dict]] = {c[0]: [] for c in configs}
    for r in range(args.runs):  # alternate configurations run by run
        for name, _arch, model, extra, env in configs:
            res = measured(corpus, model, extra, env, warm[name])
            results[name].append(res)
            print(f"run {r + 1}/{args.runs} {name}: {res['n'] / res['seconds']:.1f} img/s "
                  f"(end to end {res['n'] / res['wall']:.1f}), cpu {res['cpu']:.0f} s, "
                  f"rss {res['rss_mb']:.0f} MB, split {json.dumps({k: round(res[k], 1) for k in ('find', 'decode', 'embed', 'store', 'wait')})}",
                  flush=True)

    rows, rates = [], []
    cores = os.cpu_count() or 1
    for name, _arch, _model, _extra, _env in configs:
        runs = results[name]
        n = runs[0]["n"]
        run_rate, e2e_rate = n / med(runs, "seconds"), n / med(runs, "wall")
        idle_rate = cores * n / med(runs, "run_cpu")
        rates.append((name, [("index run", run_rate), ("end to end", e2e_rate),
                             ("if the cores were ours", idle_rate)]))
        rows.append([
            name, f"{run_rate:.1f}", f"{e2e_rate:.1f}",
            f"{med(runs, 'find'):.2f}", f"{med(runs, 'decode'):.1f}", f"{med(runs, 'embed'):.1f}",
            f"{med(runs, 'store'):.2f}", f"{med(runs, 'wait'):.1f}",
            f"{med(runs, 'run_cpu') / n * 1000:.0f} ms", f"{idle_rate:.1f}",
            f"{med(runs, 'cpu') / med(runs, 'wall') / cores:.0%}",
            f"{med(runs, 'rss_mb'):.0f} MB", f"{med(runs, 'load'):.1f}", f"{first[name]:.0f} s",
        ])
    headers = ["configuration", "images/s (index run)", "images/s (end to end)", "find s",
               "decode s (worker sum)", "embed s", "store s", "writer waits s",
               "CPU per photo (index run)", "images/s if the cores were ours", "CPU share we got",
               "peak RSS", "load avg", "model's first run (export)"]
    body = (
        f"`photofind index` on the bench/corpus.py library (seed {args.seed}: {info['files']} "
        f"files, {info['bytes'] / 1e6:.0f} MB; {', '.join(f'{v} {k}' for k, v in sorted(info['by_ext'].items()))}; "
        "mostly 12 MP JPEGs, a fifth of them Orientation 6), fresh catalog each run with the "
        "model already exported (as on every run but a model's first: the last column is that "
        "first run, exporting the model and indexing one photo), "
        f"`--device cpu`, random weights of the named architecture. Medians of {args.runs} runs "
        "per configuration, configurations alternated run by run; other work may share the "
        "machine (*load avg*, on 2 cores), so wall-clock "
        "figures may be below what the machine can do; *CPU per photo* (all threads of the "
        "indexing process and its decoder processes over the index run: decode + embed + "
        "store) hardly depends on the load, and *images/s if the cores were ours* = cores / CPU per photo is the rate an "
        "otherwise idle machine would reach when both cores are kept busy (an upper bound). "
        "*index run* = the report's `seconds` (model loaded); *end to end* includes process "
        "start and model load.\n\n"
        + table(headers, rows)
    )
    print(body)
    if not args.no_write:
        chart = Chart(
            f"photofind index: images per second on the {info['files']}-photo corpus",
            "images/s (higher is better)", rates,
            targets=[("target for the default model: 20 images/s", 20.0)],
            note=f"medians of {args.runs} runs, {cores} cores, --device cpu")
        update_section("Indexing (bench/indexing.py)", body + "\n\n" + bars("indexing", chart))


if __name__ == "__main__":
    main()
