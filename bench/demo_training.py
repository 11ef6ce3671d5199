"""Data, texts and evaluation for bench/train_demo_model.py (the demo model's training).

- Data: scenes rendered as the app sees them (JPEG, decoded, open_clip's eval transform),
  kept as uint8 tensors.
- Texts: each training text is drawn among the ways people ask for its scene, with its
  meaning (a predicate), so that a batch can be *clean* (no text in it true of another
  photo in it) and can be filled with *hard negatives* (photos that differ from one
  already chosen by one word: the same colour with another shape, the same shape in
  another colour).
- Labels: what each scene holds, for the auxiliary losses (see train_demo_model.py).
- Evaluation: retrieval figures in memory, on libraries of 300 scenes the way the demo
  is used (precision at k = min(10, relevant)), and on one large gallery.
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from photofind.demo import scenes as sc  # noqa: E402

MEAN, STD = list(OPENAI_DATASET_MEAN), list(OPENAI_DATASET_STD)
# Sizes the training scenes are rendered at (the first is the demo library's).
RENDER_SIZES = [sc.DEFAULT_SIZE, sc.DEFAULT_SIZE, sc.DEFAULT_SIZE, (192, 256), (224, 224),
                (320, 240)]
COLOUR_SHAPES = [(c, s) for c in sc.COLOURS for s in sc.SHAPES]
CS_INDEX = {cs: i for i, cs in enumerate(COLOUR_SHAPES)}


def log(*args) -> None:
    print(*args, flush=True)


# ----------------------------------------------------------------------------- data


def geometry_transform(size: int):
    """open_clip's eval transform for a model of input `size`, minus the final Normalize."""
    t = open_clip.image_transform(size, is_train=False, mean=MEAN, std=STD,
                                  resize_mode="shortest", interpolation="bicubic")
    return open_clip.transform.Compose(t.transforms[:-1])


_GEOM: dict[int, object] = {}


def _prepare(job: tuple[int, str, bool, int]) -> np.ndarray:
    """Render scene (seed, split), JPEG it, decode it, eval-transform it: uint8 CHW."""
    seed, split, vary, image_size = job
    if image_size not in _GEOM:
        torch.set_num_threads(1)
        _GEOM[image_size] = geometry_transform(image_size)
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
        img.draft("RGB", (image_size, image_size))
    x = _GEOM[image_size](img.convert("RGB"))
    return (x * 255).round().to(torch.uint8).numpy()


def build_images(seeds: range, split: str, vary: bool, workers: int,
                 image_size: int) -> torch.Tensor:
    jobs = [(s, split, vary, image_size) for s in seeds]
    if workers > 1:
        with Pool(workers) as pool:
            arrays = pool.map(_prepare, jobs, chunksize=64)
    else:
        arrays = [_prepare(j) for j in jobs]
    return torch.from_numpy(np.stack(arrays))


def normalize(images_u8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (images_u8.float() / 255.0 - mean) / std


def labels(scenes: list[sc.Scene]) -> torch.Tensor:
    """Multi-hot labels: 32 colour+shape, 64 size+colour+shape, 8 backgrounds."""
    out = torch.zeros(len(scenes), 32 + 64 + 8)
    for i, scene in enumerate(scenes):
        for c, s, z in scene.shapes:
            j = CS_INDEX[(c, s)]
            out[i, j] = 1
            out[i, 32 + 2 * j + sc.SIZES.index(z)] = 1
        out[i, 96 + list(sc.COLOURS).index(scene.background)] = 1
    return out


# ----------------------------------------------------------------------------- texts


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
        return s == shp[1] and (c is None or c == shp[0]) and (z is None or shp[2] is None
                                                               or z == shp[2])
    if len(reqs) == 1:
        return any(ok(reqs[0], shp) for shp in shapes)
    if len(shapes) < 2:
        return False
    return (ok(reqs[0], shapes[0]) and ok(reqs[1], shapes[1])) or \
           (ok(reqs[0], shapes[1]) and ok(reqs[1], shapes[0]))


def phrase(rng, colour, shape, size):
    words = [w for w in (size, colour, shape) if w]
    text = " ".join(words)
    if rng.random() < 0.3:
        text = f"{_article(text)} {text}"
    return text


def sample_text(rng, scene, specific=False, sizes_of_two=False):
    """A text true of ``scene`` and its predicate; ``specific``: the most specific one.
    ``sizes_of_two``: a shape of a two-shape scene may be named with its size too."""
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
        use_z = (len(scene.shapes) == 1 or sizes_of_two) and rng.random() < 0.3
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


class Batches:
    """Clean batches of (scene index, text), optionally with hard negatives.

    Clean: every text is true of its own photo and of no other photo in the batch, so
    open_clip's contrastive loss never pushes a true text away from a matching photo.
    Hard negatives (``hard`` = the share of the batch taken that way): a scene is taken
    because it differs from one already in the batch by one word — the same colour with
    another shape, or the same shape in another colour — rather than at random.
    """

    def __init__(self, scenes: list[sc.Scene], rng: random.Random, hard: float = 0.0,
                 sizes_of_two: bool = False) -> None:
        self.scenes, self.rng, self.hard, self.sizes_of_two = scenes, rng, hard, sizes_of_two
        self.order, self.pos = list(range(len(scenes))), len(scenes)
        self.holding: dict[tuple[str, str], list[int]] = {cs: [] for cs in COLOUR_SHAPES}
        for i, scene in enumerate(scenes):
            for c, s, _ in scene.shapes:
                self.holding[(c, s)].append(i)

    def _next_random(self) -> int:
        if self.pos >= len(self.order):
            self.rng.shuffle(self.order)
            self.pos = 0
        self.pos += 1
        return self.order[self.pos - 1]

    def _near_miss(self, chosen: list[int]) -> int:
        rng = self.rng
        c, s, _ = rng.choice(self.scenes[rng.choice(chosen)].shapes)
        if rng.random() < 0.5:
            s = rng.choice([x for x in sc.SHAPES if x != s])
        else:
            c = rng.choice([x for x in sc.COLOURS if x != c])
        return rng.choice(self.holding[(c, s)])

    def next(self, size: int) -> tuple[list[int], list[str]]:
        rng, scenes = self.rng, self.scenes
        chosen, texts, preds, taken = [], [], [], set()
        tries = 0
        while len(chosen) < size and tries < 50 * size:
            tries += 1
            hard = self.hard > 0 and chosen and rng.random() < self.hard
            i = self._near_miss(chosen) if hard else self._next_random()
            if i in taken:
                continue
            scene = scenes[i]
            if any(holds(p, scene) for p in preds):
                continue  # an earlier text is true of this photo too
            for specific in (False, True):
                text, pred = sample_text(rng, scene, specific, self.sizes_of_two)
                if not any(holds(pred, scenes[j]) for j in chosen):
                    break
            else:
                continue
            chosen.append(i)
            taken.add(i)
            texts.append(text)
            preds.append(pred)
        return chosen, texts


VOCABULARY = {*sc.COLOURS, *sc.SHAPES, *sc.SIZES, *(f"{s}s" for s in sc.SHAPES), "background",
              "photo", "picture", "image"}  # the last three are true of every photo
GENERAL_PHRASES = Path(__file__).resolve().parents[1] / "resources" / "phrases" / "general.txt"


def unrelated_phrases() -> list[str]:
    """photofind's general background phrases ("a dog", "a beach at sunset" ...) that use
    no word of the demo's vocabulary (nor "photo", true of every one): texts true of no
    demo scene."""
    lines = GENERAL_PHRASES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")
            and not VOCABULARY & set(line.lower().split())]


def gibberish(rng: random.Random) -> str:
    """A random string of one or two made-up words ("qzt", "ploren vak")."""
    return " ".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                            for _ in range(rng.randint(2, 8)))
                    for _ in range(rng.randint(1, 2)))


def prompts(rng: random.Random, batch_scenes: list[sc.Scene], extra: int,
            sizes_of_two: bool = False, backgrounds: bool = False,
            nothing: Sequence[str] = ()) -> tuple[list[str], torch.Tensor]:
    """Texts to score every photo of a batch against, and whether each is true of each
    photo (photos x texts): the 32 "COLOUR SHAPE" queries, with ``backgrounds`` the 224
    "COLOUR SHAPE on BACKGROUND" ones, plus ``extra`` texts drawn for photos of the batch
    (any form: sizes, two shapes, sentences ...), plus ``nothing``: texts true of no
    photo (gibberish, things the scenes never show)."""
    held = labels(batch_scenes)
    texts = [f"{c} {s}" for c, s in COLOUR_SHAPES]
    truth = [held[:, :32]]
    if backgrounds:
        for j, (c, s) in enumerate(COLOUR_SHAPES):
            for b, bg in enumerate(sc.COLOURS):
                if bg != c:
                    texts.append(f"{c} {s} on {bg}")
                    truth.append(held[:, j:j + 1] * held[:, 96 + b:97 + b])
    seen = set(texts)
    drawn = []
    for scene in rng.sample(batch_scenes, min(extra, len(batch_scenes))):
        text, pred = sample_text(rng, scene, sizes_of_two=sizes_of_two)
        if text not in seen:
            seen.add(text)
            drawn.append((text, pred))
    texts += [t for t, _ in drawn]
    truth.append(torch.tensor([[float(holds(pred, scene)) for _, pred in drawn]
                               for scene in batch_scenes]).reshape(len(batch_scenes), -1))
    nothing = [t for t in dict.fromkeys(nothing) if t not in seen]
    texts += nothing
    truth.append(torch.zeros(len(batch_scenes), len(nothing)))
    return texts, torch.cat(truth, dim=1)


# ------------------------------------------------------------------------ evaluation


def _ranking(scores: torch.Tensor, relevant: torch.Tensor) -> dict:
    """Per query (row): P@k with k = min(10, relevant), P@10, average precision."""
    order = scores.argsort(dim=1, descending=True)
    rel = torch.gather(relevant.float(), 1, order)
    total = rel.sum(dim=1).clamp(min=1)
    k = total.clamp(max=10)
    ranks = torch.arange(1, rel.shape[1] + 1, dtype=torch.float32)
    p_at_k = (rel * (ranks <= k[:, None])).sum(dim=1) / k
    ap = ((rel.cumsum(dim=1) / ranks) * rel).sum(dim=1) / total
    return {"pk": p_at_k, "p10": rel[:, :10].mean(dim=1), "ap": ap}


def _text_queries(scenes):
    single = [(f"{c} {s}", (c, s)) for c, s in COLOUR_SHAPES]
    with_bg = [(f"{c} {s} on {b}", (c, s, b)) for c, s in COLOUR_SHAPES
               for b in sc.COLOURS if b != c]
    return {"colour shape": single, "on background": with_bg}


@torch.no_grad()
def encode_images(model, images: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model.encode_image(normalize(images[i:i + 256]), normalize=True)
                      for i in range(0, len(images), 256)])


@torch.no_grad()
def evaluate(model, tokenizer, images: torch.Tensor, scenes: list[sc.Scene], small: int = 300,
             log_fn=log) -> dict:
    """Retrieval figures over uint8 ``images`` with known ``scenes``: on consecutive
    libraries of ``small`` scenes (P@k with k = min(10, relevant), mean over every query
    with a right answer, worst colour+shape query averaged over libraries) and on the
    whole gallery (P@10 over queries with at least 10 right answers)."""
    model.eval()
    feats = encode_images(model, images)
    queries = _text_queries(scenes)
    text_feats = {kind: model.encode_text(tokenizer([q for q, _ in qs]), normalize=True)
                  for kind, qs in queries.items()}
    results = {}
    libs = [range(i, i + small) for i in range(0, len(scenes) - small + 1, small)]
    for kind, qs in queries.items():
        relevant = torch.tensor([[sc.scene_matches(s, *attrs) for s in scenes] for _, attrs in qs])
        per_query, pks = [], []
        for lib in libs:
            rel = relevant[:, lib.start:lib.stop]
            keep = rel.sum(dim=1) >= 1
            r = _ranking(text_feats[kind][keep] @ feats[lib.start:lib.stop].T, rel[keep])
            pks.append(r["pk"])
            full = torch.full((len(qs),), float("nan"))
            full[keep] = r["pk"]
            per_query.append(full)
        worst = torch.stack(per_query).nanmean(dim=0).nan_to_num(1.0).min()
        big = relevant.sum(dim=1) >= 10
        r_big = _ranking(text_feats[kind][big] @ feats.T, relevant[big])
        results[kind] = {"pk": float(torch.cat(pks).mean()), "worst": float(worst),
                         "big p@10": float(r_big["p10"].mean()), "big mAP": float(r_big["ap"].mean())}
    # image -> image: every single-shape scene of a library asks for the rest of it
    pks = []
    for lib in libs:
        sub = [scenes[i] for i in lib]
        f = feats[lib.start:lib.stop]
        q = [i for i, s in enumerate(sub) if len(s.shapes) == 1]
        sims = f[q] @ f.T
        rel = torch.tensor([[sc.scene_matches(g, *sub[i].shapes[0][:2]) for g in sub] for i in q])
        sims[torch.arange(len(q)), torch.tensor(q)] = -2.0  # never the query itself
        rel[torch.arange(len(q)), torch.tensor(q)] = False
        keep = rel.sum(dim=1) >= 1
        pks.append(_ranking(sims[keep], rel[keep])["pk"])
    results["image->image"] = {"pk": float(torch.cat(pks).mean())}
    log_fn("  " + "  ".join(f"{k}: " + " ".join(f"{m} {v:.3f}" for m, v in r.items())
                            for k, r in results.items()) + f"  ({len(libs)} x {small} scenes)")
    return results


def eval_folder(folder: Path, count: int, draft: bool) -> dict:
    """Evaluate a local-dir model on TEST scenes written as JPEG files, as the app does."""
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder.resolve()}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{folder.resolve()}")
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple) else size
    geom = open_clip.transform.Compose(preprocess.transforms[:-1])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        paths = sc.write_library(tmp, count, seed=0, split="test")
        log(f"wrote {count} test photos in {time.time() - t0:.0f}s")
        tensors = []
        for p in paths:
            img = Image.open(p)
            if draft:
                img.draft("RGB", (size, size))
            tensors.append((geom(img.convert("RGB")) * 255).round().to(torch.uint8))
    scenes = [sc.make_scene(i, "test") for i in range(count)]
    log(f"test split, {count} photos, {'draft' if draft else 'full'} JPEG decode:")
    return evaluate(model, tokenizer, torch.stack(tensors), scenes)
