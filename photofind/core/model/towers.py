"""The model's image tower exported to ONNX, in this process: fp32, and int8 kept only
when it stays within cosine 0.99 of fp32 on probe pictures (the verdict is recorded next
to it), with `image.json` (input size, dimension, preprocessing) so that an embedder can
run it without torch. Exporting from the parent process goes through `exportrun.py`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from photofind.core.model.preprocess import PilPreprocess

IMAGE_META = "image.json"


def exported_image_tower(cache_dir: Path, model_id: str, precision: str
                         ) -> tuple[Path, dict] | None:
    """(tower, meta) when this model's image tower is exported with everything an embedder
    needs to run it without torch; None otherwise. An int8 tower that failed its fidelity
    check gives the fp32 one."""
    from photofind.core.model import onnxrt

    folder = onnxrt.folder(cache_dir, model_id)
    try:
        meta = json.loads((folder / IMAGE_META).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not meta.get("preprocess"):
        return None
    tower = onnxrt.tower_path(cache_dir, model_id, "image", precision)
    if precision == "int8":
        try:
            verdict = json.loads(tower.with_suffix(".json").read_text())
        except (OSError, ValueError):
            return None
        if not verdict.get("ok"):
            tower = onnxrt.tower_path(cache_dir, model_id, "image", "fp32")
    return (tower, meta) if tower.is_file() else None


INT8_MIN_COSINE = 0.99


def export_image_tower_here(embedder, cache_dir: Path, precision: str) -> Path:
    """Export (when missing) and return the image tower in this process. An int8 tower is
    used only when its vectors stay within cosine 0.99 of fp32 on probe pictures (checked
    once, recorded next to it); otherwise the fp32 tower is returned."""
    from photofind.core.model import onnxrt

    fp32 = onnxrt.tower_path(cache_dir, embedder.model_id, "image", "fp32")
    if not fp32.is_file():
        onnxrt.export_image_tower(embedder.model, embedder.image_size, fp32)
    meta = fp32.with_name(IMAGE_META)
    if not meta.is_file():
        text = json.dumps({"image_size": embedder.image_size, "dim": embedder.dim,
                           "preprocess": PilPreprocess.describe(embedder.transform)})
        onnxrt._atomic(meta, lambda tmp: tmp.write_text(text))
    if precision == "fp32":
        return fp32
    path = onnxrt.tower_path(cache_dir, embedder.model_id, "image", precision)
    verdict = path.with_suffix(".json")
    if not path.is_file() or not verdict.is_file():
        onnxrt.quantize_int8(fp32, path)
        probes = np.stack([np.asarray(embedder.preprocess(img), dtype=np.float32)
                           for img in _probes(embedder.image_size)])
        cosine = (onnxrt.Session(fp32).run(probes) * onnxrt.Session(path).run(probes)).sum(axis=1)
        onnxrt._atomic(verdict, lambda tmp: tmp.write_text(json.dumps(
            {"min_cosine": float(cosine.min()), "ok": bool(cosine.min() >= INT8_MIN_COSINE)})))
    if not json.loads(verdict.read_text()).get("ok"):
        return fp32  # quantisation hurts this model too much: stay exact
    return path


def _probes(size: int, count: int = 8) -> list:
    """Photo-like pictures (smooth colour fields, blobs, grain) to check a quantised tower."""
    from PIL import Image

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    pictures = []
    for _ in range(count):
        img = np.zeros((size, size, 3), np.float32)
        for c in range(3):
            a, b, phase = rng.uniform(-3, 3, 3)
            img[..., c] = 127 + 100 * np.sin(3.14 * (a * x + b * y) + phase)
        for _ in range(4):
            cx, cy, r = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.05, 0.25)]
            img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
        img += rng.normal(0, 4, img.shape)
        pictures.append(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)))
    return pictures
