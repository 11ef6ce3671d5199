"""Synthetic photo-like scenes whose captions are known.

Each scene is one or two simple shapes (circle, square, triangle, star) in one of
eight colours, small or large, somewhere on a coloured, sometimes textured
background, rendered with mild noise so that, once JPEG-compressed, it behaves like
a (very simple) photo.  Everything is a pure function of a seed, so a scene, its
pixels and its caption can be reproduced anywhere.

The demo model shipped in ``photofind/models/demo`` is trained on these scenes (see
``bench/train_demo_model.py``); the demo library, the end-to-end tests and the
benchmarks use them because the right answer to a query is known: a file named
``large-red-circle-on-blue-0007.jpg`` shows a large red circle on a blue background.

Seeds: every split owns a disjoint range of global seeds (:data:`SPLITS`).
``make_scene(i, split)`` draws scene ``i`` of that split from global seed
``SPLITS[split].start + i``, so a train scene and a test scene never share a seed
(their captions may coincide: there are only so many colour/shape combinations).
"""

from __future__ import annotations

import datetime
import io
import math
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (210, 35, 35),
    "green": (40, 160, 60),
    "blue": (40, 80, 205),
    "yellow": (240, 215, 40),
    "orange": (245, 135, 20),
    "purple": (130, 50, 170),
    "white": (245, 245, 245),
    "black": (22, 22, 22),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
SIZES: tuple[str, ...] = ("small", "large")
TEXTURES: tuple[str, ...] = ("flat", "gradient", "mottled", "stripes")

#: Disjoint ranges of global seeds, one per split.
SPLITS: dict[str, range] = {
    "train": range(0, 10_000_000),
    "val": range(10_000_000, 11_000_000),
    "test": range(11_000_000, 12_000_000),
    "demo": range(12_000_000, 13_000_000),
}

#: Size of the rendered photos (width, height) unless told otherwise.
DEFAULT_SIZE: tuple[int, int] = (256, 192)
#: JPEG quality of the demo library.
JPEG_QUALITY = 90

# Radii, as fractions of the centre square's side (half the shape's extent).
_RADIUS = {"small": (0.09, 0.125), "large": (0.19, 0.25)}
_MARGIN = 0.03  # free space between a shape and the edge of the centre square
_TWO_SHAPES_PROBABILITY = 0.4

_WORD = "|".join


@dataclass
class Scene:
    """A scene's content.

    ``shapes`` holds ``(colour, shape, size)`` triples, size ``"small"``/``"large"``
    (``None`` where unknown, e.g. parsed from a two-shape file name, whose caption
    does not say the sizes).  ``layout`` places each shape in the centre square of
    the photo: ``(cx, cy, radius, angle_degrees)`` with cx, cy, radius as fractions of
    that square's side.  ``seed`` is the global seed (``None`` for parsed scenes,
    which cannot be rendered).
    """

    shapes: list[tuple[str, str, str | None]]
    background: str
    seed: int | None = None
    split: str | None = None
    texture: str = "flat"
    layout: list[tuple[float, float, float, float]] | None = None
    caption: str = field(init=False)

    def __post_init__(self) -> None:
        for colour, shape, size in self.shapes:
            if colour not in COLOURS or shape not in SHAPES or size not in (*SIZES, None):
                raise ValueError(f"unknown shape {(colour, shape, size)!r}")
        if self.background not in COLOURS:
            raise ValueError(f"unknown background colour {self.background!r}")
        if not 1 <= len(self.shapes) <= 2:
            raise ValueError("a scene holds one or two shapes")
        self.caption = _caption(self.shapes, self.background)

    @property
    def filename_stem(self) -> str:
        """The caption spelled with hyphens, no articles: ``large-red-circle-on-blue``."""
        if len(self.shapes) == 1:
            colour, shape, size = self.shapes[0]
            words = [size, colour, shape] if size else [colour, shape]
        else:
            (c1, s1, _), (c2, s2, _) = self.shapes
            words = [c1, s1, "and", c2, s2]
        return "-".join([*words, "on", self.background])

    def centre_px(self, index: int, size: int | tuple[int, int] = DEFAULT_SIZE) -> tuple[int, int]:
        """Pixel coordinates of shape ``index``'s centre in a photo of ``size``."""
        if self.layout is None:
            raise ValueError("this scene has no layout")
        width, height = _size2(size)
        side = min(width, height)
        x0, y0 = (width - side) / 2, (height - side) / 2
        cx, cy, _, _ = self.layout[index]
        return int(x0 + cx * side), int(y0 + cy * side)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _caption(shapes, background) -> str:
    if len(shapes) == 1:
        colour, shape, size = shapes[0]
        thing = f"{size} {colour} {shape}" if size else f"{colour} {shape}"
        subject = f"{_article(thing)} {thing}"
    else:
        subject = " and ".join(f"{_article(c)} {c} {s}" for c, s, _ in shapes)
    return f"{subject} on {_article(background)} {background} background"


def _size2(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def global_seed(seed: int, split: str = "train") -> int:
    """The global seed of scene ``seed`` of ``split`` (ranges of splits never overlap)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    seeds = SPLITS[split]
    if not 0 <= seed < len(seeds):
        raise ValueError(f"seed {seed} out of range for split {split!r} (0..{len(seeds) - 1})")
    return seeds.start + seed


def split_of(global_seed_: int) -> str:
    """The split a global seed belongs to."""
    for name, seeds in SPLITS.items():
        if global_seed_ in seeds:
            return name
    raise ValueError(f"global seed {global_seed_} belongs to no split")


def make_scene(seed: int, split: str = "train") -> Scene:
    """Scene number ``seed`` of ``split``: deterministic, the same everywhere."""
    gseed = global_seed(seed, split)
    rng = random.Random(gseed)
    colours = list(COLOURS)
    background = rng.choice(colours)
    count = 2 if rng.random() < _TWO_SHAPES_PROBABILITY else 1
    shapes: list[tuple[str, str, str]] = []
    while len(shapes) < count:
        colour = rng.choice([c for c in colours if c != background])
        shape = rng.choice(SHAPES)
        size = rng.choice(SIZES)
        if all((colour, shape) != (c, s) for c, s, _ in shapes):
            shapes.append((colour, shape, size))
    texture = rng.choice(TEXTURES)
    layout = _place(rng, [size for _, _, size in shapes])
    return Scene(shapes=shapes, background=background, seed=gseed, split=split,
                 texture=texture, layout=layout)


def _place(rng: random.Random, sizes: list[str]) -> list[tuple[float, float, float, float]]:
    """Non-overlapping placements inside the centre square."""
    while True:
        placed: list[tuple[float, float, float, float]] = []
        for size in sizes:
            radius = rng.uniform(*_RADIUS[size])
            angle = rng.uniform(-25.0, 25.0)
            lo, hi = radius + _MARGIN, 1.0 - radius - _MARGIN
            for _ in range(200):
                cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)
                if all(math.hypot(cx - px, cy - py) > radius + pr + 0.04
                       for px, py, pr, _ in placed):
                    placed.append((cx, cy, radius, angle))
                    break
            else:
                break  # no room: start over with new radii
        if len(placed) == len(sizes):
            return placed


# ----------------------------------------------------------------------------- text


def caption_forms(scene: Scene) -> list[str]:
    """Ways people would ask for this scene: "red circle", "a red circle on blue", ...

    Every form is true of the scene.  The full caption is among them.  For two-shape
    scenes, forms naming either shape alone are included.
    """
    bg = scene.background
    bg_full = f"{_article(bg)} {bg} background"
    forms: list[str] = []
    if len(scene.shapes) == 1:
        colour, shape, size = scene.shapes[0]
        cs = f"{colour} {shape}"
        forms += [cs, f"{_article(colour)} {cs}", f"{cs}s", shape]
        if size:
            forms += [f"{size} {cs}", f"a {size} {cs}", f"{size} {shape}"]
        forms += [f"{cs} on {bg}", f"{_article(colour)} {cs} on {bg}", f"{cs} on {bg_full}",
                  f"{shape} on {bg}", f"{cs} with {bg} background", f"{bg} background with {cs}"]
        if size:
            forms += [f"{size} {cs} on {bg}"]
    else:
        (c1, s1, _), (c2, s2, _) = scene.shapes
        one, two = f"{c1} {s1}", f"{c2} {s2}"
        forms += [one, two, f"{_article(c1)} {one}", f"{_article(c2)} {two}",
                  f"{one} and {two}", f"{two} and {one}",
                  f"{_article(c1)} {one} and {_article(c2)} {two}",
                  f"{one} on {bg}", f"{two} on {bg}",
                  f"{one} and {two} on {bg}", f"{two} and {one} on {bg}",
                  f"{one} on {bg_full}", f"{two} on {bg_full}",
                  f"{one} with {bg} background", f"{two} with {bg} background"]
        forms += [s1, s2, f"{s1} and {s2}" if s1 != s2 else f"two {s1}s", f"{s1} on {bg}",
                  f"{s2} on {bg}"]
    forms.append(scene.caption)
    return list(dict.fromkeys(forms))


_STEM = re.compile(
    r"^(?:(?P<size>{sizes})-)?(?P<c1>{colours})-(?P<s1>{shapes})"
    r"(?:-and-(?P<c2>{colours})-(?P<s2>{shapes}))?-on-(?P<bg>{colours})(?:-\d+)?$".format(
        sizes=_WORD(SIZES), colours=_WORD(COLOURS), shapes=_WORD(SHAPES)))


def parse_stem(stem: str) -> Scene:
    """The scene a file name stem describes (``large-red-circle-on-blue-0007``).

    The result has no seed and no layout (it cannot be rendered); sizes of two-shape
    scenes are ``None``.  Raises ``ValueError`` for a stem this module did not write.
    """
    match = _STEM.match(stem.lower())
    if not match or (match["size"] and match["c2"]):
        raise ValueError(f"not a demo scene file name: {stem!r}")
    if match["c2"]:
        shapes = [(match["c1"], match["s1"], None), (match["c2"], match["s2"], None)]
    else:
        shapes = [(match["c1"], match["s1"], match["size"])]
    return Scene(shapes=shapes, background=match["bg"])


def scene_matches(scene: Scene, colour: str, shape: str, background: str | None = None) -> bool:
    """Whether ``scene`` is a right answer to "<colour> <shape> [on <background>]"."""
    if background is not None and scene.background != background:
        return False
    return any(c == colour and s == shape for c, s, _ in scene.shapes)


# --------------------------------------------------------------------------- pixels


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, amount: int) -> np.ndarray:
    return np.clip(np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _background(scene: Scene, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    base = _jitter(COLOURS[scene.background], rng, 10)
    img = np.broadcast_to(base, (height, width, 3)).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if scene.texture == "gradient":
        theta = rng.uniform(0, 2 * math.pi)
        ramp = (np.cos(theta) * xs / width + np.sin(theta) * ys / height)
        ramp = (ramp - ramp.mean()) / max(float(np.ptp(ramp)), 1e-6)
        img = img * (1.0 + 0.22 * ramp[..., None]) + 18 * ramp[..., None]
    elif scene.texture == "mottled":
        small = rng.normal(0, 1, (height // 16 + 2, width // 16 + 2)).astype(np.float32)
        blob = Image.fromarray(small).resize((width, height), Image.BICUBIC)
        img = img + 11 * np.asarray(blob, np.float32)[..., None]
    elif scene.texture == "stripes":
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(10, 24) * width / 256
        wave = np.sin((np.cos(theta) * xs + np.sin(theta) * ys) * 2 * math.pi / period)
        img = img + 12 * np.sign(wave)[..., None]
    return img


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    rot = math.radians(angle)
    if shape == "square":
        pts = [(r * 0.86 * math.cos(a), r * 0.86 * math.sin(a))
               for a in (math.pi / 4 + k * math.pi / 2 for k in range(4))]
    elif shape == "triangle":
        # equilateral, centroid at (cx, cy), pointing up
        pts = [(r * math.cos(a), r * math.sin(a))
               for a in (-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]
        pts = [(x, y + r * 0.08) for x, y in pts]
    elif shape == "star":
        pts = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rad = r if k % 2 == 0 else r * 0.45
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    else:
        raise ValueError(shape)
    cos, sin = math.cos(rot), math.sin(rot)
    return [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in pts]


def render(scene: Scene, size: int | tuple[int, int] = DEFAULT_SIZE) -> Image.Image:
    """The scene as an RGB photo of ``size`` (an int for a square, or (width, height)).

    Shapes lie inside the centre square of side ``min(width, height)``, so a centre
    crop never cuts one off.  Deterministic for a given scene and size.
    """
    if scene.seed is None or scene.layout is None:
        raise ValueError("only scenes from make_scene() can be rendered")
    width, height = _size2(size)
    rng = np.random.default_rng([scene.seed, width, height])
    img = _background(scene, width, height, rng)

    # Each shape is drawn as a mask at 3x and box-downsampled: anti-aliased edges.
    ss = 3
    side = min(width, height) * ss
    x0, y0 = (width * ss - side) / 2, (height * ss - side) / 2
    for (colour, shape, _), (cx, cy, r, angle) in zip(scene.shapes, scene.layout, strict=True):
        fill = _jitter(COLOURS[colour], rng, 12)
        px, py, pr = x0 + cx * side, y0 + cy * side, r * side
        mask = Image.new("L", (width * ss, height * ss), 0)
        draw = ImageDraw.Draw(mask)
        if shape == "circle":
            draw.ellipse([px - pr * 0.92, py - pr * 0.92, px + pr * 0.92, py + pr * 0.92], fill=255)
        else:
            draw.polygon(_polygon(shape, px, py, pr, angle), fill=255)
        alpha = np.asarray(mask.resize((width, height), Image.BOX), np.float32)[..., None] / 255.0
        img = img * (1.0 - alpha) + fill * alpha
    photo = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    arr = np.asarray(photo, np.float32)
    arr = arr + rng.normal(0, rng.uniform(2.0, 6.0), arr.shape)  # sensor noise
    arr = arr * rng.uniform(0.93, 1.05) + rng.uniform(-6, 6)  # exposure
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image, quality: int = JPEG_QUALITY,
               taken: datetime.datetime | None = None) -> bytes:
    """``image`` encoded as a baseline JPEG: no metadata, or only the EXIF date taken."""
    buf = io.BytesIO()
    if taken is None:
        image.save(buf, format="JPEG", quality=quality)
    else:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
        image.save(buf, format="JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


DEMO_FIRST_DAY = datetime.date(2021, 3, 1)
DEMO_DAYS = 5 * 365  # the demo's photos span five years


def demo_taken(index: int, seed: int = 0) -> datetime.datetime:
    """When demo photo ``index`` was "taken": spread over five years, a few photos a day
    on some days (as a camera's are), at a daytime hour; a pure function of its number."""
    rng = random.Random(f"photofind-demo-day-{seed + index // 4}")
    day = DEMO_FIRST_DAY + datetime.timedelta(days=rng.randrange(DEMO_DAYS))
    minute = random.Random(f"photofind-demo-time-{seed + index}").randrange(8 * 60, 20 * 60)
    return datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60))


def write_library(folder: str | os.PathLike, count: int, seed: int = 0,
                  split: str = "demo", dated: bool = False) -> list[Path]:
    """Write ``count`` scene photos into ``folder``: ``<stem>-<NNNN>.jpg``.

    Photo ``i`` is scene ``seed + i`` of ``split``.  A whole JPEG already there under
    its name is left alone (photos are only ever written whole, through a temporary file
    and a rename, and their bytes are a pure function of the name), so a rerun changes
    nothing and renders nothing; a damaged one is written again.  Nothing outside
    ``folder`` is written.  Returns the paths, in order.

    ``dated`` (the demo library people see): each photo carries an EXIF date taken
    (`demo_taken`), sits in a ``YEAR/YEAR-MONTH`` folder, and has that date as its
    modification time, as photos copied off a camera do.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(max(count - 1, 0))))
    paths = []
    for i in range(count):
        scene = make_scene(seed + i, split)
        name = f"{scene.filename_stem}-{i:0{width}d}.jpg"
        taken = demo_taken(i, seed) if dated else None
        where = folder / f"{taken:%Y}" / f"{taken:%Y-%m}" if taken else folder
        path = where / name
        if not _whole_jpeg(path):
            where.mkdir(parents=True, exist_ok=True)
            data = jpeg_bytes(render(scene), taken=taken)
            tmp = where / f".{path.name}.{os.getpid()}.tmp"
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if taken is not None:
                stamp = taken.timestamp()
                os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths


def _whole_jpeg(path: Path) -> bool:
    """Whether ``path`` is a file that starts and ends like a JPEG (SOI ... EOI)."""
    try:
        with open(path, "rb") as f:
            head = f.read(3)
            f.seek(-2, os.SEEK_END)
            return head == b"\xff\xd8\xff" and f.read(2) == b"\xff\xd9"
    except OSError:
        return False
