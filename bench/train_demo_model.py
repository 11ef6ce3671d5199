"""Train photofind's demo model: a small open_clip CLIP on synthetic scenes.

Real CLIP weights cannot be downloaded on the development machines, so photofind ships
a tiny CLIP-style model trained here, on the scenes of ``photofind.demo.scenes`` whose
captions are known, with open_clip's own contrastive loss (``open_clip.loss.ClipLoss``)
and the model's learned temperature (``logit_scale``).

Reproduce the shipped weights (``photofind/models/demo``) from the repository root:

    .venv/bin/python bench/train_demo_model.py --out photofind/models/demo

Defaults: --seed 0 --steps 1500 --batch-size 128 --threads 2 --train-scenes 24000.
On the 2-core development machine (CPU only, torch 2.14, shared with other work) this
took about 14 minutes in all: ~1.5 min to render the training set, ~12 min of
training.  Bit-for-bit reproduction needs the same torch version and thread count;
the data are a pure function of the seeds.

Evaluate a model folder on held-out TEST scenes the way the app sees them (JPEG files
on disk, opened with Pillow, open_clip's eval preprocess, cosine ranking):

    .venv/bin/python bench/train_demo_model.py --eval-only photofind/models/demo

How the data match the app: each training scene is rendered at the demo library's size,
JPEG-compressed, decoded and passed through the very eval transform open_clip builds
for this model (shortest side resized with bicubic, centre crop), then cached as uint8.
Some scenes are rendered at other sizes, with other JPEG qualities, or decoded at
reduced scale with ``Image.draft`` (as photofind's decoder may), so the model does not
depend on one exact pipeline.  The text of each training example is drawn at random
from ``caption_forms(scene)`` ("red circle", "a red circle on blue", the full sentence,
either shape alone for two-shape scenes, ...): trained on full sentences only, short
queries like "red circle" work poorly.
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
    "vision_cfg": {"image_size": IMAGE_SIZE, "layers": 4, "width": 128, "head_width": 32,
                   "patch_size": 8, "mlp_ratio": 4.0},
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
        draft = rng.random() < 0.3
    data = sc.jpeg_bytes(sc.render(scene, size), quality)
    img = Image.open(io.BytesIO(data))
    if draft:
        img.draft("RGB", (IMAGE_SIZE * 2, IMAGE_SIZE * 2))
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
                img.draft("RGB", (IMAGE_SIZE * 2, IMAGE_SIZE * 2))
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
    # Each scene's texts, in two pools: forms that name the shapes' colours, and forms
    # that do not ("circle", "large star", "star on blue"), which teach shape on its own
    # (colour is learnt almost at once; shape needs the push).
    form_index: dict[str, int] = {}
    pools = ([], [], [])
    for scene in train_scenes:
        named = [c for c, _, _ in scene.shapes]
        forms = sc.caption_forms(scene)
        colour_free = [f for f in forms if not any(c in f.split() for c in named)]
        with_colour = [f for f in forms if f not in colour_free]
        simple = [f"{c} {s}" for c, s, _ in scene.shapes]
        for pool, fs in zip(pools, (with_colour, colour_free, simple), strict=True):
            pool.append([form_index.setdefault(f, len(form_index)) for f in fs])
    tokens = tokenizer(list(form_index))
    counts, forms = [], []
    for pool in pools:
        counts.append(torch.tensor([len(f) for f in pool]))
        table = torch.zeros((len(pool), int(counts[-1].max())), dtype=torch.long)
        for i, f in enumerate(pool):
            table[i, :len(f)] = torch.tensor(f)
        forms.append(table)
    t_data = time.time() - t_start
    log(f"data ready in {t_data:.0f}s: images {tuple(train_images.shape)}, "
        f"{len(form_index)} distinct texts")

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

    n = len(train_images)
    perm, pos = torch.randperm(n, generator=gen), 0
    # Hard-ish negatives: part of each batch comes in groups of scenes that share a shape
    # colour, so colour alone cannot tell them apart and the model must look at shape.
    # (A group shares the colour of a shape and the background.)
    groups = {}
    for i, s in enumerate(train_scenes):
        for c, _, _ in s.shapes:
            groups.setdefault((c, s.background), []).append(i)
    groups = [torch.tensor(g) for _, g in sorted(groups.items()) if len(g) >= args.group_size]
    n_grouped = int(args.batch_size * args.grouped) // args.group_size * args.group_size
    t0, running = time.time(), 0.0
    for step in range(args.steps):
        if pos + args.batch_size - n_grouped > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        n_random = args.batch_size - n_grouped
        idx = [perm[pos:pos + n_random]]
        pos += n_random
        for _ in range(n_grouped // args.group_size):
            group = groups[int(torch.randint(len(groups), (1,), generator=gen))]
            idx.append(group[torch.randint(len(group), (args.group_size,), generator=gen)])
        idx = torch.cat(idx)
        images = train_images[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
        colour_free = torch.rand(len(idx), generator=gen) < args.colour_free
        text_ids = []
        for pool in (0, 1):
            choice = (torch.rand(len(idx), generator=gen) * counts[pool][idx]).long()
            text_ids.append(forms[pool][idx, choice])
        if step < args.simple_steps:
            choice = (torch.rand(len(idx), generator=gen) * counts[2][idx]).long()
            texts = tokens[forms[2][idx, choice]]
        else:
            texts = tokens[torch.where(colour_free, text_ids[1], text_ids[0])]

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
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--grouped", type=float, default=0.5,
                    help="fraction of each batch drawn in groups sharing a shape colour")
    ap.add_argument("--group-size", type=int, default=16)
    ap.add_argument("--simple-steps", type=int, default=0,
                    help="first steps with only '<colour> <shape>' texts (a curriculum)")
    ap.add_argument("--colour-free", type=float, default=0.3,
                    help="fraction of texts that do not name the shapes' colours")
    ap.add_argument("--cache", help="file to keep the rendered data in between runs")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--train-scenes", type=int, default=24000)
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
