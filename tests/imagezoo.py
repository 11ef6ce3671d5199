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


# --- the format zoo: the real-world variants of the formats photofind reads -------------------
#
# Photo-sized (640×480), so decoding for a small model takes the shrink path as it does for
# a camera's photos; each entry is (path, the picture a person sees in it, RGB).

ZOO_SIZE = (640, 480)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def _png(path: Path, pixels: np.ndarray, colour_type: int, interlaced: bool = False) -> Path:
    """A PNG written byte by byte (Pillow writes neither interlaced nor 16-bit RGB PNGs):
    `pixels` (h, w, channels) of uint8 or big-endian uint16, filter 0 on every row."""
    height, width = pixels.shape[:2]
    depth = 16 if pixels.dtype.itemsize == 2 else 8
    data = pixels.astype(">u2" if depth == 16 else np.uint8)
    passes = ([(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
               (1, 0, 2, 2), (0, 1, 1, 2)] if interlaced else [(0, 0, 1, 1)])
    raw = bytearray()
    for x0, y0, dx, dy in passes:  # Adam7: seven sub-images, each row with its filter byte
        sub = data[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + row.tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, int(interlaced))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
                     + _png_chunk(b"IEND", b""))
    return path


def _tiff_rgb16(path: Path, pixels: np.ndarray) -> Path:
    """A baseline, uncompressed 16-bit-per-channel RGB TIFF (as scanners and raw converters
    write them), byte by byte."""
    height, width = pixels.shape[:2]
    body = pixels.astype("<u2").tobytes()
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, None), (259, 3, 1, 1),
               (262, 3, 1, 2), (273, 4, 1, None), (277, 3, 1, 3), (278, 3, 1, height),
               (279, 4, 1, len(body)), (284, 3, 1, 1)]
    ifd_at = 8
    ifd_size = 2 + 12 * len(entries) + 4
    bits_at = ifd_at + ifd_size
    data_at = bits_at + 6
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at))
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            value = bits_at
        elif tag == 273:
            value = data_at
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 and tag != 258 \
            else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    out += struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def on_white(img: Image.Image) -> Image.Image:
    """What a viewer shows for an image with transparency: composited over white."""
    rgba = img.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")


def make_format_zoo(root: Path) -> dict[str, tuple[Path, Image.Image]]:
    """Every variant here is an ordinary image that must be indexed: palette GIFs and PNGs
    with and without transparency, grey+alpha, 1-bit, CMYK, 16-bit PNG and TIFF, interlaced
    PNG, an animated GIF with a disposal method, progressive JPEG, lossless WebP with alpha."""
    root.mkdir(parents=True, exist_ok=True)
    base = picture(200, ZOO_SIZE)
    w, h = ZOO_SIZE
    zoo: dict[str, tuple[Path, Image.Image]] = {}

    def add(name: str, path: Path, seen: Image.Image) -> None:
        zoo[name] = (path, seen.convert("RGB"))

    palette = base.quantize(256, dither=Image.Dither.FLOYDSTEINBERG)
    add("gif-palette", save(palette, root / "palette.gif"), palette)
    add("png-palette", save(palette, root / "palette.png"), palette)
    # one palette entry transparent (a tRNS chunk with a single index), as GIFs and old
    # web graphics carry it
    holed = palette.copy()
    holed.paste(0, (w // 4, h // 4, w // 2, h // 2))
    add("png-palette-transparent", save(holed, root / "palette-transparent.png",
                                        transparency=0), on_white(_with_index_transparent(holed, 0)))
    add("gif-transparent", save(holed, root / "palette-transparent.gif", transparency=0),
        on_white(_with_index_transparent(holed, 0)))
    # a palette with an alpha value per entry (tRNS with many entries: pngquant's output)
    rgba = base.convert("RGBA")
    alpha = np.full((h, w), 255, np.uint8)
    alpha[:, : w // 3] = 96
    rgba.putalpha(Image.fromarray(alpha))
    quantised = rgba.quantize(128, method=Image.Quantize.FASTOCTREE)
    add("png-palette-alpha", save(quantised, root / "palette-alpha.png"),
        on_white(quantised.convert("RGBA")))
    grey = base.convert("L")
    la = Image.merge("LA", (grey, Image.fromarray(alpha)))
    add("png-grey-alpha", save(la, root / "grey-alpha.png"), on_white(la))
    bilevel = grey.convert("1")  # Floyd–Steinberg dithered, as a scanner's 1-bit output
    add("png-1bit", save(bilevel, root / "one-bit.png"), bilevel)
    add("tiff-1bit-g4", save(bilevel, root / "fax.tif", compression="group4"), bilevel)
    cmyk = base.convert("CMYK")
    add("jpeg-cmyk", save(cmyk, root / "cmyk.jpg", quality=92), base)
    add("tiff-cmyk", save(cmyk, root / "cmyk.tif"), base)
    rgb16 = np.asarray(base).astype(np.uint16) * 257
    add("png-16bit-rgb", _png(root / "sixteen-bit-rgb.png", rgb16, 2), base)
    grey16 = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    add("png-16bit-grey", save(grey16, root / "sixteen-bit-grey.png"), grey)
    add("tiff-16bit-grey", save(grey16, root / "sixteen-bit-grey.tif"), grey)
    add("tiff-16bit-rgb", _tiff_rgb16(root / "sixteen-bit-rgb.tif", rgb16), base)
    add("png-interlaced", _png(root / "interlaced.png", np.asarray(base), 2, interlaced=True),
        base)
    # an animation whose frames restore to the background (disposal 2) over a transparent
    # colour: the first frame is the photo
    frames = [palette] + [picture(201 + i, ZOO_SIZE).quantize(64) for i in range(2)]
    add("gif-animated-disposal", save(frames[0], root / "animated.gif", save_all=True,
                                      append_images=frames[1:], duration=120, loop=0,
                                      disposal=2), palette)
    add("jpeg-progressive", save(base, root / "progressive.jpg", quality=90, progressive=True,
                                 optimize=True), base)
    webp = base.convert("RGBA")
    webp.putalpha(Image.fromarray(alpha))
    add("webp-lossless-alpha", save(webp, root / "lossless-alpha.webp", lossless=True),
        on_white(webp))
    add("bmp-palette", save(palette, root / "palette.bmp"), palette)
    return zoo


def _with_index_transparent(img: Image.Image, index: int) -> Image.Image:
    """A palette image with one palette index shown as transparent, in RGBA."""
    rgba = img.convert("RGBA")
    mask = np.asarray(img) == index
    pixels = np.asarray(rgba).copy()
    pixels[mask, 3] = 0
    return Image.fromarray(pixels, "RGBA")
