"""A generator of realistic test libraries, deterministic from a seed.

    python bench/corpus.py OUT [--count 200] [--seed 0]

Photos are cut, jittered and upscaled from real photographs that installed packages ship
(scikit-image's `skimage.data`, scikit-learn's sample images; installed into the running
interpreter by `ensure_packages` when missing), with sensor-like grain so they compress
like camera photos do (a 12 MP JPEG of quality 90 is 3-5 MB, not the ~1 MB of a smooth
upscale). The mix, in nested year/month/event folders:

- 80 %  12 MP JPEG (4000×3000), quality 90, camera EXIF (Make, Model, DateTimeOriginal);
        a quarter of them stored sideways with Orientation 6, as phones do
- 6 %   small JPEG (640×480 to 1600×1200, e.g. messaging apps)
- 9 %   PNG screenshots (1170×2532)
- 5 %   12 MP HEIC (pillow-heif, x265 preset ultrafast, quality 60: ~2.6 MB, what an
        iPhone's 12 MP HEIC weighs; quality 85 made 8 MB files that took 0.65 s to decode),
        each with a 320×240 preview inside, as an iPhone writes them (photofind decodes the
        preview instead of the photo for a model whose input is ≤ 266 px)

`generate` skips files that already exist, so a corpus is built once per (seed, count).
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

BENCH_PACKAGES = {"skimage": "scikit-image", "sklearn": "scikit-learn"}
SKIMAGE_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "cat", "immunohistochemistry",
                 "retina", "colorwheel", "logo", "page", "text", "moon", "horse", "clock",
                 "coins", "grass", "gravel", "brick", "hubble_deep_field", "motorcycle_left",
                 "skin", "lily")
MAKES = (("Canon", "Canon EOS 80D"), ("NIKON CORPORATION", "NIKON D7500"),
         ("Apple", "iPhone 13"), ("samsung", "SM-G991B"), ("Google", "Pixel 7"))
ORIENTATION, MAKE, MODEL, DATETIME, EXIF_IFD, DATETIME_ORIGINAL = (
    0x0112, 0x010F, 0x0110, 0x0132, 0x8769, 0x9003)


def ensure_packages(modules: dict[str, str]) -> None:
    """pip-install the benchmark-only packages missing from this interpreter."""
    missing = [pkg for mod, pkg in modules.items() if importlib.util.find_spec(mod) is None]
    if missing:
        print(f"installing benchmark packages: {' '.join(missing)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
        importlib.invalidate_caches()


def sources() -> list[np.ndarray]:
    """Real photographs (RGB uint8 arrays, at least 256 px) shipped by installed packages."""
    ensure_packages(BENCH_PACKAGES)
    import skimage.data
    from sklearn.datasets import load_sample_images

    found = []
    for name in SKIMAGE_NAMES:
        try:
            arr = np.asarray(getattr(skimage.data, name)())
        except Exception:  # some need a download (pooch); we have no network
            continue
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or min(arr.shape[:2]) < 256:
            continue
        if arr.dtype != np.uint8:
            arr = arr.astype(np.float64)
            arr = (255 * (arr - arr.min()) / max(float(np.ptp(arr)), 1e-9)).astype(np.uint8)
        found.append(np.ascontiguousarray(arr[..., :3]))
    found += [np.asarray(img) for img in load_sample_images().images]
    if len(found) < 4:
        raise SystemExit("corpus: fewer than 4 source photographs found")
    return found


def plan(count: int, seed: int) -> list[tuple[str, str]]:
    """(relative path, kind) for each photo; kind is jpeg12, jpeg12r, small, png, heic."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(count):
        r = rng.random()
        kind = ("jpeg12r" if r < 0.20 else "jpeg12" if r < 0.80 else "small" if r < 0.86
                else "png" if r < 0.95 else "heic")
        year, month, event = 2015 + i % 9, 1 + (i // 7) % 12, (i // 23) % 5
        ext = {"png": "png", "heic": "heic"}.get(kind, "jpg")
        name = ("Screenshot_" if kind == "png" else "IMG_") + f"{i:05d}.{ext}"
        items.append((f"{year}/{month:02d}/event-{event}/{name}", kind))
    return items


_SOURCES: list[np.ndarray] | None = None


def _make(args: tuple[Path, str, str, int, int]) -> int:
    out, rel, kind, seed, index = args
    global _SOURCES
    target = out / rel
    if target.exists():
        return 0
    if _SOURCES is None:
        _SOURCES = sources()
    rng = np.random.default_rng([seed, index])
    src = _SOURCES[int(rng.integers(len(_SOURCES)))]
    h, w = src.shape[:2]
    frac = rng.uniform(0.45, 1.0)
    ch, cw = max(64, int(h * frac)), max(64, int(w * frac * rng.uniform(0.8, 1.2)))
    cw = min(cw, w)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    img = Image.fromarray(src[y:y + ch, x:x + cw])
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.2))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.7, 1.3))
    size = {"jpeg12": (4000, 3000), "jpeg12r": (4000, 3000), "heic": (4000, 3000),
            "png": (1170, 2532)}.get(kind)
    if size is None:
        side = int(rng.integers(640, 1601))
        size = (side, side * 3 // 4)
    img = img.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.SMOOTH)
    arr = np.asarray(img, dtype=np.int16)
    if kind != "png":  # sensor grain: what makes camera JPEGs big and slow to decode
        grain = rng.normal(0, 5.0, size=(256, 256, 3)).astype(np.int16)
        reps = (size[1] // 256 + 2, size[0] // 256 + 2, 1)
        oy, ox = int(rng.integers(256)), int(rng.integers(256))
        arr = arr + np.tile(grain, reps)[oy:oy + size[1], ox:ox + size[0]]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    exif = Image.Exif()
    make, model = MAKES[int(rng.integers(len(MAKES)))]
    stamp = f"{2015 + index % 9}:{1 + index % 12:02d}:{1 + index % 28:02d} 12:{index % 60:02d}:00"
    exif[MAKE], exif[MODEL], exif[DATETIME] = make, model, stamp
    exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = stamp
    if kind == "jpeg12r":
        exif[ORIENTATION] = 6
    if kind == "png":
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=6)
    elif kind == "heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
        buf = io.BytesIO()
        img.save(buf, "HEIF", quality=60, exif=exif.tobytes(), thumbnails=[320],
                 enc_params={"preset": "ultrafast"})  # x265 default: ~40 s a photo
        # thumbnails: the 320×240 preview an iPhone stores in each HEIC (issue 22)
    else:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90, exif=exif.tobytes(), subsampling="4:2:0")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(target)
    return 1


VERSION = 3  # bumped whenever the files change (2: HEIC at quality 60; 3: with a preview)
BENCH = Path("/tmp/pfbench")


def folder(seed: int, count: int) -> Path:
    """Where the benchmarks keep the corpus of (seed, count), of this version."""
    return BENCH / f"corpus-v{VERSION}-{seed}-{count}"


def generate(out: Path, count: int = 200, seed: int = 0, jobs: int | None = None) -> Path:
    """Write (or complete) the corpus in `out`; returns `out`."""
    out.mkdir(parents=True, exist_ok=True)
    todo = [(out, rel, kind, seed, i) for i, (rel, kind) in enumerate(plan(count, seed))
            if not (out / rel).exists()]
    if todo:
        print(f"corpus: writing {len(todo)} photos to {out}", file=sys.stderr)
        sources()  # install packages once, before the workers start
        with ProcessPoolExecutor(jobs) as pool:
            for _ in pool.map(_make, todo, chunksize=4):
                pass
    return out


def describe(out: Path) -> dict:
    files = [p for p in out.rglob("*") if p.is_file()]
    by_ext: dict[str, int] = {}
    for p in files:
        by_ext[p.suffix.lower()] = by_ext.get(p.suffix.lower(), 0) + 1
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "by_ext": by_ext}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generate(args.out, args.count, args.seed)
    print(describe(args.out))


if __name__ == "__main__":
    main()
