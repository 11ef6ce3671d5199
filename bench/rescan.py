"""No-change rescan: `photofind index` over a library where nothing changed.

    python bench/rescan.py [--files 100000] [--runs 5] [--model ViT-B-32-256] [--no-write]

A library of `--files` small JPEGs (a few distinct pictures, in 20 × 50 nested folders) is
indexed once (copies reuse the vector of their first twin, so this is quick); then
`photofind index` (no paths: every remembered folder) runs `--runs` times with nothing
changed, as a child process, launch to exit. Reported: median wall time end to end and
the report's own `seconds` (walk + compare with the catalog + nothing to save).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import random_model  # noqa: E402
from plot import Chart, bars  # noqa: E402
from report import table, update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = Path("/tmp/pfbench/rescan")


def library(files: int) -> Path:
    lib = WORK / f"lib-{files}"
    if (lib / ".done").exists():
        return lib
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(16):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
        blobs.append(buf.getvalue())
    seed = lib / "0-seed"  # the distinct pictures, indexed first: every other file is a copy
    seed.mkdir(parents=True, exist_ok=True)
    for k, blob in enumerate(blobs):
        (seed / f"IMG_seed_{k:02d}.jpg").write_bytes(blob)
    for i in range(files - len(blobs)):
        folder = lib / f"{2000 + i % 20}" / f"album-{(i // 20) % 50:02d}"
        if i < 1000:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:06d}.jpg").write_bytes(blobs[i % len(blobs)])
    (lib / ".done").write_text("")  # a hidden file: the scanner skips it
    return lib


def photofind(data: Path, *args: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "photofind", "--data-dir", str(data), *args,
                          "--json"], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return wall, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="ViT-B-32-256")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    lib = library(args.files)
    data = WORK / f"data-{args.files}-{args.model}"
    if not (data / "catalog.db").exists():
        photofind(data, "index", str(lib / "0-seed"), "--model", random_model(args.model))
        wall, report = photofind(data, "index", str(lib))
        print(f"first index: {wall:.0f} s, {report['added']} added", flush=True)
    walls, secs = [], []
    for r in range(args.runs):
        wall, report = photofind(data, "index")
        assert report["unchanged"] >= args.files and report["embedded"] == 0, report
        walls.append(wall)
        secs.append(report["seconds"])
        print(f"run {r + 1}: {wall:.2f} s end to end, {report['seconds']:.2f} s in the indexer",
              flush=True)
    body = (
        f"`photofind index` (every remembered folder) with nothing changed, {args.files:,} "
        f"files in 1,000 folders, model {args.model} (random weights). Median of {args.runs} "
        f"runs as a child process; load average at the end {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores.\n\n"
        + table(["files", "end to end (launch to exit)", "in the indexer (walk + compare)",
                 "best end to end"],
                [[f"{report['unchanged']:,}", f"{statistics.median(walls):.2f} s",
                  f"{statistics.median(secs):.2f} s", f"{min(walls):.2f} s"]])
    )
    print(body)
    if not args.no_write:
        chart = Chart("`photofind index` with nothing changed", "seconds (lower is better)",
                      [(f"{report['unchanged']:,} files",
                        [("end to end", statistics.median(walls)),
                         ("in the indexer", statistics.median(secs))])],
                      targets=[("target: 5 s", 5.0)], note=f"median of {args.runs} runs")
        update_section("No-change rescan (bench/rescan.py)", body + "\n\n" + bars("rescan", chart))


if __name__ == "__main__":
    main()
