"""Real image files for tests: ordinary photos in several formats, and the bad-input zoo."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover
    pass

ORIENTATION = 0x0112


def picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A distinct, photo-like picture: smooth colour gradients with a few blobs."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        a, b, phase = rng.uniform(-3, 3, 3)
        img[..., c] = 127 + 100 * np.sin(a * x / w * 3.14 + b * y / h * 3.14 + phase)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 60)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 4, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def save(img: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def jpeg_with_orientation(upright: Image.Image, path: Path, orientation: int) -> Path:
    """Store `upright` so that a viewer applying EXIF `orientation` shows it upright."""
    inverse = {
        1: lambda i: i,
        2: lambda i: i.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        3: lambda i: i.transpose(Image.Transpose.ROTATE_180),
        4: lambda i: i.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        5: lambda i: i.transpose(Image.Transpose.TRANSPOSE),
        6: lambda i: i.transpose(Image.Transpose.ROTATE_90),
        7: lambda i: i.transpose(Image.Transpose.TRANSVERSE),
        8: lambda i: i.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return save(inverse(upright), path, exif=exif, quality=95)


def jpeg_with_date(img: Image.Image, path: Path, taken: str) -> Path:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken
    return save(img, path, exif=exif, quality=90)


def png_bad_checksum(path: Path) -> Path:
    buf = io.BytesIO()
    picture(99, (64, 48)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr_crc = 8 + 8 + 13  # signature, IHDR length+type, IHDR data → its CRC
    data[ihdr_crc:ihdr_crc + 4] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))
    return path


def png_bomb_header(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A tiny PNG whose header claims a huge size (a decompression bomb's calling card)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def truncated_jpeg(path: Path) -> Path:
    buf = io.BytesIO()
    picture(7, (320, 240)).save(buf, format="JPEG", quality=90)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def make_library(root: Path, count: int = 6) -> dict[str, Path]:
    """An ordinary library: JPEG, PNG, WebP, HEIC, EXIF-rotated, nested, unicode names."""
    files = {
        "jpeg": save(picture(1), root / "2023" / "beach.jpg", quality=90),
        "png": save(picture(2), root / "2023" / "screens" / "chart.png"),
        "webp": save(picture(3), root / "misc" / "sticker.webp"),
        "heic": save(picture(4), root / "phone" / "IMG_0001.heic"),
        "rotated": jpeg_with_orientation(picture(5), root / "phone" / "rotated.jpg", 6),
        "dated": jpeg_with_date(picture(6), root / "2024" / "birthday.jpg", "2024:05:17 14:03:09"),
        "unicode": save(picture(8), root / "misc" / "café ☕ 🎉.jpg", quality=90),
        "nfd": save(picture(9), root / "misc" / "cafe\u0301-nfd.jpg", quality=90),
    }
    for i in range(count):
        files[f"extra{i}"] = save(picture(100 + i), root / "more" / f"photo_{i:03d}.jpg",
                                  quality=85)
    return files


def make_bad_files(root: Path) -> dict[str, Path]:
    """Each file here must be listed under `failed` with a reason, and stop nothing."""
    root.mkdir(parents=True, exist_ok=True)
    bad = {
        "empty": root / "empty.jpg",
        "text": root / "notes.jpg",
        "truncated": truncated_jpeg(root / "truncated.jpg"),
        "badcrc": png_bad_checksum(root / "badcrc.png"),
        "bomb": png_bomb_header(root / "bomb.png"),
    }
    bad["empty"].write_bytes(b"")
    bad["text"].write_text("this is a shopping list, not a photo\n")
    return bad


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root` with its bytes and mtime: to prove nothing was touched."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            content = b""
            if os.path.isfile(full) and not os.path.islink(full) and os.access(full, os.R_OK):
                with open(full, "rb") as f:
                    content = f.read()
            state[os.fsdecode(full)] = (content, st.st_mtime_ns)
    return state
