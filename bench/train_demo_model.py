"""Train photofind's demo model: a small open_clip CLIP on synthetic scenes.

Real CLIP weights cannot be downloaded on the development machines, so photofind ships
a tiny CLIP-style model trained here, on the scenes of ``photofind.demo.scenes`` whose
captions are known, with open_clip's own contrastive loss (``open_clip.loss.ClipLoss``)
and the model's learned temperature (``logit_scale``).

Reproduce the shipped weights (``photofind/models/demo``) from the repository root:

    .venv/bin/python bench/train_demo_model.py --out photofind/models/demo

Defaults: --seed 0 --steps 3000 --batch-size 128 --threads 2 --train-scenes 20000.
On the 2-core development machine (CPU only, torch 2.14.1) this takes about 13 minutes:
~1.1 min to render the training set, 11.6 min of training (0.23 s a step).  The same
torch version and thread count give the same weights bit for bit; the data are a pure
function of the seeds.

Evaluate a model folder on held-out TEST scenes the way the app sees them (JPEG files
on disk, opened with Pillow, open_clip's eval preprocess, cosine ranking):

    .venv/bin/python bench/train_demo_model.py --eval-only photofind/models/demo

How the data match the app: each training scene is rendered at the demo library's size,
JPEG-compressed, decoded and passed through the very eval transform open_clip builds
for this model (shortest side resized with bicubic, centre crop), then cached as uint8.
Some scenes are rendered at other sizes, with other JPEG qualities, or decoded at
reduced scale with ``Image.draft`` (as photofind's decoder may), so the model does not
depend on one exact pipeline.

The texts are what people type, not only full captions: each training text is drawn at
random among many forms true of its scene ("red circle", "a small red circle", "red
circle on blue", "circle on a blue background", either shape of a two-shape scene or both,
the full caption ...), and each batch is *clean*: no text in it is true of another photo
in it (see "texts" below).  The image tower is a small CNN (timm's ``test_resnet``
through open_clip's timm adapter): small ViTs did not learn shape on these scenes within
the time budget.  Both choices, with the measurements behind them, are in
docs/decisions.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from photofind.demo import scenes as sc  # noqa: E402

IMAGE_SIZE = 64
CONTEXT_LENGTH = 32
MODEL_CFG = {
    "embed_dim": 128,
    # The image tower is a small CNN (timm's 4-stage "test_resnet", 0.4M parameters,
    # through open_clip's timm adapter) with global max pooling: a ViT of this size did
    # not learn shape at all in the time budget (see the notes at the top).
    "vision_cfg": {"timm_model_name": "test_resnet", "timm_model_pretrained": False,
                   "timm_pool": "max", "timm_proj": "linear", "image_size": IMAGE_SIZE},
    "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": 49408, "width": 128,
                 "heads": 4, "layers": 3, "mlp_ratio": 4.0},
}
PREPROCESS_CFG = {
    "size": IMAGE_SIZE,
    "mode": "RGB",
    "mean": list(OPENAI_DATASET_MEAN),
    "std": list(OPENAI_DATASET_STD),
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}
# Sizes the training scenes are rendered at (the first is the demo library's).
RENDER_SIZES = [sc.DEFAULT_SIZE, sc.DEFAULT_SIZE, sc.DEFAULT_SIZE, (192, 256), (224, 224),
                (320, 240)]


def log(*args) -> None:
    print(*args, flush=True)


# ----------------------------------------------------------------------------- data


def _geometry_transform():
    """open_clip's eval transform for this model, minus the final Normalize."""
    t = open_clip.image_transform(IMAGE_SIZE, is_train=False, mean=PREPROCESS_CFG["mean"],
                                  std=PREPROCESS_CFG["std"], resize_mode="shortest",
                                  interpolation="bicubic")
    return open_clip.transform.Compose(t.transforms[:-1])


_GEOM = None


def _prepare(job: tuple[int, str, bool]) -> np.ndarray:
    """Render scene (seed, split), JPEG it, decode it, eval-transform it: uint8 CHW."""
    global _GEOM
    if _GEOM is None:
        torch.set_num_threads(1)
        _GEOM = _geometry_transform()
    seed, split, vary = job
    scene = sc.make_scene(seed, split)
    size, quality, draft = sc.DEFAULT_SIZE, sc.JPEG_QUALITY, False
    if vary:
        rng = random.Random(scene.seed * 7 + 3)
        size = rng.choice(RENDER_SIZES)
        quality = rng.randint(70, 95)
        draft = rng.random() < 0.6
    data = sc.jpeg_bytes(sc.render(scene, size), quality)
    img = Image.open(io.BytesIO(data))
    if draft:  # what photofind's decoder does: DCT-scaled decode, short side >= model input
        img.draft("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    x = _GEOM(img.convert("RGB"))
    return (x * 255).round().to(torch.uint8).numpy()


def build_images(seeds: range, split: str, vary: bool, workers: int) -> torch.Tensor:
    jobs = [(s, split, vary) for s in seeds]
    if workers > 1:
        with Pool(workers) as pool:
            arrays = pool.map(_prepare, jobs, chunksize=64)
    else:
        arrays = [_prepare(j) for j in jobs]
    return torch.from_numpy(np.stack(arrays))


def normalize(images_u8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(PREPROCESS_CFG["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(PREPROCESS_CFG["std"]).view(1, 3, 1, 1)
    return (images_u8.float() / 255.0 - mean) / std


# ----------------------------------------------------------------------------- texts
#
# The text of each training example is drawn at random among the ways people would ask
# for the scene ("red circle", "a small red circle", "red circle on blue", "circle on a
# blue background", "blue background with a red circle", the full caption, either shape
# of a two-shape scene alone or both ...), together with its meaning (a predicate), so
# that a batch can be made *clean*: every text in it is true of its own photo and of no
# other photo in the batch.  open_clip's contrastive loss treats every other pair in the
# batch as a negative; in a random batch many of those "negatives" are true ("red circle"
# for another red circle), which drowns the signal that tells shapes apart.  In a clean
# batch the only way to pick "red circle on blue" over "red square on blue" is the shape.

def _article(word):
    return "an" if word[0] in "aeiou" else "a"


def holds(pred, scene) -> bool:
    """Whether text predicate ``pred`` = (requirements, background) is true of ``scene``."""
    reqs, bg = pred
    if bg is not None and scene.background != bg:
        return False
    shapes = scene.shapes
    def ok(req, shp):
        c, s, z = req
        return s == shp[1] and (c is None or c == shp[0]) and (z is None or shp[2] is None or z == shp[2])
    if len(reqs) == 1:
        return any(ok(reqs[0], shp) for shp in shapes)
    if len(shapes) < 2:
        return False
    return (ok(reqs[0], shapes[0]) and ok(reqs[1], shapes[1])) or \
           (ok(reqs[0], shapes[1]) and ok(reqs[1], shapes[0]))


def phrase(rng, colour, shape, size):
    words = [w for w in (size, colour, shape) if w]
    text = " ".join(words)
    r = rng.random()
    if r < 0.3:
        text = f"{_article(text)} {text}"
    return text


def sample_text(rng, scene, specific=False):
    """A text true of ``scene`` and its predicate; ``specific``: the most specific one."""
    bg = scene.background
    if specific:
        return scene.caption, (tuple((c, s, z) for c, s, z in scene.shapes), bg)
    if len(scene.shapes) == 1 or rng.random() < 0.5:
        picked = [rng.choice(scene.shapes)] if len(scene.shapes) == 2 else list(scene.shapes)
    else:
        picked = list(scene.shapes)
        rng.shuffle(picked)
    reqs, parts = [], []
    for c, s, z in picked:
        use_c = rng.random() < 0.85
        use_z = len(scene.shapes) == 1 and rng.random() < 0.3
        reqs.append((c if use_c else None, s, z if use_z else None))
        parts.append(phrase(rng, c if use_c else None, s, z if use_z else None))
    subject = " and ".join(parts)
    # a lone shape with no colour ("circle") is true of a quarter of all photos: such a
    # text always names the background, or a clean batch would shut out everything else
    generic = len(reqs) == 1 and reqs[0][0] is None
    r = 0.4 + 0.6 * rng.random() if generic else rng.random()
    if r < 0.4:
        text, b = subject, None
    elif r < 0.7:
        text, b = f"{subject} on {bg}", bg
    elif r < 0.85:
        text, b = f"{subject} on {_article(bg)} {bg} background", bg
    elif r < 0.93:
        text, b = f"{subject} with {_article(bg)} {bg} background", bg
    else:
        text, b = f"{bg} background with {subject}", bg
    return text, (tuple(reqs), b)


def clean_batch(rng, scenes, order, pos, size):
    """Take scenes from ``order`` at ``pos`` until ``size`` are chosen, each with a text
    that is true of it and of no other scene in the batch (so open_clip's contrastive
    loss never pushes a true text away from a matching photo)."""
    chosen, texts, preds = [], [], []
    tries = 0
    while len(chosen) < size and tries < 50 * size:
        tries += 1
        if pos >= len(order):
            rng.shuffle(order)
            pos = 0
        i = order[pos]
        pos += 1
        scene = scenes[i]
        if any(holds(p, scene) for p in preds):
            continue  # an earlier text is true of this photo too
        for specific in (False, True):
            text, pred = sample_text(rng, scene, specific)
            if not any(holds(pred, scenes[j]) for j in chosen):
                break
        else:
            continue
        chosen.append(i)
        texts.append(text)
        preds.append(pred)
    return chosen, texts, pos


# ------------------------------------------------------------------------ evaluation


def _ranking_metrics(scores: torch.Tensor, relevant: torch.Tensor, k: int = 10) -> tuple[float, float]:
    """Mean precision@k and mean average precision over queries (rows)."""
    order = scores.argsort(dim=1, descending=True)
    rel = torch.gather(relevant.float(), 1, order)
    p_at_k = rel[:, :k].mean(dim=1)
    hits = rel.cumsum(dim=1)
    ranks = torch.arange(1, rel.shape[1] + 1, dtype=torch.float32)
    ap = ((hits / ranks) * rel).sum(dim=1) / rel.sum(dim=1).clamp(min=1)
    return float(p_at_k.mean()), float(ap.mean())


@torch.no_grad()
def evaluate(model, tokenizer, images: torch.Tensor, scenes: list[sc.Scene], log_fn=log) -> dict:
    """Retrieval figures over a gallery of (normalised) images with known scenes."""
    model.eval()
    feats = torch.cat([model.encode_image(images[i:i + 256], normalize=True)
                       for i in range(0, len(images), 256)])
    results = {}

    def text_eval(name, queries):
        tf = model.encode_text(tokenizer([q for q, _ in queries]), normalize=True)
        relevant = torch.tensor([[sc.scene_matches(s, *attrs) for s in scenes]
                                 for _, attrs in queries])
        keep = relevant.sum(dim=1) >= 10
        p10, m_ap = _ranking_metrics(tf[keep] @ feats.T, relevant[keep])
        results[name] = {"p@10": round(p10, 3), "mAP": round(m_ap, 3),
                         "queries": int(keep.sum())}

    single = [(f"{c} {s}", (c, s)) for c in sc.COLOURS for s in sc.SHAPES]
    text_eval("text: colour shape", single)
    with_bg = [(f"{c} {s} on {b}", (c, s, b)) for c in sc.COLOURS for s in sc.SHAPES
               for b in sc.COLOURS if b != c]
    text_eval("text: colour shape on background", with_bg)
    text_eval("text: a colour shape on a background (sentence)",
              [(f"{'an' if c == 'orange' else 'a'} {c} {s} on {'an' if b == 'orange' else 'a'} "
                f"{b} background", (c, s, b)) for _, (c, s, b) in with_bg])

    # image -> image: single-shape scenes as queries, the rest of the gallery as answers
    qidx = [i for i, s in enumerate(scenes) if len(s.shapes) == 1][:300]
    sims = feats[qidx] @ feats.T
    sims[torch.arange(len(qidx)), torch.tensor(qidx)] = -2.0  # never the query itself
    relevant = torch.tensor([[sc.scene_matches(g, *scenes[q].shapes[0][:2]) for g in scenes]
                             for q in qidx])
    relevant[torch.arange(len(qidx)), torch.tensor(qidx)] = False
    p10, m_ap = _ranking_metrics(sims, relevant)
    results["image->image: same colour shape"] = {"p@10": round(p10, 3), "mAP": round(m_ap, 3),
                                                  "queries": len(qidx)}
    for name, r in results.items():
        log_fn(f"  {name:50s} p@10 {r['p@10']:.3f}  mAP {r['mAP']:.3f}  ({r['queries']} queries)")
    return results


def eval_folder(folder: Path, count: int, draft: bool) -> dict:
    """Evaluate a local-dir model on TEST scenes written as JPEG files, as the app does."""
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder.resolve()}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder.resolve()}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        paths = sc.write_library(tmp, count, seed=0, split="test")
        log(f"wrote {count} test photos in {time.time() - t0:.0f}s")
        tensors = []
        for p in paths:
            img = Image.open(p)
            if draft:
                img.draft("RGB", (IMAGE_SIZE, IMAGE_SIZE))
            tensors.append(preprocess(img.convert("RGB")))
        scenes = [sc.parse_stem(p.stem) for p in paths]
    log(f"test split, {count} photos, {'draft' if draft else 'full'} JPEG decode:")
    return evaluate(model, tokenizer, torch.stack(tensors), scenes)


# -------------------------------------------------------------------------- training


def train(args) -> None:
    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    log(f"rendering {args.train_scenes} train + {args.val_scenes} val scenes "
        f"with {args.workers} workers ...")
    cache = Path(args.cache) if args.cache else None
    key = f"{IMAGE_SIZE}-{args.train_scenes}-{args.val_scenes}"
    if cache and cache.is_file() and torch.load(cache)["key"] == key:
        data = torch.load(cache)
        train_images, val_images = data["train"], data["val"]
    else:
        train_images = build_images(range(args.train_scenes), "train", True, args.workers)
        val_images = build_images(range(args.val_scenes), "val", False, args.workers)
        if cache:
            torch.save({"key": key, "train": train_images, "val": val_images}, cache)
    train_scenes = [sc.make_scene(i, "train") for i in range(args.train_scenes)]
    val_scenes = [sc.make_scene(i, "val") for i in range(args.val_scenes)]

    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=CONTEXT_LENGTH)
    token_cache: dict[str, torch.Tensor] = {}

    def tokenize(texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in token_cache]
        if missing:
            token_cache.update(zip(missing, tokenizer(missing), strict=True))
        return torch.stack([token_cache[t] for t in texts])

    t_data = time.time() - t_start
    log(f"data ready in {t_data:.0f}s: images {tuple(train_images.shape)}")

    model = open_clip.CLIP(**MODEL_CFG)
    model.train()
    loss_fn = open_clip.loss.ClipLoss()

    def no_decay(name, p):
        return p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name

    named = list(model.named_parameters())
    opt = torch.optim.AdamW(
        [{"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0},
         {"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": args.wd}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-6)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    rng = random.Random(args.seed)
    order, pos = list(range(len(train_images))), len(train_images)
    t0, running = time.time(), 0.0
    for step in range(args.steps):
        chosen, texts, pos = clean_batch(rng, train_scenes, order, pos, args.batch_size)
        idx = torch.tensor(chosen)
        images = train_images[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
        texts = tokenize(texts)

        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        img_f, txt_f, scale = model(normalize(images), texts)
        loss = loss_fn(img_f, txt_f, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        running += loss.item()
        if (step + 1) % args.log_every == 0:
            el = time.time() - t0
            log(f"step {step + 1:5d}/{args.steps}  loss {running / args.log_every:.3f}  "
                f"temp 1/{model.logit_scale.exp().item():.1f}  lr {lr_at(step):.2e}  "
                f"{el / (step + 1):.2f}s/step  eta {el / (step + 1) * (args.steps - step - 1) / 60:.1f}min")
            running = 0.0
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            r = evaluate(model, tokenizer, normalize(val_images[:1000]), val_scenes[:1000],
                         log_fn=lambda *a: None)
            log("  val " + "  ".join(f"{k.split(':')[-1].strip()} {v['p@10']:.3f}"
                                     for k, v in r.items()))
            model.train()
    t_train = time.time() - t0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    (out / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}, indent=2) + "\n")
    log(f"saved {out} ({sum(p.stat().st_size for p in out.iterdir()) / 1e6:.1f} MB)")

    # validation with the saved (float16) weights, loaded the way the app loads them
    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{out.resolve()}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{out.resolve()}")
    log(f"validation ({args.val_scenes} val scenes):")
    evaluate(model, tokenizer, normalize(val_images), val_scenes)
    log(f"time: data {t_data / 60:.1f} min, training {t_train / 60:.1f} min, "
        f"total {(time.time() - t_start) / 60:.1f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--cache", help="file to keep the rendered data in between runs")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--train-scenes", type=int, default=20000)
    ap.add_argument("--val-scenes", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the data")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=0, help="quick validation every N steps")
    ap.add_argument("--out", default="photofind/models/demo")
    ap.add_argument("--eval-only", metavar="MODEL_DIR",
                    help="skip training; evaluate this local-dir model on test scenes")
    ap.add_argument("--test-scenes", type=int, default=3000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.eval_only:
        for draft in (False, True):
            eval_folder(Path(args.eval_only), args.test_scenes, draft)
    else:
        train(args)


if __name__ == "__main__":
    main()
