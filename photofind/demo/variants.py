"""Copies, re-encodes and look-alikes of demo scenes: a library with known duplicates.

For each scene it writes the original (a JPEG with an EXIF date) and variants a person's
folders really hold — a byte-identical copy, a JPEG re-encode at quality 60, a 50%
resize, a PNG conversion, a copy whose pixels are stored turned with an EXIF orientation
that turns them back, a 3% crop, the same JPEG with its EXIF removed — plus *decoys*
that are not duplicates: another scene with the same caption (same subject, another
photo), and a "burst" shot of the same scene with its shapes moved a little.

`write_duplicate_library` returns the truth: which files are copies of which, so a
test or a benchmark can measure pair precision and recall of a duplicate finder.
"""

from __future__ import annotations

import datetime
import io
import os
import random
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from photofind.demo.scenes import Scene, _place, jpeg_bytes, make_scene, render

VARIANTS: tuple[str, ...] = ("copy", "q60", "half", "png", "rotated", "crop3", "stripped")
DECOYS: tuple[str, ...] = ("same-caption", "burst")
SIZE = (640, 480)
ORIENTATION = 0x0112


@dataclass(frozen=True)
class Item:
    """One written file: its path, the scene group it belongs to, and what it is."""

    path: Path
    group: str  # files with the same group are duplicates of each other
    kind: str  # "original", a VARIANTS name, or a DECOYS name


def variant_bytes(original: Image.Image, jpeg: bytes, kind: str) -> tuple[bytes, str]:
    """The bytes and file extension of variant `kind` of a photo (`original` its pixels,
    `jpeg` its file as written, with an EXIF date)."""
    if kind == "copy":
        return jpeg, ".jpg"
    if kind == "q60":
        return _save(Image.open(io.BytesIO(jpeg)).convert("RGB"), "JPEG", quality=60), ".jpg"
    if kind == "half":
        w, h = original.size
        return _save(original.resize((w // 2, h // 2), Image.LANCZOS), "JPEG", quality=90), ".jpg"
    if kind == "png":
        return _save(Image.open(io.BytesIO(jpeg)).convert("RGB"), "PNG"), ".png"
    if kind == "rotated":  # stored turned a quarter left; orientation 6 turns it back upright
        exif = Image.Exif()
        exif[ORIENTATION] = 6
        turned = original.transpose(Image.Transpose.ROTATE_90)
        return _save(turned, "JPEG", quality=90, exif=exif.tobytes()), ".jpg"
    if kind == "crop3":  # 3% of each side's length cut off, split between both ends
        w, h = original.size
        dx, dy = round(w * 0.015), round(h * 0.015)
        return _save(original.crop((dx, dy, w - dx, h - dy)), "JPEG", quality=90), ".jpg"
    if kind == "stripped":
        return strip_exif(jpeg), ".jpg"
    raise ValueError(f"unknown variant {kind!r}")


def strip_exif(jpeg: bytes) -> bytes:
    """The same JPEG without its APP1 (EXIF) segments: identical pixels, other bytes."""
    out = bytearray(jpeg[:2])
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        length = int.from_bytes(jpeg[pos + 2:pos + 4], "big")
        if marker != 0xE1:
            out += jpeg[pos:pos + 2 + length]
        pos += 2 + length
    return bytes(out + jpeg[pos:])


def same_caption(scene: Scene) -> Scene:
    """Another photo with the same caption: the same shapes, colours, sizes, background
    and texture, placed anew, with its own noise — the same subject, a different photo."""
    rng = random.Random(f"photofind-decoy-{scene.seed}")
    layout = _place(rng, [size or "large" for _, _, size in scene.shapes])
    return replace(scene, seed=scene.seed + 7_919, layout=layout)


def burst(scene: Scene, shift: float = 0.08) -> Scene:
    """The same scene a moment later: the same background, its shapes moved by `shift`
    of the frame (towards the centre, so none leaves it)."""
    layout = [(cx + (shift if cx < 0.5 else -shift), cy + (shift / 2 if cy < 0.5 else -shift / 2),
               r, angle + 6.0) for cx, cy, r, angle in scene.layout]
    return replace(scene, layout=layout)


def write_duplicate_library(folder: str | os.PathLike, scenes: int, seed: int = 0,
                            split: str = "demo", variants: tuple[str, ...] = VARIANTS,
                            decoys: tuple[str, ...] = DECOYS, size: tuple[int, int] = SIZE
                            ) -> list[Item]:
    """Write `scenes` originals with their `variants` and `decoys` into `folder` (a
    sub-folder per scene for variants, `decoys/` for decoys). Returns every file with
    its group: variants share their original's group; each decoy has its own."""
    folder = Path(folder)
    items: list[Item] = []
    for n in range(scenes):
        scene = make_scene(seed + n, split)
        group = f"{n:03d}-{scene.filename_stem}"
        where = folder / group
        where.mkdir(parents=True, exist_ok=True)
        taken = datetime.datetime(2024, 5, 1, 9, 0) + datetime.timedelta(hours=n)
        pixels = render(scene, size)
        jpeg = jpeg_bytes(pixels, taken=taken)
        items.append(_write(where / "original.jpg", jpeg, group, "original"))
        for kind in variants:
            data, ext = variant_bytes(pixels, jpeg, kind)
            items.append(_write(where / f"{kind}{ext}", data, group, kind))
        for kind in decoys:
            # a same-caption decoy has no date, so only its pixels can tell it apart; a
            # burst shot is taken 5 s after the original, as a camera's burst is
            if kind == "same-caption":
                data = jpeg_bytes(render(same_caption(scene), size))
            else:
                data = jpeg_bytes(render(burst(scene), size),
                                  taken=taken + datetime.timedelta(seconds=5))
            items.append(_write(folder / "decoys" / f"{group}-{kind}.jpg", data,
                                f"{group}-{kind}", kind))
    return items


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def _write(path: Path, data: bytes, group: str, kind: str) -> Item:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Item(path, group, kind)


# `photofind demo`'s library holds a few copies, so the duplicates view has something to
# show offline: (kind, the demo photo it is made from). Each lies next to its source, in
# the same dated folder, named like a demo photo (its caption, then a number the demo
# itself never uses), so every demo file name still spells what it shows.
DEMO_COPIES: tuple[tuple[str, int], ...] = (
    ("copy", 0), ("copy", 1), ("q60", 2), ("half", 3), ("png", 4),
    ("same-caption", 5), ("same-caption", 6),
)
DEMO_COPY_NUMBER = 90000  # + the source's number: "large-red-circle-on-blue-90003.jpg"


def add_demo_copies(paths: list[Path], seed: int = 0, split: str = "demo") -> list[Path]:
    """Write `DEMO_COPIES` next to the demo photos `paths` (as `write_library` returned
    them, photo i being scene `seed + i`); files already there are left alone, so a rerun
    changes nothing. Returns the paths written or found."""
    out = []
    for kind, i in DEMO_COPIES:
        if i >= len(paths):
            continue
        source = paths[i]
        stem = source.stem.rsplit("-", 1)[0]
        ext = ".png" if kind == "png" else ".jpg"
        target = source.with_name(f"{stem}-{DEMO_COPY_NUMBER + i}{ext}")
        out.append(target)
        if target.exists():
            continue
        jpeg = source.read_bytes()
        exif = Image.open(io.BytesIO(jpeg)).getexif()
        if kind == "copy":
            data = jpeg
        elif kind == "same-caption":  # another photo of the same subject, an hour later
            scene = make_scene(seed + i, split)
            taken = exif.get_ifd(0x8769).get(0x9003)
            later = (datetime.datetime.strptime(taken, "%Y:%m:%d %H:%M:%S")
                     + datetime.timedelta(hours=1)) if taken else None
            data = jpeg_bytes(render(same_caption(scene)), taken=later)
        else:
            pixels = Image.open(io.BytesIO(jpeg)).convert("RGB")
            if kind == "half":
                pixels = pixels.resize((pixels.width // 2, pixels.height // 2), Image.LANCZOS)
            options = {"quality": 60 if kind == "q60" else 90} if ext == ".jpg" else {}
            # a re-encode that keeps the camera's date, as most photo tools do
            data = _save(pixels, "JPEG" if ext == ".jpg" else "PNG", exif=exif.tobytes(),
                         **options)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        stamp = source.stat().st_mtime
        os.utime(target, (stamp, stamp))
    return out
