"""Peer: photofind side by side with rclip, the command-line CLIP photo search tool.

    python bench/peer.py [--count 100] [--rounds 3] [--query-runs 5] [--no-torch] [--no-write]

The same corpus (bench/corpus.py: 12 MP JPEGs, some small JPEGs, PNG screenshots, HEIC)
is indexed and queried by both tools, on the same architecture with the same weights:
ViT-B-32-256 with random weights (seed 0, bench/models.py; no model hub is reachable, and
speed does not depend on weight values).

- rclip runs from its own virtual environment (`--venv`, default /tmp/peer-venv; created
  and `pip install rclip==VERSION` on first use). It reads its model from
  `$RCLIP_DATADIR/ViT-B-32-256-datacomp_s34b_b86k/{visual,textual}.onnx` and the
  tokenizer vocabulary from `$RCLIP_DATADIR/tokenizer/`, and downloads nothing when they
  are there. We write those files from the random-weight open_clip model the way rclip's
  published models are made (fp32 `torch.onnx.export` of `model.visual` and
  `encode_text`, input `input`, output `output`, dynamic batch, opset 18), check them
  against torch, and link them into a fresh `RCLIP_DATADIR` for every run.
- photofind runs from a clean snapshot of the checkout's HEAD (`git archive`, so work in
  progress in the checkout is not measured; `--tree` measures the working tree instead),
  on a fresh data directory for every run whose `models/` links to a warm one: the
  one-time ONNX export (photofind's) and download (rclip's) are left out on both sides.

Indexing: `photofind index CORPUS` (defaults: ONNX Runtime int8 image tower; and
`--backend torch --precision fp32`, the exact reference, unless `--no-torch`) and rclip's
first `rclip QUERY` in the corpus folder (rclip indexes the current folder, then
searches; it has no index-only mode). Each configuration also indexes a one-photo folder,
so that start-up (interpreter, imports, model load) can be told apart from the per-photo
work: *steady* rate = (N − 1) / (wall(N) − wall(1)), *CPU per photo* = (CPU(N) − CPU(1)) /
(N − 1). CPU is user + system time of the whole process tree (a child subreaper collects
decoder processes too). Configurations alternate within each round, and the order flips
from round to round, so noise from other work on the machine hits them all alike.

Queries: cold `photofind search TEXT` and cold `rclip --no-indexing TEXT` (new process,
launch to exit, top 10), alternated, on the libraries of the last round; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import describe, generate, plan  # noqa: E402
from corpus import folder as corpus_folder  # noqa: E402
from models import CACHE, random_model  # noqa: E402
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/pfbench/peer")
ARCH = "ViT-B-32-256"
RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"  # the only model rclip 3.x runs
QUERIES = ("a dog on the beach", "red car at night", "birthday cake", "snowy mountains",
           "a cat sleeping on a sofa")

# Runs a command as a child subreaper (so decoder processes orphaned at exit are reaped
# here too), then prints wall time to the main child's exit and CPU of the whole tree.
WRAP = r"""
import ctypes, json, os, resource, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
cwd, out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
with open(out, "wb") as o, open(err, "wb") as e:
    t = time.perf_counter()
    rc = subprocess.Popen(cmd, stdout=o, stderr=e, cwd=cwd).wait()
    wall = time.perf_counter() - t
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall": wall, "cpu": u.ru_utime + u.ru_stime,
                  "rss_mb": u.ru_maxrss / 1024, "load": os.getloadavg()[0]}))
"""


def sh(cmd: list[str], **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# --- the corpus --------------------------------------------------------------------------

def corpus(count: int, seed: int) -> Path:
    """bench/corpus.py's library; files already written for a larger corpus of the same
    seed (the plan's first `count` files are the same) are hard-linked, not made again."""
    out = corpus_folder(seed, count)
    items = plan(count, seed)
    for bigger in sorted(out.parent.glob(f"{out.name.rsplit('-', 1)[0]}-*")):
        if bigger == out or not bigger.name.rsplit("-", 1)[-1].isdigit():
            continue
        if int(bigger.name.rsplit("-", 1)[-1]) <= count:
            continue
        for rel, _kind in items:
            src, dst = bigger / rel, out / rel
            if src.is_file() and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copy2(src, dst)
    return generate(out, count, seed)


def one_photo(library: Path) -> Path:
    """A folder holding the library's first 12 MP JPEG (for the start-up runs)."""
    first = next(p for p in sorted(library.rglob("IMG_*.jpg")) if p.stat().st_size > 1_000_000)
    out = WORK / f"one-{library.name}"
    if not (out / first.name).is_file():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(first, out / first.name)
    return out


# --- rclip: its virtual environment and its model files -----------------------------------

def ensure_rclip(venv: Path, version: str) -> Path:
    """`venv/bin/rclip` at `version`, installing it into its own venv when needed."""
    python = venv / "bin" / "python"
    probe = "import importlib.metadata as m; print(m.version('rclip'))"
    if python.is_file():
        have = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
        if have.returncode == 0 and have.stdout.strip() == version:
            return venv / "bin" / "rclip"
    print(f"peer: installing rclip=={version} into {venv}", file=sys.stderr)
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"rclip=={version}"], check=True)
    return venv / "bin" / "rclip"


def rclip_models(arch: str, seed: int) -> Path:
    """rclip's model folder layout holding `arch` with bench/models.py's random weights
    (the very weights photofind loads), exported as rclip's published models are."""
    out = WORK / f"rclip-models-{arch}-seed{seed}"
    visual, textual = out / RCLIP_SUBDIR / "visual.onnx", out / RCLIP_SUBDIR / "textual.onnx"
    vocab = out / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz"
    if visual.is_file() and textual.is_file() and vocab.is_file():
        return out
    import numpy as np
    import onnxruntime as ort
    import open_clip
    import torch
    from safetensors.torch import load_file

    folder = Path(random_model(arch, CACHE, seed).removeprefix("local-dir:"))
    model = open_clip.create_model(arch, pretrained=None)
    model.load_state_dict(load_file(str(folder / "open_clip_model.safetensors")))
    model.eval()
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size

    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = model.visual

        def forward(self, x):
            return self.visual(x)

    class Textual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, x):
            return self.clip.encode_text(x)

    (out / RCLIP_SUBDIR).mkdir(parents=True, exist_ok=True)
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    tokens = torch.zeros(2, model.context_length, dtype=torch.long)
    tokens[:, 0], tokens[0, 1], tokens[1, 1], tokens[:, 2] = 49406, 320, 539, 49407
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused MHA kernel has no ONNX form
    try:
        for module, example, path in ((Visual(), pixels[:1], visual), (Textual(), tokens[:1], textual)):
            tmp = path.with_suffix(".part")
            with torch.no_grad():
                torch.onnx.export(module.eval(), (example,), str(tmp), input_names=["input"],
                                  output_names=["output"], opset_version=18, dynamo=False,
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
            tmp.replace(path)
        with torch.no_grad():
            want = {visual: model.visual(pixels).numpy(), textual: model.encode_text(tokens).numpy()}
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    for path, example in ((visual, pixels), (textual, tokens)):
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"input": example.numpy()})[0]
        diff = float(np.max(np.abs(got - want[path])))
        if diff > 1e-4:
            raise SystemExit(f"peer: exported {path.name} differs from torch by {diff:.2e}")
        print(f"peer: {path.name} fp32, max abs diff vs torch {diff:.1e}", file=sys.stderr)
    vocab.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz", vocab)
    return out


def rclip_datadir(models: Path) -> Path:
    """A fresh RCLIP_DATADIR: no database, the model files linked in."""
    d = Path(tempfile.mkdtemp(prefix="rclip-data-", dir=WORK))
    (d / RCLIP_SUBDIR).symlink_to(models / RCLIP_SUBDIR)
    (d / "tokenizer").symlink_to(models / "tokenizer")
    return d


def rclip_count(datadir: Path) -> int:
    con = sqlite3.connect(datadir / "db.sqlite3")
    try:
        return con.execute("SELECT count(*) FROM images WHERE deleted IS NULL").fetchone()[0]
    finally:
        con.close()


# --- photofind: a clean snapshot and a warm model cache -----------------------------------

def photofind_source(tree: bool) -> tuple[Path, str]:
    """The photofind code to run and a line naming it."""
    head = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    if tree:
        dirty = sh(["git", "status", "--porcelain", "photofind"], cwd=ROOT)
        return ROOT, f"working tree on {head}" + (" (uncommitted changes)" if dirty else "")
    src = WORK / f"src-{head}"
    if not (src / "photofind" / "__main__.py").is_file():
        tmp = WORK / f"src-{head}.part"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "HEAD", "photofind"], cwd=ROOT,
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        shutil.rmtree(src, ignore_errors=True)
        tmp.replace(src)
    return src, f"commit {head}"


def pf_env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src)}


def pf_datadir(warm: Path) -> Path:
    d = Path(tempfile.mkdtemp(prefix="pf-data-", dir=WORK))
    os.chmod(d, 0o700)
    (d / "models").symlink_to(warm / "models")
    return d


# --- measuring -----------------------------------------------------------------------------

def measured(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="peer-out-", dir=WORK) as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        res = subprocess.run([sys.executable, "-c", WRAP, str(cwd), str(out), str(err), *cmd],
                             capture_output=True, text=True, env=env)
        if res.returncode:
            raise SystemExit(f"peer: measuring wrapper failed: {res.stderr[-2000:]}")
        info = json.loads(res.stdout)
        info["out"], info["err"] = out.read_text(errors="replace"), err.read_text(errors="replace")
    if info["rc"]:
        raise SystemExit(f"peer: {' '.join(cmd[:4])} … failed ({info['rc']}):\n{info['err'][-3000:]}")
    return info


class Photofind:
    def __init__(self, name: str, src: Path, model: str, extra: list[str], warm: Path) -> None:
        self.name, self.src, self.model, self.extra, self.warm = name, src, model, extra, warm
        self.tool = "photofind"

    def index(self, folder: Path) -> tuple[dict, Path]:
        data = pf_datadir(self.warm)
        cmd = [sys.executable, "-m", "photofind", "--data-dir", str(data), "index", str(folder),
               "--model", self.model, "--device", "cpu", "--json", *self.extra]
        info = measured(cmd, self.src, pf_env(self.src))
        report = json.loads(info["out"])
        if report["failed"]:
            raise SystemExit(f"peer: photofind failed on {report['failed'][:3]}")
        info["n"] = report["embedded"]
        return info, data

    def query(self, data: Path, text: str, folder: Path) -> dict:
        cmd = [sys.executable, "-m", "photofind", "--data-dir", str(data), "search", text,
               "--limit", "10"]
        info = measured(cmd, self.src, pf_env(self.src))
        info["hits"] = [line.split(None, 1)[1] for line in info["out"].splitlines() if line.strip()]
        return info


class Rclip:
    def __init__(self, name: str, exe: Path, models: Path) -> None:
        self.name, self.exe, self.models = name, exe, models
        self.tool = "rclip"

    def env(self, data: Path) -> dict[str, str]:
        return {**os.environ, "RCLIP_DATADIR": str(data), "HF_HUB_OFFLINE": "1"}

    def index(self, folder: Path) -> tuple[dict, Path]:
        data = rclip_datadir(self.models)
        info = measured([str(self.exe), "-f", "-t", "10", QUERIES[0]], folder, self.env(data))
        info["n"] = rclip_count(data)
        return info, data

    def query(self, data: Path, text: str, folder: Path) -> dict:
        info = measured([str(self.exe), "--no-indexing", "-f", "-t", "10", text], folder,
                        self.env(data))
        info["hits"] = [line for line in info["out"].splitlines() if line.strip()]
        return info


def med(values) -> float:
    return statistics.median(list(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="photos in the corpus")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--query-runs", type=int, default=5)
    parser.add_argument("--venv", type=Path, default=Path("/tmp/peer-venv"),
                        help="rclip's virtual environment (made when missing)")
    parser.add_argument("--rclip-version", default="3.3.0")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave out photofind --backend torch (the fp32 reference)")
    parser.add_argument("--tree", action="store_true",
                        help="measure the checkout's working tree, not a snapshot of HEAD")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    started_load = load()
    library = corpus(args.count, args.seed)
    info = describe(library)
    one = one_photo(library)
    exe = ensure_rclip(args.venv, args.rclip_version)
    rmodels = rclip_models(ARCH, args.seed)
    src, source_line = photofind_source(args.tree)
    model = random_model(ARCH, CACHE, args.seed)

    pf_configs = [("photofind (defaults: ONNX int8 image tower)", [])]
    if not args.no_torch:
        pf_configs.append(("photofind --backend torch --precision fp32", ["--backend", "torch",
                                                                           "--precision", "fp32"]))
    warm = WORK / f"pf-warm-{src.name}-{ARCH}-seed{args.seed}"
    configs: list = []
    for name, extra in pf_configs:  # the one-time ONNX export, outside the measurement
        tool = Photofind(name, src, model, extra, warm)
        measured([sys.executable, "-m", "photofind", "--data-dir", str(warm), "index", str(one),
                  "--model", model, "--device", "cpu", "--json", *extra], src, pf_env(src))
        configs.append(tool)
    configs.append(Rclip(f"rclip {args.rclip_version} (ONNX Runtime fp32)", exe, rmodels))

    print(f"peer: {info['files']} photos in {library}; photofind from {source_line}; "
          f"load average before: {started_load}", flush=True)
    runs: dict[str, list[dict]] = {c.name: [] for c in configs}
    last: dict[str, Path] = {}
    for r in range(args.rounds):
        order = configs if r % 2 == 0 else configs[::-1]
        for tool in order:
            small, small_data = tool.index(one)
            shutil.rmtree(small_data, ignore_errors=True)
            full, data = tool.index(library)
            if tool.name in last:
                shutil.rmtree(last[tool.name], ignore_errors=True)
            last[tool.name] = data
            full["small_wall"], full["small_cpu"] = small["wall"], small["cpu"]
            runs[tool.name].append(full)
            print(f"round {r + 1}/{args.rounds} {tool.name}: {full['n']} photos in "
                  f"{full['wall']:.1f} s ({full['n'] / full['wall']:.2f}/s), CPU {full['cpu']:.1f} s; "
                  f"one photo {small['wall']:.1f} s, CPU {small['cpu']:.1f} s; load {full['load']:.1f}",
                  flush=True)
    counts = {name: {r["n"] for r in rs} for name, rs in runs.items()}
    if any(c != {info["files"]} for c in counts.values()):
        raise SystemExit(f"peer: photo counts differ from the corpus ({info['files']}): {counts}")

    n = info["files"]
    pf, rc = configs[0], configs[-1]
    queries: dict[str, list[dict]] = {pf.name: [], rc.name: []}
    overlap: list[int] = []  # photos both top 10s share: the same model on both sides
    for i in range(args.query_runs):
        text = QUERIES[i % len(QUERIES)]
        for tool in ((pf, rc) if i % 2 == 0 else (rc, pf)):
            res = tool.query(last[tool.name], text, library)
            if len(res["hits"]) != min(10, n):
                raise SystemExit(f"peer: {tool.tool} found {len(res['hits'])} photos for {text!r}")
            queries[tool.name].append(res)
        overlap.append(len(set(queries[pf.name][-1]["hits"]) & set(queries[rc.name][-1]["hits"])))
        print(f"query {i + 1}/{args.query_runs} {text!r}: photofind "
              f"{queries[pf.name][-1]['wall']:.2f} s, rclip {queries[rc.name][-1]['wall']:.2f} s",
              flush=True)
    ended_load = load()
    for data in last.values():
        shutil.rmtree(data, ignore_errors=True)

    cores = os.cpu_count() or 1
    stats = {}
    for tool in configs:
        rs = runs[tool.name]
        cpu_photo = med((r["cpu"] - r["small_cpu"]) / (n - 1) for r in rs)
        stats[tool.name] = {
            "e2e": med(n / r["wall"] for r in rs),
            "steady": med((n - 1) / max(1e-9, r["wall"] - r["small_wall"]) for r in rs),
            "cpu_photo": cpu_photo, "idle": cores / cpu_photo, "start_wall": med(r["small_wall"] for r in rs),
            "start_cpu": med(r["small_cpu"] for r in rs), "rss": med(r["rss_mb"] for r in rs),
            "load": med(r["load"] for r in rs),
        }
    ref = stats[rc.name]
    rows = []
    for tool in configs:
        s = stats[tool.name]
        rows.append([
            tool.name, f"{s['e2e']:.2f}", f"{s['steady']:.2f}", f"{s['cpu_photo'] * 1000:.0f} ms",
            f"{s['idle']:.1f}", f"{s['start_wall']:.1f} s / {s['start_cpu']:.1f} s",
            f"{s['e2e'] / ref['e2e']:.2f}×", f"{ref['cpu_photo'] / s['cpu_photo']:.2f}×",
            f"{s['rss']:.0f} MB", f"{s['load']:.1f}",
        ])
    per_round = [runs[rc.name][i]["wall"] / r_pf["wall"] for i, r_pf in enumerate(runs[pf.name])]
    per_round_cpu = [((runs[rc.name][i]["cpu"] - runs[rc.name][i]["small_cpu"])
                      / (r_pf["cpu"] - r_pf["small_cpu"])) for i, r_pf in enumerate(runs[pf.name])]
    qrows = []
    for tool in (pf, rc):
        qs = queries[tool.name]
        qrows.append([f"`{'photofind search' if tool is pf else 'rclip --no-indexing'} TEXT`",
                      f"{med(q['wall'] for q in qs):.2f} s", f"{min(q['wall'] for q in qs):.2f} s",
                      f"{med(q['cpu'] for q in qs):.2f} s", f"{med(q['rss_mb'] for q in qs):.0f} MB"])
    q_ratio = med(q["wall"] for q in queries[rc.name]) / med(q["wall"] for q in queries[pf.name])
    s_pf = stats[pf.name]
    target = "met" if s_pf["e2e"] / ref["e2e"] >= 4 and ref["cpu_photo"] / s_pf["cpu_photo"] >= 4 \
        else "not met"
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(info["by_ext"].items()))
    body = (
        f"photofind ({source_line}) and rclip {args.rclip_version} (pip, its own virtual "
        f"environment) index and query the same bench/corpus.py library (seed {args.seed}: "
        f"{n} files, {info['bytes'] / 1e6:.0f} MB; {kinds}; mostly 12 MP JPEGs) with the same "
        f"model: {ARCH}, random weights (seed {args.seed}), exported for rclip the way its "
        "published models are (fp32 ONNX, checked against torch). Both run the image tower "
        "on ONNX Runtime on the CPU (the torch row is photofind's fp32 reference) with their "
        "default threads; fresh database each run, model files in "
        "place (rclip's download and photofind's one-time ONNX export left out). rclip's "
        "indexing run is its first `rclip QUERY` in the corpus folder (index, then one search). "
        f"Configurations alternated, order flipped each round, {args.rounds} rounds, medians. "
        "*end to end*: launch to exit; *steady*: (N − 1) / (wall(N) − wall(1)), the rate "
        "once started; *CPU per photo*: (CPU(N) − CPU(1)) / (N − 1), user + system of the "
        "whole process tree, which does not depend on the load; *if the cores were ours* = "
        f"{cores} cores / CPU per photo; *start-up*: indexing one photo, wall / CPU.\n\n"
        + table(["tool", "images/s end to end", "images/s steady", "CPU per photo",
                 "images/s if the cores were ours", "start-up (1 photo)", "speed vs rclip",
                 "CPU vs rclip", "peak RSS", "load avg"], rows)
        + "\n\nPer round (photofind defaults vs rclip, adjacent runs): rclip wall ÷ photofind "
        f"wall = {', '.join(f'{x:.2f}×' for x in per_round)}; rclip CPU per photo ÷ "
        f"photofind's = {', '.join(f'{x:.2f}×' for x in per_round_cpu)}. Target (photofind "
        f"indexing ≥ 4× rclip on the same architecture, same run): {target} "
        f"({s_pf['e2e'] / ref['e2e']:.2f}× end to end, {ref['cpu_photo'] / s_pf['cpu_photo']:.2f}× "
        "in CPU per photo).\n\n"
        f"Cold queries on the {n}-photo libraries (new process, launch to exit, top 10; "
        f"{args.query_runs} runs each, alternated; rclip ÷ photofind median = {q_ratio:.2f}×):\n\n"
        + table(["command", "median", "best", "CPU (median)", "peak RSS"], qrows)
        + f"\n\nThe two top 10s share {statistics.mean(overlap):.1f} photos on average "
        f"({', '.join(map(str, overlap))}): the same weights on both sides (random weights "
        "rank photos arbitrarily, but alike; the preprocessing differs a little).\n\n"
        f"Load average (1/5/15 min) on {cores} cores: {started_load} before, {ended_load} "
        "after; where other work shares the machine, wall-clock rates fall below what it can do, "
        "while the alternation keeps the ratios fair. Per photo, rclip reads 1 MB + 1 KB for "
        "its hash, decodes the full image (no JPEG draft), ignores EXIF orientation, resizes "
        "it bicubic to 256 px, and runs the fp32 image tower in batches of 8; photofind reads "
        "and hashes the whole file, decodes JPEGs at reduced scale (draft), applies EXIF "
        "orientation, and runs the int8 image tower. Rerun: `python bench/peer.py`."
    )
    print(body)
    if not args.no_write:
        rate = Chart(f"Indexing the same {n} photos with the same model ({ARCH})",
                     "images/s (higher is better)",
                     [(tool.name, [("end to end", stats[tool.name]["e2e"]),
                                   ("steady", stats[tool.name]["steady"]),
                                   ("if the cores were ours", stats[tool.name]["idle"])])
                      for tool in configs],
                     note=f"medians of {args.rounds} alternated rounds, {cores} cores")
        ratio = Chart("photofind's indexing speed as a multiple of rclip's",
                      "× rclip (higher is better)",
                      [(tool.name, [("end to end", stats[tool.name]["e2e"] / ref["e2e"]),
                                    ("CPU per photo", ref["cpu_photo"] / stats[tool.name]["cpu_photo"])])
                       for tool in configs if tool is not rc],
                      targets=[("target: 4× rclip", 4.0)], decimals=2)
        update_section("Peer: photofind vs rclip (bench/peer.py)",
                       body + "\n\n" + bars("peer-rate", rate) + "\n\n" + bars("peer-ratio", ratio))


if __name__ == "__main__":
    main()
