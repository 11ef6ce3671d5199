"""HEIC previews: what using the phone's stored preview instead of the photo costs in
embedding agreement, and what it saves in decoding (issue 22, item 1).

    python bench/heic_preview.py [--photos 16] [--timing 4] [--no-write]

Photos are crops of real photographs (bench/corpus.py's sources), saved as HEIC the way
phones do: the photo plus a small preview image (pillow-heif `thumbnails=`). For each
preview size, the cosine between the embedding of the preview and that of the full decode
(both through photofind's own decode and the model's eval preprocess), for two models:
ViT-B-32-256 with random weights (256 px input; real weights cannot be downloaded here,
so this is a proxy) and the shipped demo model (64 px input, on demo scenes). Then the
CPU time to decode a 12 MP HEIC for the model with and without a usable preview, beside a
12 MP JPEG (decoded at reduced scale), alternated, medians. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as photofind/__init__.py: before numpy

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import random_model  # noqa: E402
from report import table, update_section  # noqa: E402

from photofind.core.media import decode as dec  # noqa: E402

SHARES = (0.5, 0.75, 0.9, 1.0, 1.25, 2.0)  # preview short side ÷ the model's input


def heic(img: Image.Image, boxes: list[int], quality: int = 60) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "HEIF", quality=quality, thumbnails=boxes,
             enc_params={"preset": "ultrafast"})
    return buf.getvalue()


def photos(count: int, size: tuple[int, int]) -> list[Image.Image]:
    from corpus import sources

    rng = np.random.default_rng(3)
    found = sources()
    out = []
    for i in range(count):
        src = found[i % len(found)]
        h, w = src.shape[:2]
        ch, cw = int(h * 0.8), int(min(w, h * 0.8 * size[0] / size[1]))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        out.append(Image.fromarray(src[y:y + ch, x:x + cw]).resize(size, Image.Resampling.BICUBIC))
    return out


def agreement(spec: str, images: list[Image.Image]) -> dict[float, list[float]]:
    """Cosine (preview vs full decode) per share, for the model `spec`."""
    import open_clip
    import torch

    model, _, preprocess = open_clip.create_model_and_transforms(spec)
    model.eval()
    side = model.visual.image_size
    side = side[0] if isinstance(side, tuple) else int(side)

    def embed(img: Image.Image) -> np.ndarray:
        with torch.no_grad():
            v = model.encode_image(preprocess(img).unsqueeze(0), normalize=True)[0]
        return v.numpy()

    out: dict[float, list[float]] = {share: [] for share in SHARES}
    for img in images:
        w, h = img.size
        boxes = sorted({round(share * side * w / h) for share in SHARES})
        data = heic(img, boxes)
        full = embed(dec.decode(data, side).image)  # no preview: the photo itself
        for share in SHARES:
            box = round(share * side * w / h)
            heif = dec.pillow_heif.open_heif(io.BytesIO(data))
            thumb = heif[heif.primary_index].get_thumbnail(boxes.index(box)).to_pillow()
            out[share].append(float(embed(thumb) @ full))
    return out


def demo_retrieval(count: int, shares=(0.9, 1.0, 1.25, 2.0)) -> dict:
    """The demo model's P@k (k = min(10, right photos)) over the 32 "COLOUR SHAPE" queries
    on `count` test scenes saved as HEIC with previews, each photo embedded from its full
    decode or from a preview of each share: what a person would see change."""
    import open_clip
    import torch

    from photofind.demo import COLOURS, SHAPES, make_scene, render, scene_matches

    demo = Path(__file__).resolve().parents[1] / "photofind" / "models" / "demo"
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{demo}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{demo}")
    model.eval()
    scenes = [make_scene(i, "test") for i in range(count)]
    boxes = sorted({round(share * 64 * 4 / 3) for share in shares})
    vectors: dict[str, list] = {"full decode": []} | {f"preview {s:g} × input": [] for s in shares}
    for scene in scenes:
        data = heic(render(scene, (1024, 768)), boxes)
        heif = dec.pillow_heif.open_heif(io.BytesIO(data))
        images = {"full decode": dec.decode(data, 64).image}
        for share in shares:
            thumb = heif[heif.primary_index].get_thumbnail(boxes.index(round(share * 64 * 4 / 3)))
            images[f"preview {share:g} × input"] = thumb.to_pillow()
        with torch.no_grad():
            for name, img in images.items():
                vectors[name].append(model.encode_image(preprocess(img).unsqueeze(0),
                                                        normalize=True)[0].numpy())
    queries = [(c, s) for c in COLOURS for s in SHAPES]
    with torch.no_grad():
        texts = model.encode_text(tokenizer([f"{c} {s}" for c, s in queries]),
                                  normalize=True).numpy()
    out = {}
    for name, vecs in vectors.items():
        scores = np.stack(vecs) @ texts.T
        precisions = []
        for j, (c, s) in enumerate(queries):
            right = {i for i, sc in enumerate(scenes) if scene_matches(sc, c, s)}
            if right:
                k = min(10, len(right))
                top = np.argsort(-scores[:, j])[:k]
                precisions.append(sum(int(i) in right for i in top) / k)
        out[name] = float(np.mean(precisions))
    return out


def demo_images(count: int) -> list[Image.Image]:
    from photofind.demo import make_scene, render

    return [render(make_scene(i, "test")).resize((1024, 768), Image.Resampling.BICUBIC)
            for i in range(count)]


def timing(rounds: int) -> dict[str, list[float]]:
    """CPU seconds to decode one 12 MP photo for a 256 px model, alternated."""
    img = photos(1, (4000, 3000))[0]
    files = {
        "HEIC 12 MP, no preview": heic(img, []),
        "HEIC 12 MP, 160×120 preview (too small: the photo is decoded)": heic(img, [160]),
        "HEIC 12 MP, 320×240 preview (an iPhone's; used: 240 ≥ 0.9 × 256)": heic(img, [320]),
    }
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    files["JPEG 12 MP (reduced-scale decode)"] = buf.getvalue()
    out: dict[str, list[float]] = {name: [] for name in files}
    for _ in range(rounds):
        for name, data in files.items():
            t0 = time.process_time()
            dec.decode_for_model(data, 256)
            out[name].append(time.process_time() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--timing", type=int, default=4)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    demo = str(Path(__file__).resolve().parents[1] / "photofind" / "models" / "demo")
    for name, spec, images in (
            ("ViT-B-32-256, random weights (256 px)", random_model("ViT-B-32-256"),
             photos(args.photos, (1600, 1200))),
            ("demo model (64 px), demo scenes", f"local-dir:{demo}", demo_images(args.photos))):
        found = agreement(spec, images)
        for share in SHARES:
            values = found[share]
            rows.append([name, f"{share:g}", f"{np.mean(values):.4f}", f"{min(values):.4f}"])
            print(f"{name}: preview {share:g} × input: cosine mean {np.mean(values):.4f}, "
                  f"min {min(values):.4f}", flush=True)
    retrieval = demo_retrieval(args.scenes)
    for name, pk in retrieval.items():
        print(f"demo model, {args.scenes} test scenes as HEIC, {name}: P@k {pk:.3f}", flush=True)
    times = timing(args.timing)
    trows = [[name, f"{statistics.median(v) * 1000:.0f}"] for name, v in times.items()]
    for name, ms in trows:
        print(f"{name}: {ms} ms CPU", flush=True)
    body = (
        f"{args.photos} photos per model saved as HEIC with previews of several sizes; the "
        "cosine between the embedding of a preview and that of the photo's full decode "
        "(1.0: the same vector). A preview's short side is given as a share of the "
        "model's input; photofind uses a preview from 0.9 up (`PREVIEW_SHARE`). Real CLIP "
        "weights are not reachable here: ViT-B-32-256 with random weights is a proxy for "
        "how a real tower reacts to the smaller, re-encoded input.\n\n"
        + table(["model", "preview short side ÷ input", "cosine mean", "cosine min"], rows)
        + f"\n\nWhat a person would see change: the demo model's precision at k = min(10, "
        f"right photos) over the 32 \"COLOUR SHAPE\" queries, {args.scenes} test scenes saved "
        "as 1024×768 HEIC, each embedded from its full decode or from a preview:\n\n"
        + table(["embedded from", "P@k"], [[n, f"{v:.3f}"] for n, v in retrieval.items()])
        + f"\n\nDecoding one 12 MP photo for a 256 px model (CPU ms, median of {args.timing}, "
        f"alternated; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):\n\n"
        + table(["file", "CPU ms"], trows))
    if not args.no_write:
        update_section("HEIC previews (bench/heic_preview.py)", body)


if __name__ == "__main__":
    main()
