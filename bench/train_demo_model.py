"""Train photofind's demo model: a small open_clip CLIP on synthetic scenes.

Real CLIP weights cannot be downloaded on the development machines, so photofind ships
a tiny CLIP-style model trained here, on the scenes of ``photofind.demo.scenes`` whose
captions are known, with open_clip's own contrastive loss (``open_clip.loss.ClipLoss``)
and the model's learned temperature (``logit_scale``), plus two auxiliary losses on the
image embedding (below).

Reproduce the shipped weights (``photofind/models/demo``) from the repository root:

    .venv/bin/python bench/train_demo_model.py --out photofind/models/demo

The defaults are the shipped model's settings; photofind/models/demo/README.md says how
long it took on what machine. The same torch version and thread count (``--threads``)
give the same weights bit for bit; the data are a pure function of the seeds.

Evaluate a model folder on held-out TEST scenes the way the app sees them (JPEG files
on disk, opened with Pillow, open_clip's eval preprocess, cosine ranking), on libraries
of 300 scenes and on the whole gallery:

    .venv/bin/python bench/train_demo_model.py --eval-only photofind/models/demo

(bench/quality.py measures the same through photofind's own indexer and searcher.)

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
in it; part of each batch can be *hard negatives* (``--hard``: photos that differ from one
already in the batch by one word). See bench/demo_training.py.

Auxiliary losses (``--aux``, ``--supcon``), on the image embedding only: a linear
probe (thrown away after training) predicting what the scene holds (colour+shape,
size+colour+shape, background), and a supervised contrastive loss that pulls photos
holding the same coloured shape together whatever their background — what "similar"
(image → image) search asks for. The image tower is a small CNN (timm's ``test_resnet``
through open_clip's timm adapter): small ViTs did not learn shape on these scenes within
the time budget. Each choice, with the measurements behind it, is in docs/decisions.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_training as dt  # noqa: E402

CONTEXT_LENGTH = 32


def model_cfg(image_size: int, proj: str = "linear") -> dict:
    # The image tower is a small CNN (timm's 4-stage "test_resnet", 0.4M parameters,
    # through open_clip's timm adapter) with global max pooling: a ViT of this size did
    # not learn shape at all in the time budget (see docs/decisions.md).
    return {
        "embed_dim": 128,
        "vision_cfg": {"timm_model_name": "test_resnet", "timm_model_pretrained": False,
                       "timm_pool": "max", "timm_proj": proj, "image_size": image_size},
        "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": 49408, "width": 128,
                     "heads": 4, "layers": 3, "mlp_ratio": 4.0},
    }


def preprocess_cfg(image_size: int) -> dict:
    return {"size": image_size, "mode": "RGB", "mean": dt.MEAN, "std": dt.STD,
            "interpolation": "bicubic", "resize_mode": "shortest"}


def encode_text(model: open_clip.CLIP, text: torch.Tensor) -> torch.Tensor:
    """``model.encode_text(text, normalize=True)``, on tokens cut after the batch's longest
    text: the text tower's attention is causal and it pools at the end-of-text token, so
    the padding after it changes nothing; cutting it halves the text tower's time."""
    length = int((text != 0).sum(dim=1).max())
    x = model.token_embedding(text[:, :length]) + model.positional_embedding[:length]
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, text[:, :length], model.text_pool_type,
                         eos_token_id=getattr(model, "text_eos_id", None))
    return F.normalize(x @ model.text_projection, dim=-1)


def supcon_loss(img_f: torch.Tensor, batch_scenes, temperature: float) -> torch.Tensor:
    """Supervised contrastive loss over the batch's photos: each single-shape photo is an
    anchor whose positives are the other photos holding a shape of its colour and kind
    (whatever their background or second shape); every other photo is a negative."""
    holds = torch.zeros(len(batch_scenes), len(dt.COLOUR_SHAPES), dtype=torch.bool)
    anchor_cs = torch.full((len(batch_scenes),), -1)
    for i, scene in enumerate(batch_scenes):
        for c, s, _ in scene.shapes:
            holds[i, dt.CS_INDEX[(c, s)]] = True
        if len(scene.shapes) == 1:
            anchor_cs[i] = dt.CS_INDEX[scene.shapes[0][:2]]
    anchors = (anchor_cs >= 0).nonzero().flatten()
    pos = holds[:, anchor_cs[anchors].clamp(min=0)].T  # anchors x batch
    pos[torch.arange(len(anchors)), anchors] = False
    has = pos.any(dim=1)
    if not has.any():
        return img_f.sum() * 0.0
    anchors, pos = anchors[has], pos[has]
    logits = img_f[anchors] @ img_f.T / temperature
    logits[torch.arange(len(anchors)), anchors] = -1e4  # never the photo itself
    logp = logits.log_softmax(dim=1)
    return -((logp * pos).sum(dim=1) / pos.sum(dim=1)).mean()


def train(args) -> None:
    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    size = args.image_size

    dt.log(f"rendering {args.train_scenes} train + {args.val_scenes} val scenes at {size} px "
           f"with {args.workers} workers ...")
    cache = Path(args.cache) if args.cache else None
    key = f"{size}-{args.train_scenes}-{args.val_scenes}"
    if cache and cache.is_file() and torch.load(cache)["key"] == key:
        data = torch.load(cache)
        train_images, val_images = data["train"], data["val"]
    else:
        train_images = dt.build_images(range(args.train_scenes), "train", True, args.workers, size)
        val_images = dt.build_images(range(args.val_scenes), "val", False, args.workers, size)
        if cache:
            torch.save({"key": key, "train": train_images, "val": val_images}, cache)
    train_scenes = [dt.sc.make_scene(i, "train") for i in range(args.train_scenes)]
    val_scenes = [dt.sc.make_scene(i, "val") for i in range(args.val_scenes)]
    train_labels = dt.labels(train_scenes)

    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=CONTEXT_LENGTH)
    token_cache: dict[str, torch.Tensor] = {}

    def tokenize(texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in token_cache]
        if missing:
            token_cache.update(zip(missing, tokenizer(missing), strict=True))
        return torch.stack([token_cache[t] for t in texts])

    t_data = time.time() - t_start
    dt.log(f"data ready in {t_data:.0f}s: images {tuple(train_images.shape)}")

    cfg = model_cfg(size, args.proj)
    model = open_clip.CLIP(**cfg)
    if args.init:  # go on from a saved model (its image size may differ: a CNN does not care)
        state = load_file(str(Path(args.init) / "open_clip_model.safetensors"))
        own = model.state_dict()
        fits = {k: v.float() for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fits, strict=False)
        dt.log(f"initialised from {args.init}; new: {sorted(set(own) - set(fits)) or 'nothing'}")
    model.train()
    probe = torch.nn.Linear(cfg["embed_dim"], train_labels.shape[1])
    # scale and bias of the prompt loss's sigmoid (as SigLIP's), thrown away after training
    probe.register_parameter("prompt_scale", torch.nn.Parameter(torch.tensor(math.log(10.0))))
    probe.register_parameter("prompt_bias", torch.nn.Parameter(torch.tensor(-5.0)))
    prompt_rng = random.Random(args.seed + 1)
    unrelated = dt.unrelated_phrases() if args.prompt_nothing else []
    loss_fn = open_clip.loss.ClipLoss()

    def no_decay(name, p):
        return p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name

    named = list(model.named_parameters()) + [(f"probe.{n}", p) for n, p in probe.named_parameters()]
    opt = torch.optim.AdamW(
        [{"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0},
         {"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": args.wd}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-6)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        progress = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    batches = dt.Batches(train_scenes, random.Random(args.seed), hard=args.hard,
                         sizes_of_two=args.sizes_of_two)
    t0, running = time.time(), np.zeros(4)
    for step in range(args.steps):
        chosen, texts = batches.next(args.batch_size)
        idx = torch.tensor(chosen)
        images = train_images[idx]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)

        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        img_f = model.encode_image(dt.normalize(images), normalize=True)
        txt_f, scale = encode_text(model, tokenize(texts)), model.logit_scale.exp()
        clip = loss_fn(img_f, txt_f, scale)
        aux = F.binary_cross_entropy_with_logits(probe(img_f * 8.0), train_labels[idx]) \
            if args.aux else clip * 0.0
        con = supcon_loss(img_f, [train_scenes[i] for i in chosen], args.supcon_temp) \
            if args.supcon else clip * 0.0
        if args.prompt:
            ptexts, truth = dt.prompts(prompt_rng, [train_scenes[i] for i in chosen],
                                       args.prompt_extra, args.sizes_of_two,
                                       args.prompt_backgrounds,
                                       [dt.gibberish(prompt_rng) for _ in range(args.prompt_nothing)]
                                       + prompt_rng.sample(unrelated, args.prompt_nothing))
            logits = img_f @ encode_text(model, tokenize(ptexts)).T
            logits = logits * probe.prompt_scale.exp() + probe.prompt_bias
            prm = F.binary_cross_entropy_with_logits(logits, truth) * truth.shape[1]
        else:
            prm = clip * 0.0
        loss = clip + args.aux * aux + args.supcon * con + args.prompt * prm
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        running += [clip.item(), aux.item(), con.item(), prm.item()]
        if (step + 1) % args.log_every == 0:
            el = time.time() - t0
            c, a, s, p = running / args.log_every
            dt.log(f"step {step + 1:5d}/{args.steps}  clip {c:.3f} aux {a:.3f} supcon {s:.3f} "
                   f"prompt {p:.3f}  "
                   f"temp 1/{model.logit_scale.exp().item():.1f}  lr {lr_at(step):.2e}  "
                   f"{el / (step + 1):.2f}s/step  eta {el / (step + 1) * (args.steps - step - 1) / 60:.1f}min")
            running[:] = 0
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            dt.log(f"  val at step {step + 1}:")
            dt.evaluate(model, tokenizer, val_images[:900], val_scenes[:900])
            model.train()
    t_train = time.time() - t0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))
    (out / "open_clip_config.json").write_text(json.dumps(
        {"model_cfg": cfg, "preprocess_cfg": preprocess_cfg(size)}, indent=2) + "\n")
    dt.log(f"saved {out} ({sum(p.stat().st_size for p in out.glob('open_clip_*')) / 1e6:.1f} MB)")

    # validation with the saved (float16) weights, loaded the way the app loads them
    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{out.resolve()}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{out.resolve()}")
    dt.log(f"validation ({args.val_scenes} val scenes):")
    dt.evaluate(model, tokenizer, val_images, val_scenes)
    dt.log(f"time: data {t_data / 60:.1f} min, training {t_train / 60:.1f} min "
           f"({t_train / args.steps:.2f} s/step), total {(time.time() - t_start) / 60:.1f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--image-size", type=int, default=64, help="the image tower's input (px)")
    ap.add_argument("--proj", default="linear", choices=["linear", "mlp"],
                    help="the image tower's head after pooling: linear, or a 2-layer MLP")
    ap.add_argument("--hard", type=float, default=0.0,
                    help="share of each batch taken as hard negatives")
    ap.add_argument("--sizes-of-two", action="store_true",
                    help="texts may name the size of a shape in a two-shape scene")
    ap.add_argument("--aux", type=float, default=0.0, help="weight of the linear-probe loss")
    ap.add_argument("--supcon", type=float, default=0.0,
                    help="weight of the image-image supervised contrastive loss")
    ap.add_argument("--prompt", type=float, default=0.0,
                    help="weight of the prompt loss (every photo against the 32 colour+shape "
                         "queries and --prompt-extra other texts, sigmoid)")
    ap.add_argument("--prompt-extra", type=int, default=32)
    ap.add_argument("--prompt-nothing", type=int, default=0,
                    help="the prompt loss also scores N gibberish strings and N of photofind's "
                         "general phrases that share no word with the scenes, true of no photo")
    ap.add_argument("--prompt-backgrounds", action="store_true",
                    help="the prompt loss also scores the 224 'COLOUR SHAPE on BACKGROUND' texts")
    ap.add_argument("--supcon-temp", type=float, default=0.1)
    ap.add_argument("--init", metavar="MODEL_DIR", help="start from this saved model's weights")
    ap.add_argument("--train-scenes", type=int, default=20000)
    ap.add_argument("--val-scenes", type=int, default=2000)
    ap.add_argument("--cache", help="file to keep the rendered data in between runs")
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
            dt.eval_folder(Path(args.eval_only), args.test_scenes, draft)
    else:
        train(args)


if __name__ == "__main__":
    main()
